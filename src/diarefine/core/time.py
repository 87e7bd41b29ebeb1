"""The one time policy of diarefine.

Every public API speaks seconds (``float``). Integer sample and frame indices live
inside the stages and are converted here, and only here, with these rules:

* **seconds -> samples**: round half up, ``floor(t * sr + 0.5)``.
* **seconds -> frame index** on a grid of frames ``[start + i*step, start + (i+1)*step)``:
  a frame belongs to an interval ``[a, b)`` when its *start time* lies in ``[a, b)``
  (dscore's rule for its 10 ms frame labels). Quotients are snapped to the nearest
  integer when within ``SNAP`` of it, so that ``0.29 / 0.01`` (``28.999999999999996``
  in binary floating point) counts as frame 29, not 28.
* **files**: RTTM and UEM times are written with ``DECIMALS`` decimals (milliseconds).

Nothing else in the package rounds times; metrics work on exact float times.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Tolerance, in frames (or samples), under which a quotient is snapped to an integer.
SNAP = 1e-6
#: Decimals written for times in RTTM and UEM files.
DECIMALS = 3
#: Two times closer than this are the same instant when deciding whether turns of one
#: speaker overlap (md-eval-22's ``$epsilon``): ``onset + duration`` read from an RTTM
#: often ends a hair after the next turn's onset, and such turns merely touch.
EPSILON = 1e-8


def to_samples(seconds: float, sample_rate: int) -> int:
    """Sample index of a time, rounded half up."""
    return int(math.floor(seconds * sample_rate + 0.5))


def to_seconds(samples: int, sample_rate: int) -> float:
    """Time (s) of a sample index."""
    return samples / sample_rate


def first_frame(t: ArrayLike, step: float, start: float = 0.0) -> NDArray[np.int64]:
    """Index of the first frame whose start time is at or after ``t``.

    Shape: same as ``t``. This is the frame-index form of the half-open rule:
    an interval ``[a, b)`` covers frames ``first_frame(a) .. first_frame(b) - 1``.
    """
    q = (np.asarray(t, dtype=np.float64) - start) / step
    return np.ceil(q - SNAP).astype(np.int64)


def frame_start(index: ArrayLike, step: float, start: float = 0.0) -> NDArray[np.float64]:
    """Start time (s) of frame ``index``."""
    return start + np.asarray(index, dtype=np.float64) * step


def format_time(t: float, decimals: int = DECIMALS) -> str:
    """Time as written in RTTM/UEM files (fixed decimals, no negative zero)."""
    text = f"{t:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text
