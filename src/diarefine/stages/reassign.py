"""Which speaker talks where one does: the chunks' answer, corrected by short windows.

The reconstruction gives each frame the speakers whose (chunk, local speaker) was
assigned to them. Where the segmentation lumps two people into one local speaker of a
chunk, or a chunk's embedding lands in the wrong cluster, a whole stretch goes to the
wrong speaker. Short-window embeddings (`diarefine.stages.windows`, about 1 s around each
point) say who talks there independently of the chunks. Where exactly one speaker talks
and a window with enough speech covers the frame:

    activation[t, s] = (1 - weight) * activation[t, s] + weight * p[t, s]
    p[t, :] = softmax(cosine(window embedding, reference of s) / temperature)

over the speakers that win at least one frame of the reconstruction (a cluster that
never wins one stays out of the output, as before). A speaker's reference is the mean
of its unit-length window embeddings at frames where it alone talks with activation at
least ``confident`` (short windows sit apart from the 10 s chunk embeddings), or its
chunk centroid when fewer than ``MIN_WINDOWS`` such windows exist. The number of speakers
per frame (``count``) is left as it is.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from diarefine.config import ReassignmentConfig
from diarefine.stages.base import FrameScores
from diarefine.stages.clustering.common import l2_normalize
from diarefine.stages.windows import WindowEmbeddings

MIN_WINDOWS = 5


def reassign(scores: FrameScores, windows: WindowEmbeddings, centroids: NDArray,
             config: ReassignmentConfig = ReassignmentConfig()) -> FrameScores:
    """scores (T, S) with window embeddings (N, D) and the speakers' centroids (S, D) ->
    scores (T, S) with the single-speaker frames' activations blended as above."""
    data = scores.data
    num_speakers = data.shape[1]
    if config.weight == 0 or num_speakers < 2 or len(windows.times) == 0 or len(data) == 0:
        return scores
    single = scores.count == 1
    top = np.argmax(data, axis=1)
    alive = np.bincount(top[scores.count > 0], minlength=num_speakers) > 0
    if alive.sum() < 2:
        return scores
    # the window nearest each frame (window centres are sorted)
    centres = scores.frames.center(np.arange(len(data)))
    nearest = _nearest(windows.times, centres)
    covered = np.abs(windows.times[nearest] - centres) <= config.hop
    units = l2_normalize(windows.data)
    refs = references(units, windows.times, scores, centroids, config.confident)
    cosine = units @ refs.T  # (N, S)
    logits = np.where(alive[None, :], cosine / config.temperature, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    rows = single & covered
    out = data.astype(np.float64)
    out[rows] = (1 - config.weight) * out[rows] + config.weight * p[nearest[rows]]
    return FrameScores(out.astype(np.float32), scores.count, scores.frames)


def references(units: NDArray, times: NDArray, scores: FrameScores, centroids: NDArray,
               confident: float) -> NDArray[np.float64]:
    """Each speaker's reference direction for the window embeddings ``units`` (N, D)."""
    frames = scores.frames.nearest(times, len(scores.data))
    activation = scores.data[frames]
    top = np.argmax(activation, axis=1)
    sure = (scores.count[frames] == 1) & (activation.max(axis=1) >= confident)
    refs = l2_normalize(centroids)
    for s in range(len(refs)):
        mine = sure & (top == s)
        if mine.sum() >= MIN_WINDOWS:
            refs[s] = l2_normalize(units[mine].mean(axis=0, keepdims=True))[0]
    return refs


def _nearest(sorted_times: NDArray, times: NDArray) -> NDArray[np.int64]:
    right = np.clip(np.searchsorted(sorted_times, times), 0, len(sorted_times) - 1)
    left = np.clip(right - 1, 0, len(sorted_times) - 1)
    closer_left = np.abs(sorted_times[left] - times) < np.abs(sorted_times[right] - times)
    return np.where(closer_left, left, right).astype(np.int64)
