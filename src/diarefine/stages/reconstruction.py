"""From per-chunk local activity and the speaker assignment to global frame activations.

1. ``count[t]``: the number of simultaneous speakers at frame ``t``. ``count="active"``:
   the rounded mean over the chunks covering ``t`` of their number of active local
   speakers (pyannote 3.1; active: above ``ChunkScores.threshold``). ``count="powerset"``
   (default): the chunks' probabilities of 0, 1, 2... simultaneous speakers
   (``ChunkScores.count_probs``) are averaged, and ``count[t]`` is 1 where P(>= 1)
   exceeds ``speech_threshold``, plus 1 for every further k where P(>= k) exceeds
   ``overlap_threshold``. Deciding speech and overlap each on its own probability keeps
   a doubtful second speaker from being counted as half a speaker by the rounding.
   With ``speech_off_threshold`` (``overlap_off_threshold``) each of those decisions has
   hysteresis: once on, it stays on until the probability falls below the lower
   threshold (:func:`hysteresis`).
2. ``data[t, s]``: the mean over those chunks of the activity of the local speaker(s)
   assigned to global speaker ``s`` (max if several, which the assignment forbids).

Chunk frame ``f`` of chunk ``c`` lands on global frame ``round((c*step + f*frame_step)/
frame_step)``; global frames use the chunk frame grid shifted to time 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from diarefine.config import ReconstructionConfig
from diarefine.stages.base import ChunkScores, FrameGrid, FrameScores

_DEFAULTS = ReconstructionConfig()  # one source of defaults: the measured ones


def global_frame_offsets(scores: ChunkScores) -> NDArray[np.int64]:
    """Global index of frame 0 of each chunk. (num_chunks,)"""
    starts = np.arange(scores.num_chunks) * scores.chunk_step
    return np.rint(starts / scores.frames.step).astype(np.int64)


def reconstruct(
    scores: ChunkScores, assignment: NDArray[np.int64], num_speakers: int,
    duration: float, max_count: int | None = None, weighting: str = _DEFAULTS.weighting,
    count: str = _DEFAULTS.count, speech_threshold: float = _DEFAULTS.speech_threshold,
    overlap_threshold: float = _DEFAULTS.overlap_threshold,
    speech_off_threshold: float | None = None, overlap_off_threshold: float | None = None,
) -> FrameScores:
    """scores (C, F, K) + assignment (C, K) -> FrameScores (T, S) over ``duration`` s.

    The keyword defaults are `ReconstructionConfig`'s (the pipeline's).
    ``weighting="hamming"`` weights each chunk's frames by a Hamming window when averaging,
    trusting the middle of a chunk (more context) over its edges.
    """
    counts, grid = speaker_count(scores, duration, max_count, weighting, count,
                                 speech_threshold, overlap_threshold, speech_off_threshold,
                                 overlap_off_threshold)
    offsets, weight, covered = _layout(scores, len(counts), weighting)
    num_frames = scores.data.shape[1]
    activity = np.zeros((len(counts), max(num_speakers, 0)), dtype=np.float64)
    for c in range(scores.num_chunks):
        window = slice(offsets[c], offsets[c] + num_frames)
        for k in np.flatnonzero(assignment[c] >= 0):
            s = assignment[c, k]
            activity[window, s] = activity[window, s] + weight * scores.data[c][:, k]
    return FrameScores((activity / covered[:, None]).astype(np.float32), counts, grid)


def speaker_count(
    scores: ChunkScores, duration: float, max_count: int | None = None,
    weighting: str = _DEFAULTS.weighting, count: str = _DEFAULTS.count,
    speech_threshold: float = _DEFAULTS.speech_threshold,
    overlap_threshold: float = _DEFAULTS.overlap_threshold,
    speech_off_threshold: float | None = None, overlap_off_threshold: float | None = None,
) -> tuple[NDArray[np.int64], FrameGrid]:
    """The number of simultaneous speakers at each global frame (step 1 above), and the
    global frame grid. Needs no clustering: known as soon as the segmentation is."""
    if count not in ("active", "powerset"):
        raise ValueError(f"count must be 'active' or 'powerset', not {count!r}")
    if count == "powerset" and scores.count_probs is None:
        raise ValueError("count='powerset' needs ChunkScores.count_probs")
    grid = scores.frames
    if count == "powerset":
        mean = count_probabilities(scores, duration, weighting)
        at_least = np.cumsum(mean[:, ::-1], axis=1)[:, ::-1]  # P(>= k)
        thresholds = np.full(at_least.shape[1] - 1, overlap_threshold)
        thresholds[0] = speech_threshold
        if speech_off_threshold is None and overlap_off_threshold is None:
            counts = (at_least[:, 1:] > thresholds[None, :]).sum(axis=1).astype(np.int64)
        else:
            offs = np.full(len(thresholds), overlap_threshold if overlap_off_threshold is None
                           else overlap_off_threshold)
            offs[0] = speech_threshold if speech_off_threshold is None else speech_off_threshold
            counts = sum(hysteresis(at_least[:, k + 1], thresholds[k], offs[k]).astype(np.int64)
                         for k in range(len(thresholds)))
    else:
        total = _total_frames(scores, duration)
        offsets, weight, covered = _layout(scores, total, weighting)
        summed = np.zeros(total, dtype=np.float64)
        active = scores.active
        for c in range(scores.num_chunks):
            summed[offsets[c]: offsets[c] + scores.data.shape[1]] += weight * active[c].sum(1)
        counts = np.rint(summed / covered).astype(np.int64)
    if max_count is not None:
        counts = np.minimum(counts, max_count)
    return counts, FrameGrid(0.0, grid.step, grid.duration)


def hysteresis(p: NDArray[np.float64], on: float, off: float) -> NDArray[np.bool_]:
    """Active where ``p > on``, and after that while ``p >= off`` (``off <= on``); inactive
    before the first frame above ``on``. (T,) -> (T,)"""
    marks = np.full(len(p), -1, dtype=np.int8)  # -1: keep the previous frame's state
    marks[p < off] = 0
    marks[p > on] = 1
    if len(p):
        marks[0] = max(marks[0], 0)
    last = np.maximum.accumulate(np.where(marks >= 0, np.arange(len(p)), 0))
    return marks[last] == 1


def count_probabilities(scores: ChunkScores, duration: float,
                        weighting: str = _DEFAULTS.weighting) -> NDArray[np.float64]:
    """The chunks' probabilities of 0, 1, ... M simultaneous speakers averaged at each
    global frame: (num_global_frames, M + 1), on the grid of `speaker_count`; a frame no
    chunk covers (past the end of the audio) has no speaker for sure."""
    if scores.count_probs is None:
        raise ValueError("the segmentation gave no count probabilities")
    total = _total_frames(scores, duration)
    offsets, weight, covered = _layout(scores, total, weighting)
    summed = np.zeros((total, scores.count_probs.shape[2]), dtype=np.float64)
    for c in range(scores.num_chunks):
        summed[offsets[c]: offsets[c] + scores.data.shape[1]] += \
            weight[:, None] * scores.count_probs[c]
    summed[summed.sum(axis=1) == 0, 0] = 1.0
    return summed / covered[:, None]


def _total_frames(scores: ChunkScores, duration: float) -> int:
    grid, num_frames = scores.frames, scores.data.shape[1]
    total = int(np.ceil((duration - grid.duration) / grid.step)) + 1 if duration > 0 else 0
    if scores.num_chunks:
        total = max(total, int(global_frame_offsets(scores)[-1]) + num_frames)
    return total


def _layout(scores: ChunkScores, total: int, weighting: str
            ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Each chunk's first global frame, the weight of a chunk's frames, and the summed
    weight over the chunks covering each of the ``total`` global frames (1 where none)."""
    num_frames = scores.data.shape[1]
    if weighting == "hamming":
        weight = np.hamming(num_frames) + 1e-3
    elif weighting == "uniform":
        weight = np.ones(num_frames)
    else:
        raise ValueError(f"weighting must be 'uniform' or 'hamming', not {weighting!r}")
    offsets = global_frame_offsets(scores)
    coverage = np.zeros(total, dtype=np.float64)
    for c in range(scores.num_chunks):
        coverage[offsets[c]: offsets[c] + num_frames] += weight
    return offsets, weight, np.where(coverage > 0, coverage, 1.0)
