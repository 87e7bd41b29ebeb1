"""Short-window embeddings streamed from trunk blocks, and the reassignment of
single-speaker frames by them. No model needed: the embedding layer is replaced by a
fixed linear map, and the expected values are written out from the definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diarefine.config import ConfigError, PipelineConfig, ReassignmentConfig
from diarefine.core.frames import FrameGrid
from diarefine.stages.base import FrameScores
from diarefine.stages.reassign import reassign, references
from diarefine.stages.windows import WindowEmbeddings, WindowPooler, pooled_stats

GRID = FrameGrid(0.0, 0.02, 0.025)  # trunk-like frames, 20 ms apart
RNG = np.random.default_rng(7)
PROJECTION = RNG.normal(size=(8, 3))  # 2 x 4 statistics -> 3-dim "embeddings"


def embed(stats: np.ndarray) -> np.ndarray:
    return (stats.astype(np.float64) @ PROJECTION).astype(np.float32)


def direct(x: np.ndarray, weights: np.ndarray, fed: np.ndarray, half: int, hop: int,
           min_frames: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every window straight from its definition: frames within ``half`` of its centre
    that were fed, weighted; kept with at least ``min_frames`` of weight."""
    times, data, speech = [], [], []
    for centre in range(0, len(x) + half, hop):
        idx = np.arange(max(0, centre - half), min(len(x), centre + half + 1))
        idx = idx[fed[idx]]
        w = weights[idx]
        if w.sum() < max(min_frames, 1e-9):
            continue
        s1, s2 = (w[:, None] * x[idx]).sum(0), (w[:, None] * x[idx] ** 2).sum(0)
        stats = pooled_stats(s1[None], s2[None], np.array([w.sum()]), np.array([(w * w).sum()]))
        times.append(GRID.center(centre))
        data.append(embed(stats)[0])
        speech.append(w.sum() * GRID.step)
    return np.array(times), np.array(data), np.array(speech)


@pytest.mark.parametrize("blocks", [
    [(0, 137)],                                  # one block
    [(0, 13), (13, 50), (50, 51), (51, 137)],    # cut anywhere, one of a single frame
    [(0, 40), (55, 90), (120, 137)],             # gaps: silences the trunk skipped
])
@pytest.mark.parametrize("half, hop", [(3, 2), (0, 1), (5, 5), (4, 7)])
def test_streamed_windows_equal_their_definition(blocks: list[tuple[int, int]], half: int,
                                                 hop: int) -> None:
    x = RNG.normal(size=(137, 4))
    weights = (RNG.random(137) < 0.7) * RNG.choice([1.0, 0.5], size=137)
    fed = np.zeros(137, dtype=bool)
    min_speech = 0.06 if half >= 3 else 0.01  # 3 frames' weight; 0.5 frame
    pooler = WindowPooler(weights, GRID, half, hop, min_speech=min_speech, embed=embed)
    for a, b in blocks:
        pooler.add(a, x[a:b])
        fed[a:b] = True
    got = pooler.result()
    times, data, speech = direct(x, weights, fed, half, hop, min_frames=min_speech / 0.02)
    assert isinstance(got, WindowEmbeddings) and len(times) > 5
    np.testing.assert_allclose(got.times, times, atol=1e-12)
    np.testing.assert_allclose(got.data, data, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got.speech, speech, atol=1e-12)


def test_finished_windows_are_dropped_as_blocks_arrive() -> None:
    """Memory holds only windows a later block can still reach."""
    pooler = WindowPooler(np.ones(1000), GRID, 25, 5, 0.3, embed)
    for a in range(0, 1000, 100):
        pooler.add(a, RNG.normal(size=(100, 4)))
        # open windows: centres j*5 with j*5 + 25 >= a + 100, up to (a + 99 + 25) // 5
        assert len(pooler._v1) <= 2 * 25 // 5 + 1
    # a window needs 15 frames (0.3 s): centres 0, 5, ... 1010 (frames 985-999, 15 of them)
    np.testing.assert_allclose(pooler.result().times, GRID.center(np.arange(0, 1011, 5)))


def test_pooler_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="half_width >= 0 and hop >= 1"):
        WindowPooler(np.ones(10), GRID, 2, 0, 0.1, embed)
    pooler = WindowPooler(np.ones(10), GRID, 2, 1, 0.1, embed)
    with pytest.raises(ValueError, match="weights for 10"):
        pooler.add(5, np.zeros((6, 4)))


# --- reassignment ---------------------------------------------------------------------------

E0, E1, E2 = np.eye(3)
FRAMES = FrameGrid(0.0, 0.1, 0.1)  # frame t centred at 0.1 t + 0.05


