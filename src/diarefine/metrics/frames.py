"""Frame counting for the frame-based metrics (JER, B3, MI, NMI), as dscore frames them.

dscore labels 10 ms frames: a frame is scored when its start time lies in the scoring
region, and a speaker is active in it when its start time lies in one of the speaker's
turns (no collar, no overlap removal). Between two consecutive cuts of a
:class:`~diarefine.metrics.sweep.Sweep` nothing changes, so instead of materialising
millions of frames we count how many frame starts fall in each elementary interval and
use those counts as weights: the result is identical and hundreds of times cheaper.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from diarefine.core.time import first_frame

DEFAULT_STEP = 0.01


def frame_counts(cuts: NDArray[np.float64], step: float = DEFAULT_STEP) -> NDArray[np.int64]:
    """Number of frame starts in each ``[cuts[k], cuts[k+1])``. Shape (len(cuts) - 1,)."""
    return np.diff(first_frame(cuts, step))


def label_codes(labels: NDArray[np.bool_]) -> NDArray[np.int64]:
    """One integer per row naming its label: non-speech, one speaker, or a set of them.

    labels: (n, num_speakers) booleans -> (n,) dense codes; equal rows, equal codes.
    """
    if labels.shape[1] == 0:
        return np.zeros(labels.shape[0], dtype=np.int64)
    return np.unique(labels, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
