"""Speaker embeddings of every (chunk, local speaker), overlapped frames excluded.

Masks: a local speaker's frames in a chunk, restricted to the frames where it talks alone
when those amount to at least ``min_speech`` seconds (pyannote 3.1's exclude-overlap rule).
A local speaker is *present* when it talks at all in the chunk and *reliable* (used to
build the clusters) when its mask holds ``min_speech`` seconds.

Two ways to embed (``EmbeddingConfig.mode``):

* ``"trunk"`` (default, fast): the CAM++ trunk (everything before statistics pooling) runs
  once over the speech of the recording (silences over 4 s skipped), in windows of at
  most 30 s with 2 s of context on each side, and each
  mask's weighted mean and standard deviation are accumulated window by window (sums of
  ``w x`` and ``w x^2``), so memory never holds the trunk output of the whole recording.
  Fbank mean removal is over the speech of the recording. Each audio second goes through
  the network once instead of ``10 / step`` times.
* ``"chunk"`` (reference): each 10 s chunk gets its own fbank mean removal and trunk.
  The clustering defaults were tuned with ``"trunk"``; with ``"chunk"`` the AHC threshold
  may need re-tuning (it finds 3 speakers in the two-speaker pyannote sample).

Weighted statistics follow CAM++'s pooling: mean and unbiased standard deviation with the
reliability-weights correction; fewer than two frames give a standard deviation of 0.01.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from diarefine.config import EmbeddingConfig
from diarefine.core.frames import FrameGrid
from diarefine.features.fbank import compute_fbank, subtract_mean
from diarefine.models import openvino_backend
from diarefine.models.campplus import CAMPPlus
from diarefine.models.graph_cache import or_torch, recover
from diarefine.models.pretrained import EmbeddingInfo
from diarefine.stages.base import ChunkEmbeddings, ChunkScores, Hook, no_hook
from diarefine.stages.windows import WindowPooler, pooled_stats

WINDOW = 3000  # fbank frames per trunk window (30 s)
MARGIN = 200  # fbank frames of context on each side (2 s)
STATS_ROWS = 4096  # (chunk, speaker) statistics turned into mean and std at a time


def speaker_masks(scores: ChunkScores, min_speech: float,
                  exclude_overlap: bool) -> tuple[NDArray, NDArray, NDArray]:
    """Frame weights, presence and reliability of every (chunk, local speaker).

    Returns masks (C, F, K) float32, present (C, K), reliable (C, K).
    """
    activity = scores.active.astype(np.float32)
    present = activity.any(axis=1)
    min_frames = min_speech / scores.frames.step
    masks = activity.copy()
    if exclude_overlap:
        clean = activity * (activity.sum(axis=2, keepdims=True) == 1)
        enough = clean.sum(axis=1) >= min_frames  # (C, K)
        masks = np.where(enough[:, None, :], clean, activity)
    reliable = masks.sum(axis=1) >= min_frames
    return masks.astype(np.float32), present, reliable


def _mean_where(features: NDArray[np.float32], rows: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Mean (1, D) of the rows of ``features`` (T, D) where ``rows`` (T,) holds (all rows if
    none does), summed in float64 without copying the selected rows."""
    if not rows.any():
        rows = np.ones(len(features), dtype=bool)
    mean = np.mean(features, axis=0, where=rows[:, None], dtype=np.float64, keepdims=True)
    return np.asarray(mean, dtype=np.float32)


class _Trunk(torch.nn.Module):
    def __init__(self, model: CAMPPlus) -> None:
        super().__init__()
        self.model = model

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        return self.model.trunk(fbank)


def fused_trunk(model: CAMPPlus) -> torch.nn.Module:
    """The trunk with every batch-norm that follows a convolution folded into it
    (torch.fx) and the 2-D convolutions' weights in channels-last layout (oneDNN's fast
    path on a CPU): about 25 % faster, equal to the plain trunk within 1e-4. ReLUs whose
    input has no other user run in place (exact; 5 % faster)."""
    from torch.fx.experimental.optimization import fuse

    graph_module = fuse(_Trunk(model).eval())
    for node in graph_module.graph.nodes:
        if node.op != "call_function" or node.target not in (torch.relu, F.relu):
            continue
        source = node.args[0]
        if isinstance(source, torch.fx.Node) and source.op != "placeholder" \
                and len(source.users) == 1:
            if node.target is torch.relu:
                node.target = torch.relu_
            else:
                node.kwargs = {**node.kwargs, "inplace": True}
    graph_module.recompile()
    return graph_module.to(memory_format=torch.channels_last)


