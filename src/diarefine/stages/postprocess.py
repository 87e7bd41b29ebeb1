"""From global frame activations to speaker turns: binarisation and clean-up, one stage.

1. Keep, at each frame, the ``count[t]`` speakers with the highest activation (the
   estimated number of simultaneous speakers, pyannote 3.1's reconstruction), and any
   other speaker whose activation exceeds ``extra_threshold`` (off by default).
2. Optional median filter of ``median_filter`` frames along time on each speaker's 0/1
   track (DiariZen uses 11).
3. On each speaker's track, gaps shorter than ``min_duration_off`` are filled, then runs
   shorter than ``min_duration_on`` are dropped (a run of ``n`` frames lasts ``n * step``).
4. Runs of active frames become turns: a run of frames ``a..b-1`` spans from the centre of
   frame ``a`` minus half a step to the centre of frame ``b-1`` plus half a step.

The exclusive version keeps, at each frame of the cleaned tracks, one speaker: the most
active of the selected ones (so it never overlaps); its runs shorter than
``min_duration_on`` are dropped too.
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
        step = scores.frames.step
        binary = np.stack([self.clean(binary[:, s], step) for s in range(binary.shape[1])],
                          axis=1) if binary.size else binary
        exclusive = binary & (np.arange(binary.shape[1])[None, :] == np.argmax(
            np.where(binary, scores.data, -np.inf), axis=1)[:, None]) if binary.size else binary
        for s in range(exclusive.shape[1]):  # no gap filling here: it would overlap
            for a, b in active_runs(exclusive[:, s]):
                if (b - a) * step < self.min_duration_on:
                    exclusive[a:b, s] = False
        return (to_annotation(binary, scores, uri, labels),
                to_annotation(exclusive, scores, uri, labels))

    def clean(self, track: NDArray[np.bool_], step: float) -> NDArray[np.bool_]:
        """One speaker's 0/1 frames with short gaps filled, then short runs removed."""
        out = track.copy()
        runs = active_runs(track)
        for (_, b), (a, _) in zip(runs, runs[1:]):
            if (a - b) * step < self.min_duration_off:
                out[b:a] = True
        for a, b in active_runs(out):
            if (b - a) * step < self.min_duration_on:
                out[a:b] = False
        return out


def to_annotation(binary: NDArray[np.bool_], scores: FrameScores, uri: str,
                  labels: list[str]) -> Annotation:
    """Turns of the runs of active frames of each speaker (binary (T, S))."""
    grid = scores.frames
    half = grid.step / 2
    out = []
    for s in range(binary.shape[1]):
        for a, b in active_runs(binary[:, s]):
            start = float(grid.center(a)) - half
            out.append(Turn(max(0.0, start), float(grid.center(b - 1)) + half, labels[s]))
    return Annotation(uri, tuple(out))


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
