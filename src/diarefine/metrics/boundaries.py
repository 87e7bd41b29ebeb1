"""Boundary error analysis: where the system puts turn boundaries, against the reference.

Semantics (every choice here is a parameter of :class:`BoundarySettings`):

* **Mapping.** System speakers are mapped to reference speakers with DER's own mapping
  (md-eval-22: optimal one-to-one co-occurrence over the evaluated region, before
  collars; :func:`~diarefine.metrics.der.diarization_error`). Comparing raw speaker
  labels instead makes every boundary look wrong.
* **Joining.** Turns of one speaker separated by at most ``join_gap`` (default 0.1 s)
  are joined before boundaries are taken, on both sides alike
  (:meth:`~diarefine.core.annotation.Annotation.support`), so a short pause inside a
  speaker's speech makes no boundary. Touching or overlapping turns always join;
  zero-length turns make no boundary.
* **Boundaries and kinds.** Each joined turn gives an onset and an offset. A boundary is
  a speaker ``change`` when another speaker of the same side has a boundary of the
  opposite direction within ``+-change_gap`` (default 0.25 s; a short gap or a short
  overlap), else ``overlap`` when another speaker talks across it, else ``edge`` (a
  speech/non-speech edge); see :mod:`~diarefine.metrics.boundary_matching`.
* **Region.** Boundaries are matched over the whole file; a matched pair or a missed
  boundary then counts when its *reference* boundary lies in the evaluated region (the
  UEM, else md-eval's default region from the first to the last reference time; end
  points included), a spurious boundary when the system boundary does. So a system onset
  a little before the default region's start still matches the first reference onset,
  and a system boundary just inside a UEM edge is not spurious when it matches a
  reference boundary just outside.
* **Matching.** Reference and system boundaries of the same mapped speaker and the same
  direction (onset or offset) are matched one-to-one within ``tolerance`` (default
  0.5 s, inclusive), maximising the number of pairs, then minimising the total absolute
  error. Kind does not constrain matching unless ``match_kind``: kinds depend on the
  *other* speakers' boundaries, so one misplaced neighbour can flip a well-placed
  boundary from change to edge and would turn it into a miss plus a spurious boundary.
  Boundaries of unmapped reference speakers are all missed, those of unmapped system
  speakers all spurious.
* **Errors.** Signed error = system - reference (positive: the system is late). Per
  group: matched, missed, spurious counts; mean, median and 90th percentile (linear
  interpolation) of the absolute error in ms; the bias (mean signed error, ms); the share
  of matched boundaries within 50/100/200/500 ms (``within``, inclusive) and the share of
  *reference* boundaries matched within them (``hit_rate``). Split by kind, matched and
  missed boundaries count under the reference kind, spurious ones under the system kind.
  Over several files, errors are pooled over all boundaries (never a mean of file means).
* **DER near boundaries**: :mod:`~diarefine.metrics.boundary_zones`.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation
from diarefine.core.time import EPSILON
from diarefine.core.timeline import Timeline
from diarefine.errors import DiarefineWarning
from diarefine.metrics.boundary_matching import (
    DIRECTIONS,
    KINDS,
    MATCHED,
    MISSED,
    SPURIOUS,
    BoundaryPair,
    extract_boundaries,
    match_boundaries,
)
from diarefine.metrics.boundary_zones import DEFAULT_RADII, ZoneBreakdown, der_near_boundaries
from diarefine.metrics.der import diarization_error
from diarefine.metrics.score import file_notes, paired_files

__all__ = [
    "BoundaryPair", "BoundaryReport", "BoundarySettings", "BoundaryStats", "FileBoundaries",
    "analyze_boundaries", "analyze_file", "boundary_stats", "jsonable",
]


@dataclass(frozen=True)
class BoundarySettings:
    """Parameters of the analysis, in seconds (``buckets_ms`` in milliseconds)."""

    tolerance: float = 0.5
    join_gap: float = 0.1
    change_gap: float = 0.25
    match_kind: bool = False
    buckets_ms: tuple[int, ...] = (50, 100, 200, 500)
    radii: tuple[float, ...] = DEFAULT_RADII

    def __post_init__(self) -> None:
        for name in ("tolerance", "join_gap", "change_gap"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number of seconds, got {value}")


@dataclass(frozen=True)
class BoundaryStats:
    """Counts and error figures of a group of boundaries (see the module docstring)."""

    reference: int
    system: int
    matched: int
    missed: int
    spurious: int
    mean_abs_ms: float
    median_abs_ms: float
    p90_abs_ms: float
    bias_ms: float
    within: dict[int, float]
    hit_rate: dict[int, float]

    @property
    def recall(self) -> float:
        return self.matched / self.reference if self.reference else math.nan

    @property
    def precision(self) -> float:
        return self.matched / self.system if self.system else math.nan

    def as_dict(self) -> dict[str, object]:
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
                "recall": self.recall, "precision": self.precision}


def boundary_stats(pairs: Iterable[BoundaryPair],
                   buckets_ms: tuple[int, ...] = (50, 100, 200, 500)) -> BoundaryStats:
    """Figures of a group of pairs; NaN where undefined (no matched boundary)."""
    pairs = list(pairs)
    errors = np.array([p.error for p in pairs if p.status == MATCHED], dtype=np.float64)
    missed = sum(p.status == MISSED for p in pairs)
    spurious = sum(p.status == SPURIOUS for p in pairs)
    matched, absolute = len(errors), np.abs(errors)
    n_ref = matched + missed

    def figure(value: float) -> float:
        return 1000 * float(value) if matched else math.nan

    close = {x: int(np.sum(absolute <= x / 1000 + EPSILON)) for x in buckets_ms}
    return BoundaryStats(
        reference=n_ref, system=matched + spurious, matched=matched, missed=missed,
        spurious=spurious,
        mean_abs_ms=figure(absolute.mean() if matched else 0),
        median_abs_ms=figure(np.median(absolute) if matched else 0),
        p90_abs_ms=figure(np.percentile(absolute, 90) if matched else 0),
        bias_ms=figure(errors.mean() if matched else 0),
        within={x: c / matched if matched else math.nan for x, c in close.items()},
        hit_rate={x: c / n_ref if n_ref else math.nan for x, c in close.items()},
    )


def _split(pairs: tuple[BoundaryPair, ...], buckets_ms: tuple[int, ...]
           ) -> tuple[BoundaryStats, dict[str, BoundaryStats], dict[str, BoundaryStats]]:
    """Overall, by kind and by direction."""
    return (
        boundary_stats(pairs, buckets_ms),
        {k: boundary_stats((p for p in pairs if p.kind == k), buckets_ms) for k in KINDS},
        {d: boundary_stats((p for p in pairs if p.direction == d), buckets_ms)
         for d in DIRECTIONS},
    )


@dataclass(frozen=True)
class FileBoundaries:
    """The analysis of one recording: every boundary pair, figures, DER by zone."""

    uri: str
    mapping: dict[str, str]
    pairs: tuple[BoundaryPair, ...]
    stats: BoundaryStats
    by_kind: dict[str, BoundaryStats]
    by_direction: dict[str, BoundaryStats]
    zones: ZoneBreakdown
    evaluated: Timeline = field(repr=False, compare=False)

    def errors_ms(self) -> NDArray[np.float64]:
        """Signed errors of the matched pairs (n,), ms."""
        return 1000 * np.array([p.error for p in self.pairs if p.status == MATCHED], dtype=float)


@dataclass(frozen=True)
class BoundaryReport:
    """Per-file analyses and overall figures pooled over all files."""

    files: dict[str, FileBoundaries]
    overall: BoundaryStats
    by_kind: dict[str, BoundaryStats]
    by_direction: dict[str, BoundaryStats]
    zones: ZoneBreakdown
    settings: BoundarySettings
    notes: tuple[str, ...] = ()

    def pairs(self) -> list[BoundaryPair]:
        return [p for f in self.files.values() for p in f.pairs]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: times in seconds, errors in ms, shares as fractions, NaN -> None."""
        files = {
            uri: {"mapping": f.mapping, "stats": f.stats, "by_kind": f.by_kind,
                  "by_direction": f.by_direction, "zones": f.zones,
                  "evaluated": f.evaluated.bounds.tolist(), "pairs": f.pairs}
            for uri, f in sorted(self.files.items())
        }
        overall = {"stats": self.overall, "by_kind": self.by_kind,
                   "by_direction": self.by_direction, "zones": self.zones}
        out = jsonable({"settings": self.settings, "overall": overall, "files": files,
                        "notes": self.notes})
        assert isinstance(out, dict)
        return out