def hand_case(count_last: int = 1) -> tuple[FrameScores, WindowEmbeddings, np.ndarray]:
    """12 frames, 3 speakers. Frames 0-5: speaker 0 (0.9 / 0.1 / 0); 6-8: speaker 1
    (0.1 / 0.8 / 0); 9-11: speaker 0 weakly (0.6 / 0.4 / 0). Speaker 2 never wins.
    Windows on every frame centre: E0 on 0-5, E1 on 6-11. Chunk centroids E0, E1, E2."""
    data = np.array([[0.9, 0.1, 0.0]] * 6 + [[0.1, 0.8, 0.0]] * 3 + [[0.6, 0.4, 0.0]] * 3,
                    dtype=np.float32)
    count = np.ones(12, dtype=np.int64)
    count[11] = count_last
    windows = WindowEmbeddings(FRAMES.center(np.arange(12)),
                               np.array([E0] * 6 + [E1] * 6, dtype=np.float32),
                               np.full(12, 1.0))
    return FrameScores(data, count, FRAMES), windows, np.stack([E0, E1, E2])


def softmax(*values: float) -> list[float]:
    exps = [math.exp(v) for v in values]
    return [e / sum(exps) for e in exps]


def test_reassign_blends_the_windows_view_by_hand() -> None:
    scores, windows, centroids = hand_case(count_last=2)
    config = ReassignmentConfig(weight=0.5, temperature=0.5, confident=0.7)
    out = reassign(scores, windows, centroids, config)
    # references: speaker 0 has 6 sure windows (frames 0-5, activation 0.9 >= 0.7), all E0:
    # its reference is E0; speaker 1 has 3 (< 5): its centroid E1. Speaker 2 never wins a
    # frame: probability 0. Cosines: E0 windows (1, 0), E1 windows (0, 1); / 0.5 -> 2.
    p_same, p_other = softmax(2.0, 0.0)
    want = scores.data.astype(np.float64).copy()
    want[:6] = [0.5 * 0.9 + 0.5 * p_same, 0.5 * 0.1 + 0.5 * p_other, 0.0]
    want[6:9] = [0.5 * 0.1 + 0.5 * p_other, 0.5 * 0.8 + 0.5 * p_same, 0.0]
    want[9:11] = [0.5 * 0.6 + 0.5 * p_other, 0.5 * 0.4 + 0.5 * p_same, 0.0]
    # frame 11 has two speakers: left alone
    np.testing.assert_allclose(out.data, want, atol=1e-6)
    assert out.count is scores.count and out.frames == scores.frames
    # frames 9-10 change hands: 0.30 + 0.06 = 0.36 < 0.20 + 0.44 = 0.64
    assert np.argmax(out.data[9:11], axis=1).tolist() == [1, 1]


def test_reassign_leaves_frames_without_a_window_alone() -> None:
    scores, windows, centroids = hand_case()
    keep = np.arange(12) != 10  # no window with enough speech near frame 10
    windows = WindowEmbeddings(windows.times[keep], windows.data[keep], windows.speech[keep])
    out = reassign(scores, windows, centroids, ReassignmentConfig(hop=0.05))
    np.testing.assert_array_equal(out.data[10], scores.data[10])
    assert not np.allclose(out.data[9], scores.data[9])


@pytest.mark.parametrize("config", [ReassignmentConfig(weight=0.0), None])
def test_reassign_changes_nothing_when_off_or_with_one_live_speaker(
        config: ReassignmentConfig | None) -> None:
    scores, windows, centroids = hand_case()
    if config is None:  # only speaker 0 ever wins a frame
        data = scores.data.copy()
        data[:, 0] = 1.0
        scores = FrameScores(data, scores.count, scores.frames)
        config = ReassignmentConfig()
    assert reassign(scores, windows, centroids, config) is scores


def test_references_fall_back_to_the_centroid() -> None:
    scores, windows, centroids = hand_case()
    refs = references(windows.data.astype(np.float64), windows.times, scores, centroids, 0.7)
    np.testing.assert_allclose(refs, np.stack([E0, E1, E2]))
    # with a lower bar frames 9-11 (0.6) count too: speaker 0's windows are 6 x E0 + 3 x E1
    refs = references(windows.data.astype(np.float64), windows.times, scores, centroids, 0.5)
    np.testing.assert_allclose(refs[0], np.array([6, 3, 0]) / math.hypot(6, 3))


def test_reassignment_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="weight must lie in"):
        ReassignmentConfig(weight=1.5)
    with pytest.raises(ConfigError, match="hop must be > 0"):
        PipelineConfig.from_dict({"reassignment": {"hop": 0.0}})
    config = PipelineConfig.from_dict({"reassignment": {"weight": 0}})
    assert config.reassignment.weight == 0.0