def _tap(windows: Iterable[tuple[int, NDArray[np.float64]]], pooler: WindowPooler
         ) -> Iterator[tuple[int, NDArray[np.float64]]]:
    """The trunk blocks of ``windows``, each also given to ``pooler``."""
    for first, x in windows:
        pooler.add(first, x)
        yield first, x


def trunk_spans(needed: NDArray[np.bool_], window: int, bridge: int) -> list[tuple[int, int]]:
    """Runs of needed trunk frames, joined across gaps shorter than ``bridge`` frames and
    cut into pieces of at most ``window`` frames. Returns ``[(first, last + 1), ...]``."""
    padded = np.concatenate([[False], needed, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    runs: list[list[int]] = []
    for a, b in zip(edges[::2], edges[1::2]):
        if runs and a - runs[-1][1] < bridge:
            runs[-1][1] = int(b)
        else:
            runs.append([int(a), int(b)])
    return [(a, min(a + window, b)) for a, b in runs for a in range(a, b, window)]


@dataclass
class Embedder:
    model: CAMPPlus
    info: EmbeddingInfo
    config: EmbeddingConfig = EmbeddingConfig()
    device: str = "cpu"

    def __post_init__(self) -> None:
        self._trunk: Callable[[torch.Tensor], torch.Tensor] | None = None

    def trunk(self, fbank: torch.Tensor) -> torch.Tensor:
        """CAM++ trunk features (B, T, 80) -> (B, 512, ceil(T/2)), by the configured
        backend (torch: batch-norms folded when ``fuse``)."""
        if self._trunk is None:
            self._trunk = self._build_trunk()
        try:
            return self._trunk(fbank)
        except Exception as exc:  # noqa: BLE001  (any runtime failure)
            if not isinstance(self._trunk, openvino_backend.OpenVINOTrunk):
                raise
            # "auto": torch for this and every later call (a named backend raises)
            recover(exc, self.config.backend, "the CAM++ trunk failed on OpenVINO")
            self._trunk = self._torch_trunk()
            return self._trunk(fbank)

    def _torch_trunk(self) -> Callable[[torch.Tensor], torch.Tensor]:
        return fused_trunk(self.model) if self.config.fuse else self.model.trunk

    def _build_trunk(self) -> Callable[[torch.Tensor], torch.Tensor]:
        if openvino_backend.resolve(self.config.backend, self.device) == "openvino":
            # compiled for trunk_windows' longest window, context included; inputs too
            # short for OpenVINO (under 2 s) are cheap: the plain trunk
            return or_torch(lambda: openvino_backend.OpenVINOTrunk(
                                self.model, self.model.trunk, longest=WINDOW + 2 * MARGIN),
                            self._torch_trunk, self.config.backend,
                            "the CAM++ trunk cannot run on OpenVINO")
        return self._torch_trunk()

    def __call__(self, waveform: NDArray[np.float32], scores: ChunkScores,
                 hook: Hook = no_hook) -> ChunkEmbeddings:
        """waveform (num_samples,) + scores (C, F, K) -> ChunkEmbeddings (C, K, 192)."""
        return self.embed(self.features(waveform), scores, hook)

    def features(self, waveform: NDArray[np.float32]) -> NDArray[np.float32]:
        """The CAM++ input features of the whole recording, not yet mean-normalised:
        (T, 80) fbank. All :meth:`embed` needs of the audio: a caller that owns the
        samples can free them before the trunk runs (half their size is kept)."""
        return compute_fbank(waveform, self.info.fbank, mean_normalize=False)

    def embed(self, fbank: NDArray[np.float32], scores: ChunkScores,
              hook: Hook = no_hook, pooler: WindowPooler | None = None) -> ChunkEmbeddings:
        """:meth:`features` (T, 80) + scores (C, F, K) -> ChunkEmbeddings (C, K, 192).
        Normalises ``fbank`` in place (trunk mode). A ``pooler`` (:meth:`window_pooler`)
        is fed every trunk block as it is computed (trunk mode only)."""
        masks, present, reliable = speaker_masks(scores, self.config.min_speech,
                                                 self.config.exclude_overlap)
        num_chunks, _, local = masks.shape
        data = np.zeros((num_chunks, local, self.info.dimension), dtype=np.float32)
        if present.any():
            with torch.inference_mode():
                if self.config.mode == "chunk":
                    data = self._by_chunk(fbank, scores, masks, hook)
                elif self.config.mode == "trunk":
                    needed = self.needed_frames(scores, masks, len(fbank))
                    # mean over the speech only (digital silence has log-mel log(eps)),
                    # subtracted in place: one copy of the features in memory
                    speech = needed[np.arange(len(fbank)) // 2]
                    fbank -= _mean_where(fbank, speech)
                    windows = self.trunk_windows(fbank, needed)
                    if pooler is not None:
                        windows = _tap(windows, pooler)
                    data = self.pool_windows(windows, scores, masks, hook)
                else:
                    raise ValueError(f"unknown embedding mode {self.config.mode!r}")
        out = ChunkEmbeddings(data, present, reliable)
        hook("embeddings", out)
        return out

    def window_pooler(self, single: NDArray[np.bool_], grid: FrameGrid, num_fbank: int,
                      window: float, hop: float, min_speech: float) -> WindowPooler:
        """A :class:`WindowPooler` over the trunk frames of a recording of ``num_fbank``
        fbank frames, weighting the frames nearest to the ``single`` (T,) frames of
        ``grid`` (where one speaker talks); windows ``window`` s wide every ``hop`` s."""
        trunk = self.info.trunk_grid
        total_t = (num_fbank + 1) // 2
        weights = np.zeros(total_t, dtype=bool)
        if len(single):
            weights = single[grid.nearest(trunk.center(np.arange(total_t)), len(single))]
        half = int(round(window / 2 / trunk.step))
        step = max(1, int(round(hop / trunk.step)))
        return WindowPooler(weights.astype(np.float64), trunk, half, step, min_speech,
                            self.dense)

    def dense(self, stats: NDArray[np.float32]) -> NDArray[np.float32]:
        """CAM++'s embedding layer on pooled statistics: (N, 2C) -> (N, D)."""
        with torch.inference_mode():
            out = self.model.xvector.dense(torch.from_numpy(stats).to(self.device))
        return out.cpu().numpy().astype(np.float32)

    def _trunk_weights(self, scores: ChunkScores, masks: NDArray, c: int,
                       grid: FrameGrid, first: int, count: int) -> NDArray[np.float32]:
        """Weights (K, count) of trunk/fbank frames ``first..first+count-1`` for chunk c."""
        start = c * scores.chunk_step
        centers = grid.center(np.arange(first, first + count))
        seg = scores.frames.shifted(start)
        index = seg.nearest(centers, masks.shape[1])
        inside = (centers >= start) & (centers < start + scores.chunk_duration)
        return (masks[c, index, :] * inside[:, None]).T

    def trunk_windows(self, fbank: NDArray, needed: NDArray[np.bool_] | None = None
                      ) -> Iterator[tuple[int, NDArray[np.float64]]]:
        """CAM++ trunk over the recording, window by window: (first trunk frame, features
        (frames, channels)). ``fbank`` (T, 80) is mean-normalised over the recording.
        With ``needed`` (ceil(T/2),) only the trunk frames some mask uses are computed
        (with their context); silences of more than 4 s are skipped."""
        total_t = (len(fbank) + 1) // 2
        if needed is None:
            needed = np.ones(total_t, dtype=bool)
        for first_t, end_t in trunk_spans(needed[:total_t], WINDOW // 2, MARGIN):
            lo = max(0, 2 * first_t - MARGIN)
            hi = min(len(fbank), 2 * end_t + MARGIN)
            x = self.trunk(torch.from_numpy(fbank[None, lo:hi]).to(self.device))[0]
            skip = first_t - lo // 2
            yield first_t, x[:, skip: skip + end_t - first_t].double().cpu().numpy().T

    def needed_frames(self, scores: ChunkScores, masks: NDArray, num_fbank: int
                      ) -> NDArray[np.bool_]:
        """Trunk frames that carry weight in at least one mask. (ceil(T/2),)"""
        total_t = (num_fbank + 1) // 2
        needed = np.zeros(total_t, dtype=bool)
        grid = self.info.trunk_grid
        speech = masks.any(axis=2)  # (C, F)
        for c in np.flatnonzero(speech.any(axis=1)):
            start = c * scores.chunk_step
            frames = scores.frames.shifted(start).centers(speech.shape[1])[speech[c]]
            index = grid.nearest(frames, total_t)
            needed[index] = True
        # each segmentation frame (17 ms) may be nearest to no 20 ms trunk frame: close gaps
        return np.convolve(needed, np.ones(3), mode="same") > 0

    def pool_windows(self, windows: Iterable[tuple[int, NDArray[np.float64]]],
                     scores: ChunkScores, masks: NDArray, hook: Hook = no_hook
                     ) -> NDArray[np.float32]:
        """Masked statistics pooling of trunk windows, then the embedding layer.

        masks (C, F, K) -> embeddings (C, K, D)."""
        num_chunks, _, local = masks.shape
        s1 = s2 = None
        v1 = np.zeros(num_chunks * local)
        v2 = np.zeros_like(v1)
        grid = self.info.trunk_grid
        for first_t, x in windows:
            if s1 is None:
                s1, s2 = np.zeros((len(v1), x.shape[1])), np.zeros((len(v1), x.shape[1]))
            centers = grid.center(np.arange(first_t, first_t + len(x)))
            squares = x * x
            c_lo = max(0, int(np.floor((centers[0] - scores.chunk_duration)
                                       / scores.chunk_step)))
            c_hi = min(num_chunks, int(np.floor(centers[-1] / scores.chunk_step)) + 1)
            for c in range(c_lo, c_hi):
                # only the window's frames inside chunk c can carry its weights
                start = c * scores.chunk_step
                a, b = np.searchsorted(centers, [start, start + scores.chunk_duration])
                if a >= b:
                    continue
                w = self._trunk_weights(scores, masks, c, grid, first_t + a, b - a)
                rows = slice(c * local, (c + 1) * local)
                s1[rows] += w @ x[a:b]
                s2[rows] += w @ squares[a:b]
                v1[rows] += w.sum(axis=1)
                v2[rows] += (w * w).sum(axis=1)
            hook("progress/embedding", (c_hi, num_chunks))
        hook("progress/embedding", (num_chunks, num_chunks))
        if s1 is None:
            return np.zeros((num_chunks, local, self.info.dimension), dtype=np.float32)
        stats = np.empty((len(v1), 2 * s1.shape[1]), dtype=np.float32)
        for a in range(0, len(v1), STATS_ROWS):  # bounded temporaries on long recordings
            rows = slice(a, a + STATS_ROWS)
            stats[rows] = pooled_stats(s1[rows], s2[rows], v1[rows], v2[rows])
        return self.dense(stats).reshape(num_chunks, local, -1)

    def _by_chunk(self, fbank: NDArray, scores: ChunkScores, masks: NDArray,
                  hook: Hook) -> NDArray[np.float32]:
        num_chunks, _, local = masks.shape
        grid = self.info.fbank_grid
        per_chunk = int(round(scores.chunk_duration / grid.step)) - 2  # 998 frames of 10 s
        out = np.zeros((num_chunks, local, self.info.dimension), dtype=np.float32)
        batch = max(1, self.config.batch_size // local)
        for c0 in range(0, num_chunks, batch):
            feats, weights = [], []
            for c in range(c0, min(c0 + batch, num_chunks)):
                first = int(round(c * scores.chunk_step / grid.step))
                piece = fbank[first: first + per_chunk]
                piece = np.pad(piece, ((0, per_chunk - len(piece)), (0, 0)))
                w = self._trunk_weights(scores, masks, c, grid, first, per_chunk)
                feats += [subtract_mean(piece)] * local
                weights += list(w)
            emb = self.model.embed(torch.from_numpy(np.stack(feats)).to(self.device),
                                   torch.from_numpy(np.stack(weights)).to(self.device))
            n = len(feats) // local
            out[c0: c0 + n] = emb.cpu().numpy().reshape(n, local, -1)
            hook("progress/embedding", (min(c0 + batch, num_chunks), num_chunks))
        return out