def jsonable(obj: object) -> object:
    """Plain JSON values: dataclasses (their ``as_dict`` when they have one, else their
    shown fields), mappings with string keys, lists; NaN and infinities become None."""
    if hasattr(obj, "as_dict") and not isinstance(obj, type):
        return jsonable(obj.as_dict())  # type: ignore[union-attr]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.repr}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def in_region(times: NDArray[np.float64], bounds: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether each time (n,) lies in one of the closed intervals ``bounds`` (m, 2)."""
    idx = np.searchsorted(bounds[:, 0], times, side="right") - 1
    inside = idx >= 0
    inside[inside] = times[inside] <= bounds[idx[inside], 1]
    return inside


def analyze_file(reference: Annotation, hypothesis: Annotation, uem: Timeline | None = None,
                 settings: BoundarySettings = BoundarySettings()) -> FileBoundaries:
    """Boundary errors and DER by zone of one recording (semantics: module docstring)."""
    der = diarization_error(reference, hypothesis, uem)
    bounds = der.regions.evaluated.bounds
    s = settings
    pairs = match_boundaries(extract_boundaries(reference, s.join_gap, s.change_gap),
                             extract_boundaries(hypothesis, s.join_gap, s.change_gap),
                             der.mapping, s.tolerance, s.match_kind)
    # p.time: the reference time, or the system time of a spurious boundary
    inside = in_region(np.array([p.time for p in pairs], dtype=float), bounds)
    pairs = tuple(p for p, keep in zip(pairs, inside) if keep)
    zones = der_near_boundaries(reference, hypothesis, der.mapping, der.regions.evaluated,
                                s.radii)
    return FileBoundaries(reference.uri, der.mapping, pairs, *_split(pairs, s.buckets_ms),
                          zones, der.regions.evaluated)


def analyze_boundaries(references: Mapping[str, Annotation],
                       hypotheses: Mapping[str, Annotation],
                       uem: Mapping[str, Timeline] | None = None,
                       settings: BoundarySettings = BoundarySettings()) -> BoundaryReport:
    """Analyse every reference uri; warns (DiarefineWarning) about file mismatches."""
    notes = file_notes(references, hypotheses, uem, "no system output; every reference boundary "
                       "missed", "system output without reference; not analysed")
    for note in notes:
        warnings.warn(note, DiarefineWarning, stacklevel=2)
    files = {ref.uri: analyze_file(ref, hyp, region, settings)
             for ref, hyp, region in paired_files(references, hypotheses, uem)}
    pairs = tuple(p for f in files.values() for p in f.pairs)
    zones = [f.zones for f in files.values()]
    total = reduce(lambda a, b: a + b, zones) if zones else der_near_boundaries(
        Annotation(""), Annotation(""), {}, Timeline(), settings.radii)
    return BoundaryReport(files, *_split(pairs, settings.buckets_ms), total, settings,
                          tuple(notes))
