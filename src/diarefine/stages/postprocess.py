"""From global frame activations to speaker turns: binarisation and clean-up, one stage.

1. Keep, at each frame, the ``count[t]`` speakers with the highest activation (the
   estimated number of simultaneous speakers, pyannote 3.1's reconstruction), and any
   other speaker whose activation exceeds ``extra_threshold`` (off by default).
2. Optional median filter of ``median_filter`` frames along time on each speaker's 0/1
   track (DiariZen uses 11).
3. Runs of active frames become turns: a run of frames ``a..b-1`` spans from the centre of
   frame ``a`` minus half a step to the centre of frame ``b-1`` plus half a step.
4. Gaps shorter than ``min_duration_off`` inside a speaker's speech are filled, then turns
   shorter than ``min_duration_on`` are dropped.

The exclusive version keeps one speaker per frame: the most active of the selected ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import median_filter

from diarefine.core.annotation import Annotation, Turn
from diarefine.stages.base import FrameScores


@dataclass(frozen=True)
class PostProcessor:
    median_filter: int = 1
    min_duration_on: float = 0.0
    min_duration_off: float = 0.0
    #: Also keep, beyond the counted ones, every speaker whose activation exceeds this
    #: (1.0 disables it: the count alone decides).
    extra_threshold: float = 1.0

    def __call__(self, scores: FrameScores, uri: str, labels: list[str]
                 ) -> tuple[Annotation, Annotation]:
        """(diarization with overlap, exclusive diarization) of ``scores`` (T, S)."""
        binary = select_top_count(scores) | (scores.data > self.extra_threshold)
        if self.median_filter > 1 and len(binary):
            binary = median_filter(binary.astype(np.uint8), size=(self.median_filter, 1),
                                   mode="nearest").astype(bool)
        exclusive = binary & (np.arange(binary.shape[1])[None, :] == np.argmax(
            np.where(binary, scores.data, -np.inf), axis=1)[:, None]) if binary.size else binary
        return (self.turns(binary, scores, uri, labels),
                self.turns(exclusive, scores, uri, labels))

    def turns(self, binary: NDArray[np.bool_], scores: FrameScores, uri: str,
              labels: list[str]) -> Annotation:
        grid = scores.frames
        out = []
        for s in range(binary.shape[1]):
            runs = active_runs(binary[:, s])
            half = grid.step / 2
            spans = [(float(grid.center(a)) - half, float(grid.center(b - 1)) + half)
                     for a, b in runs]
            for start, end in self.clean(spans):
                out.append(Turn(max(0.0, start), end, labels[s]))
        return Annotation(uri, tuple(out))

    def clean(self, spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
        merged: list[tuple[float, float]] = []
        for start, end in spans:
            if merged and start - merged[-1][1] < self.min_duration_off:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return [(a, b) for a, b in merged if b - a >= self.min_duration_on]


def select_top_count(scores: FrameScores) -> NDArray[np.bool_]:
    """(T, S): at each frame the ``count[t]`` most active speakers (with activity > 0)."""
    data = scores.data
    if data.size == 0:
        return np.zeros(data.shape, dtype=bool)
    order = np.argsort(-data, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(data.shape[1])[None, :].repeat(len(data), 0), axis=1)
    return (ranks < scores.count[:, None]) & (data > 0)


def active_runs(track: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open index ranges ``[a, b)`` where ``track`` is True."""
    padded = np.concatenate([[False], track, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]
