"""The trunk-mode pooling: masked statistics accumulated window by window.

A randomly initialised small CAM++ stands in for the pretrained one (the pooling does not
depend on the weights), so these tests need no model files.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import diarefine.stages.embedding as embedding
from diarefine.core.frames import FrameGrid
from diarefine.models.campplus import CAMPPlus
from diarefine.models.pretrained import EmbeddingInfo
from diarefine.stages.base import ChunkScores
from diarefine.stages.embedding import Embedder, _mean_where, speaker_masks

SEG_GRID = FrameGrid(start=0.0, step=0.016875, duration=0.0619375)
TRUNK_GRID = FrameGrid(start=-0.5, step=0.02, duration=1.025)


def _embedder() -> Embedder:
    torch.manual_seed(0)
    model = CAMPPlus(blocks=((2, 3, 1), (2, 3, 2), (2, 3, 2)), head_blocks=1).eval()
    info = EmbeddingInfo(path=None, sample_rate=16000, dimension=model.embedding_size,
                         trunk_grid=TRUNK_GRID)
    return Embedder(model, info)


def _channels(embedder: Embedder) -> int:
    return embedder.model.trunk_channels


def _scores(num_chunks: int, step: float, seed: int) -> ChunkScores:
    rng = np.random.default_rng(seed)
    data = (rng.random((num_chunks, 589, 3)) > 0.55).astype(np.float32)
    data[:, :, 2] = 0.0  # a local speaker who never talks
    return ChunkScores(data, step, 10.0, SEG_GRID, 0.5)


def _direct(embedder: Embedder, x: np.ndarray, scores: ChunkScores,
            masks: np.ndarray) -> np.ndarray:
    """Weighted mean and unbiased weighted std of every mask over all trunk frames at
    once, written out plainly, then the embedding layer."""
    num_chunks, _, local = masks.shape
    stats = np.zeros((num_chunks * local, 2 * x.shape[1]))
    for c in range(num_chunks):
        w = embedder._trunk_weights(scores, masks, c, TRUNK_GRID, 0, len(x))
        for k in range(local):
            v1, v2 = w[k].sum(), (w[k] ** 2).sum()
            if v1 <= 0:
                stats[c * local + k, x.shape[1]:] = 1e-2
                continue
            mean = (w[k] @ x) / v1
            var = (w[k] @ (x - mean) ** 2) / (v1 - v2 / v1)
            stats[c * local + k] = np.concatenate([mean, np.sqrt(var)])
    with torch.inference_mode():
        out = embedder.model.xvector.dense(torch.from_numpy(stats).float()).numpy()
    return out.reshape(num_chunks, local, -1)


@pytest.mark.parametrize("step", [2.5, 1.0])
def test_pooling_equals_direct_weighted_statistics(step: float) -> None:
    embedder = _embedder()
    scores = _scores(num_chunks=5, step=step, seed=1)
    masks, _, _ = speaker_masks(scores, 0.5, True)
    duration = 10.0 + 4 * step
    rng = np.random.default_rng(2)
    x = rng.normal(size=(int(duration / TRUNK_GRID.step) + 1, _channels(embedder))) + 3.0
    with torch.inference_mode():
        pooled = embedder.pool_windows([(0, x)], scores, masks)
    direct = _direct(embedder, x, scores, masks)
    np.testing.assert_allclose(pooled, direct, rtol=1e-4, atol=1e-4)
    # the silent local speaker pooled nothing: every one of its embeddings is the same
    np.testing.assert_allclose(pooled[:, 2], np.broadcast_to(pooled[0, 2], pooled[:, 2].shape),
                               atol=1e-6)


def test_pooling_does_not_depend_on_how_the_frames_are_cut_into_windows() -> None:
    embedder = _embedder()
    scores = _scores(num_chunks=9, step=2.5, seed=3)
    masks, _, _ = speaker_masks(scores, 0.5, True)
    x = np.random.default_rng(4).normal(size=(1600, _channels(embedder)))
    with torch.inference_mode():
        whole = embedder.pool_windows([(0, x)], scores, masks)
        for cuts in ([700], [1, 499, 500, 1599], [123, 1000, 1400]):
            edges = [0, *cuts, len(x)]
            windows = [(a, x[a:b]) for a, b in zip(edges[:-1], edges[1:])]
            np.testing.assert_allclose(embedder.pool_windows(windows, scores, masks), whole,
                                       rtol=1e-5, atol=1e-5, err_msg=f"cuts {cuts}")


def test_statistics_taken_in_blocks_of_rows_equal_all_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = _embedder()
    scores = _scores(num_chunks=9, step=2.5, seed=5)
    masks, _, _ = speaker_masks(scores, 0.5, True)
    x = np.random.default_rng(6).normal(size=(1600, _channels(embedder)))
    with torch.inference_mode():
        whole = embedder.pool_windows([(0, x)], scores, masks)
        monkeypatch.setattr(embedding, "STATS_ROWS", 4)  # 27 rows: 7 blocks, the last of 3
        blocks = embedder.pool_windows([(0, x)], scores, masks)
    np.testing.assert_array_equal(blocks, whole)


def test_mean_where_is_the_mean_of_the_selected_rows_or_of_all() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(loc=-8.0, size=(3001, 80)).astype(np.float32)
    rows = rng.random(3001) > 0.4
    np.testing.assert_allclose(_mean_where(x, rows)[0], x[rows].astype(np.float64).mean(0),
                               rtol=1e-6)
    np.testing.assert_allclose(_mean_where(x, np.zeros(3001, bool))[0],
                               x.astype(np.float64).mean(0), rtol=1e-6)
    assert _mean_where(x, rows).shape == (1, 80) and _mean_where(x, rows).dtype == np.float32


def test_embed_of_features_equals_the_call_on_samples() -> None:
    embedder = _embedder()
    scores = _scores(num_chunks=3, step=2.5, seed=8)
    samples = np.random.default_rng(9).normal(scale=0.1, size=15 * 16000).astype(np.float32)
    features = embedder.features(samples)
    assert features.shape == (1498, 80)
    with torch.inference_mode():
        direct = embedder(samples, scores)
        split = embedder.embed(features.copy(), scores)
    np.testing.assert_array_equal(split.data, direct.data)
    np.testing.assert_array_equal(split.present, direct.present)
