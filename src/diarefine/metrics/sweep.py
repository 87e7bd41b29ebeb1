"""Cut a recording into elementary intervals over which no speaker changes state.

Every metric that works on exact times (DER, the collar sweep, boundary zones) starts
here: one sorted array of cut times, and for each interval between two cuts which
reference and which hypothesis speakers are active.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline


@dataclass(frozen=True)
class Sweep:
    """Elementary intervals ``[cuts[k], cuts[k+1])`` of one recording.

    Shapes: ``cuts`` (n+1,); ``ref`` (n, num_ref_speakers) and ``hyp``
    (n, num_hyp_speakers) booleans; ``ref_speakers``/``hyp_speakers`` name the columns.
    """

    cuts: NDArray[np.float64]
    ref: NDArray[np.bool_]
    hyp: NDArray[np.bool_]
    ref_speakers: tuple[str, ...]
    hyp_speakers: tuple[str, ...]

    @property
    def durations(self) -> NDArray[np.float64]:
        return np.diff(self.cuts)

    @property
    def mids(self) -> NDArray[np.float64]:
        return 0.5 * (self.cuts[:-1] + self.cuts[1:])

    def inside(self, region: Timeline) -> NDArray[np.bool_]:
        """Which intervals lie in ``region`` (whose bounds must be among the cuts)."""
        bounds = region.bounds
        mids = self.mids
        idx = np.searchsorted(bounds[:, 0], mids, side="right") - 1
        inside = idx >= 0
        inside[inside] = mids[inside] < bounds[idx[inside], 1]
        return inside


def _activity(annotation: Annotation, cuts: NDArray[np.float64]) -> NDArray[np.bool_]:
    """(n_intervals, n_speakers): whether each speaker talks in each interval."""
    arrays = annotation.arrays()
    counts = np.zeros((len(cuts), len(arrays.speakers)), dtype=np.int64)
    np.add.at(counts, (np.searchsorted(cuts, arrays.starts), arrays.speaker_index), 1)
    np.add.at(counts, (np.searchsorted(cuts, arrays.ends), arrays.speaker_index), -1)
    return np.cumsum(counts, axis=0)[:-1] > 0


def make_sweep(
    reference: Annotation, hypothesis: Annotation, *regions: Timeline
) -> Sweep:
    """Sweep of ``reference`` against ``hypothesis``, also cut at every region bound."""
    parts = [
        reference.arrays().starts, reference.arrays().ends,
        hypothesis.arrays().starts, hypothesis.arrays().ends,
        *(r.bounds.ravel() for r in regions),
    ]
    cuts = np.unique(np.concatenate(parts)) if parts else np.zeros(0)
    if len(cuts) < 2:
        cuts = np.zeros(1) if len(cuts) == 0 else cuts
        empty = (0,)
        return Sweep(cuts, np.zeros(empty + (len(reference.speakers),), bool),
                     np.zeros(empty + (len(hypothesis.speakers),), bool),
                     reference.speakers, hypothesis.speakers)
    return Sweep(cuts, _activity(reference, cuts), _activity(hypothesis, cuts),
                 reference.speakers, hypothesis.speakers)
