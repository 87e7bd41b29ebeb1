"""Diarization error rate, computed as NIST md-eval-22 computes it.

Per elementary interval of duration ``d`` inside the scored region, with ``N_ref``
reference and ``N_sys`` system speakers talking and ``N_map`` mapped pairs both talking
(md-eval-22 ``score_speaker_segments``)::

    scored     += d * N_ref
    miss       += d * max(N_ref - N_sys, 0)
    false_alarm+= d * max(N_sys - N_ref, 0)
    confusion  += d * (min(N_ref, N_sys) - N_map)

DER = (miss + false_alarm + confusion) / scored. The mapping is the one-to-one
reference-to-system mapping maximising co-occurrence over the *evaluated* region
(UEM, before collars and overlap removal), see :mod:`diarefine.metrics.regions`.
Over several files the components are summed; the overall DER is never a mean of
per-file rates.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.metrics.mapping import mapping_indices, optimal_mapping
from diarefine.metrics.regions import ScoringRegions, scoring_regions
from diarefine.metrics.sweep import Sweep, make_sweep


def safe_rate(errors: float, total: float) -> float:
    """``errors / total``; 0/0 is 0 and x/0 is 1 (dscore's convention for empty references)."""
    if total > 0:
        return errors / total
    return 0.0 if errors <= 0 else 1.0


@dataclass(frozen=True)
class DerComponents:
    """Speaker-seconds of each error kind and of scored reference speech."""

    miss: float = 0.0
    false_alarm: float = 0.0
    confusion: float = 0.0
    scored: float = 0.0

    def __add__(self, other: DerComponents) -> DerComponents:
        return DerComponents(*(getattr(self, f.name) + getattr(other, f.name)
                               for f in fields(self)))

    @property
    def errors(self) -> float:
        return self.miss + self.false_alarm + self.confusion

    @property
    def der(self) -> float:
        return safe_rate(self.errors, self.scored)


@dataclass(frozen=True)
class DerResult:
    """DER components of one file, with the mapping and regions that produced them."""

    components: DerComponents
    mapping: dict[str, str]
    regions: ScoringRegions
    sweep: Sweep = field(repr=False, compare=False)


def interval_counts(sweep: Sweep, ref_cols: np.ndarray, hyp_cols: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per interval: reference speakers, system speakers, and mapped pairs both talking
    (``N_ref``, ``N_sys``, ``N_map``), each (n,)."""
    n_map = (sweep.ref[:, ref_cols] & sweep.hyp[:, hyp_cols]).sum(axis=1)
    return sweep.ref.sum(axis=1), sweep.hyp.sum(axis=1), n_map


def components_on(sweep: Sweep, scored: np.ndarray, ref_cols: np.ndarray,
                  hyp_cols: np.ndarray) -> DerComponents:
    """DER components over the intervals selected by the boolean mask ``scored`` (n,)."""
    d = sweep.durations * scored
    n_ref, n_sys, n_map = interval_counts(sweep, ref_cols, hyp_cols)
    return DerComponents(
        miss=float(d @ np.maximum(n_ref - n_sys, 0)),
        false_alarm=float(d @ np.maximum(n_sys - n_ref, 0)),
        confusion=float(d @ (np.minimum(n_ref, n_sys) - n_map)),
        scored=float(d @ n_ref),
    )


def map_speakers(sweep: Sweep, evaluated: np.ndarray) -> dict[str, str]:
    """md-eval's mapping: maximal co-occurrence over the intervals in ``evaluated``.

    Exact ties are broken by the speakers' first active time, not by their labels, so
    that relabelling the system never changes the mapping.
    """
    d = sweep.durations * evaluated
    overlap = sweep.ref.T.astype(np.float64) @ (sweep.hyp * d[:, None])
    rows = _by_first_activity(sweep.ref)
    cols = _by_first_activity(sweep.hyp)
    return optimal_mapping(overlap[np.ix_(rows, cols)],
                           tuple(sweep.ref_speakers[i] for i in rows),
                           tuple(sweep.hyp_speakers[j] for j in cols))


def _by_first_activity(active: np.ndarray) -> np.ndarray:
    """Column order by first active interval (never-active columns last)."""
    if active.shape[0] == 0:
        return np.arange(active.shape[1])
    first = np.where(active.any(axis=0), active.argmax(axis=0), len(active))
    return np.argsort(first, kind="stable")


def diarization_error(
    reference: Annotation,
    hypothesis: Annotation,
    uem: Timeline | None = None,
    collar: float = 0.0,
    skip_overlap: bool = False,
) -> DerResult:
    """DER components of one file (see the module docstring for the semantics)."""
    regions = scoring_regions(reference, uem, collar, skip_overlap)
    # The mapping is computed on a sweep cut only where speakers or the evaluated region
    # change, so that it never depends on the collar (not even through rounding).
    map_sweep = make_sweep(reference, hypothesis, regions.evaluated)
    mapping = map_speakers(map_sweep, map_sweep.inside(regions.evaluated))
    sweep = (map_sweep if regions.scored == regions.evaluated
             else make_sweep(reference, hypothesis, regions.evaluated, regions.scored))
    cols = mapping_indices(mapping, sweep.ref_speakers, sweep.hyp_speakers)
    components = components_on(sweep, sweep.inside(regions.scored), *cols)
    return DerResult(components, mapping, regions, sweep)
