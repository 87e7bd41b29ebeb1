"""Short-window speaker embeddings along the recording, from the CAM++ trunk's frames.

The chunk embeddings describe a local speaker over up to 10 s; whether a given second
belongs to that speaker is left to the segmentation. These windows give a second,
independent opinion per second: every ``hop`` seconds, the trunk frames within
``half_width`` seconds of that point where exactly one speaker talks (the reconstruction's
speaker count, known before the clustering) are pooled like a chunk mask and go through
the embedding layer. `diarefine.stages.reassign` compares them with the speakers'
centroids.

The trunk runs once (for the chunk embeddings); :class:`WindowPooler` is fed the same
trunk blocks as they are computed and keeps only the windows still open, so memory holds
the finished windows' embeddings (192 floats each), never the trunk output of a whole
recording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from diarefine.core.frames import FrameGrid


@dataclass(frozen=True)
class WindowEmbeddings:
    """``times`` (N,) window centres in seconds, ``data`` (N, D) their embeddings and
    ``speech`` (N,) the seconds of single-speaker speech each pooled. Only windows with
    at least the pooler's ``min_speech`` are kept."""

    times: NDArray[np.float64]
    data: NDArray[np.float32]
    speech: NDArray[np.float64]


def pooled_stats(s1: NDArray, s2: NDArray, v1: NDArray, v2: NDArray,
                 eps: float = 1e-2) -> NDArray[np.float32]:
    """Mean and std from accumulated ``sum w x``, ``sum w x^2``, ``sum w``, ``sum w^2``.

    Shapes: s1, s2 (N, C); v1, v2 (N,) -> (N, 2C).
    """
    v1c = np.maximum(v1, 1e-8)[:, None]
    mean = s1 / v1c
    denom = (v1 - v2 / np.maximum(v1, 1e-8))[:, None]
    var = np.maximum(s2 - v1c * mean**2, 0.0) / np.maximum(denom, 1e-8)
    std = np.where(denom > 1e-6, np.sqrt(var), eps)
    return np.concatenate([mean, std], axis=1).astype(np.float32)


class WindowPooler:
    """Sliding-window weighted statistics of trunk frames, fed block by block.

    ``weights`` (num_trunk_frames,): each trunk frame's weight (1 where one speaker talks).
    Window ``j`` is centred on trunk frame ``j * hop`` and covers the frames at most
    ``half_width`` frames away. ``embed`` turns (N, 2C) pooled statistics into (N, D)
    embeddings. Blocks must come in time order and not overlap (gaps are allowed)."""

    def __init__(self, weights: NDArray[np.float64], grid: FrameGrid, half_width: int,
                 hop: int, min_speech: float,
                 embed: Callable[[NDArray[np.float32]], NDArray[np.float32]]) -> None:
        if half_width < 0 or hop < 1:
            raise ValueError(f"need half_width >= 0 and hop >= 1 (frames), got "
                             f"{half_width}, {hop}")
        self.weights = np.asarray(weights, dtype=np.float64)
        self.grid, self.half, self.hop = grid, half_width, hop
        self.min_frames = min_speech / grid.step
        self.embed_stats = embed
        self._first = 0  # index of the first open window
        self._s1 = self._s2 = np.zeros((0, 0))
        self._v1 = np.zeros(0)
        self._v2 = np.zeros(0)
        self._done: list[tuple[NDArray, NDArray, NDArray]] = []

    def add(self, first: int, x: NDArray[np.float64]) -> None:
        """Trunk frames ``first .. first + len(x) - 1``: x (frames, C)."""
        if len(x) == 0:
            return
        end = first + len(x)
        w = self.weights[first:end]
        if len(w) < len(x):
            raise ValueError(f"trunk frames up to {end} but weights for {len(self.weights)}")
        if self._s1.shape[1] != x.shape[1]:
            self._s1 = np.zeros((0, x.shape[1]))
            self._s2 = np.zeros((0, x.shape[1]))
        # windows j whose frames j*hop +- half meet [first, end)
        lo = max(self._first, -(-(first - self.half) // self.hop))
        hi = (end - 1 + self.half) // self.hop + 1
        self._grow(hi)
        if hi > lo:
            zeros = np.zeros((1, x.shape[1]))
            wx = w[:, None] * x
            c1 = np.concatenate([zeros, np.cumsum(wx, axis=0)])
            c2 = np.concatenate([zeros, np.cumsum(wx * x, axis=0)])
            cv1 = np.concatenate([[0.0], np.cumsum(w)])
            cv2 = np.concatenate([[0.0], np.cumsum(w * w)])
            centres = np.arange(lo, hi) * self.hop
            a = np.clip(centres - self.half - first, 0, len(x))
            b = np.clip(centres + self.half + 1 - first, 0, len(x))
            rows = slice(lo - self._first, hi - self._first)
            self._s1[rows] += c1[b] - c1[a]
            self._s2[rows] += c2[b] - c2[a]
            self._v1[rows] += cv1[b] - cv1[a]
            self._v2[rows] += cv2[b] - cv2[a]
        # windows ending before ``end`` see no later block: finish them
        self._finish((end - self.half - 1) // self.hop + 1)

    def result(self) -> WindowEmbeddings:
        """The embeddings of every window with enough speech (call after the last block)."""
        self._finish(self._first + len(self._v1))
        if self._done:
            times = np.concatenate([t for t, _, _ in self._done])
            data = np.concatenate([d for _, d, _ in self._done]).astype(np.float32)
            speech = np.concatenate([s for _, _, s in self._done])
            return WindowEmbeddings(times, data, speech)
        return WindowEmbeddings(np.zeros(0), np.zeros((0, 0), np.float32), np.zeros(0))

    def _grow(self, hi: int) -> None:
        missing = hi - (self._first + len(self._v1))
        if missing > 0:
            self._s1 = np.concatenate([self._s1, np.zeros((missing, self._s1.shape[1]))])
            self._s2 = np.concatenate([self._s2, np.zeros((missing, self._s2.shape[1]))])
            self._v1 = np.concatenate([self._v1, np.zeros(missing)])
            self._v2 = np.concatenate([self._v2, np.zeros(missing)])

    def _finish(self, upto: int) -> None:
        """Embed the open windows before index ``upto`` that have enough speech, and drop
        them all from the open ones."""
        n = min(max(upto - self._first, 0), len(self._v1))
        if n == 0:
            return
        keep = np.flatnonzero(self._v1[:n] >= max(self.min_frames, 1e-9))
        if len(keep):
            stats = pooled_stats(self._s1[keep], self._s2[keep], self._v1[keep],
                                 self._v2[keep])
            centres = (self._first + keep) * self.hop
            self._done.append((self.grid.center(centres).astype(np.float64),
                               self.embed_stats(stats), self._v1[keep] * self.grid.step))
        self._s1, self._s2 = self._s1[n:], self._s2[n:]
        self._v1, self._v2 = self._v1[n:], self._v2[n:]
        self._first += n
