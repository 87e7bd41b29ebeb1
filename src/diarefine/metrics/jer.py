"""Jaccard error rate, as dscore (DIHARD II/III) defines it.

For each reference speaker, with the optimal mapping that *minimises the summed
Jaccard distances* (Hungarian algorithm), ``JER_ref = (FA + MISS) / |ref ∪ sys|``
= 1 - |ref ∩ sys| / |ref ∪ sys|, and 1 for an unmapped reference speaker. A file's JER
is the mean over its reference speakers; the overall JER is the mean over *all*
reference speakers of all files (not a mean of file JERs). Durations are counted on
10 ms frames (:mod:`diarefine.metrics.frames`). Empty sides follow dscore: no reference
and no system speech gives 0; only one of them gives 1 (100 %). pyannote.metrics maps
speakers by maximal overlap instead, so its JER can only be higher or equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class JerDetail:
    """Per-reference-speaker Jaccard errors of one file, and the system speaker count."""

    speaker_errors: tuple[float, ...]
    num_system_speakers: int

    @property
    def jer(self) -> float:
        if not self.speaker_errors:
            return 1.0 if self.num_system_speakers else 0.0
        return float(np.mean(self.speaker_errors))


def jer_detail(
    ref: NDArray[np.bool_],
    hyp: NDArray[np.bool_],
    weights: NDArray[np.int64] | None = None,
    mapping: str = "jaccard",
) -> JerDetail:
    """From labels ref (n, num_ref) and hyp (n, num_sys) of n frames, or of n intervals
    holding ``weights`` (n,) frames each. Speakers active in no frame are dropped.

    ``mapping="jaccard"`` (dscore, the default) minimises the summed Jaccard distances;
    ``mapping="overlap"`` maximises co-occurrence as DER and pyannote.metrics do.
    """
    if mapping not in ("jaccard", "overlap"):
        raise ValueError(f"mapping must be 'jaccard' or 'overlap', not {mapping!r}")
    w = np.ones(len(ref)) if weights is None else np.asarray(weights, dtype=np.float64)
    ref_f, hyp_f = ref.astype(np.float64), hyp.astype(np.float64)
    ref_frames, hyp_frames = w @ ref_f, w @ hyp_f
    ref_f, hyp_f = ref_f[:, ref_frames > 0], hyp_f[:, hyp_frames > 0]
    ref_frames, hyp_frames = ref_frames[ref_frames > 0], hyp_frames[hyp_frames > 0]
    num_ref, num_sys = len(ref_frames), len(hyp_frames)
    if num_ref == 0 or num_sys == 0:
        return JerDetail((1.0,) * num_ref, num_sys)
    intersect = ref_f.T @ (hyp_f * w[:, None])
    union = ref_frames[:, None] + hyp_frames[None, :] - intersect
    distance = 1.0 - intersect / union
    errors = np.ones(num_ref)
    if mapping == "jaccard":
        rows, cols = linear_sum_assignment(distance)
    else:
        rows, cols = linear_sum_assignment(intersect, maximize=True)
    errors[rows] = distance[rows, cols]
    return JerDetail(tuple(float(e) for e in errors), num_sys)


def overall_jer(details: Iterable[JerDetail]) -> float:
    """Mean over all reference speakers of all files (dscore's global JER)."""
    details = list(details)
    errors = [e for d in details for e in d.speaker_errors]
    if errors:
        return float(np.mean(errors))
    return 1.0 if any(d.num_system_speakers for d in details) else 0.0
