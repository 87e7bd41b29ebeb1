"""What each system boundary should have been, from a reference (numpy only).

`boundary_targets` matches the system's boundaries (`boundaries_of`) to the reference's
with DER's own speaker mapping and the `boundaries` analysis' one-to-one optimal matching
within ``tolerance`` (`~diarefine.metrics.boundary_matching.match_boundaries`): each
system boundary gets the signed correction ``reference time - system time`` or none
(spurious: no reference boundary of its mapped speaker and direction within tolerance).

`oracle_refine` is the ceiling of moving boundaries: every matched system boundary moved
exactly onto its reference boundary, nothing else changed. `activity_oracle` is the
ceiling of a refiner that also edits activity around the boundaries (as
`~diarefine.stages.refinement.activity` does): inside ``reach`` seconds of every system
boundary, each system speaker speaks exactly where the reference speaker that DER's
mapping gives it does (a speaker the mapping leaves out is silent there); outside,
nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation, Turn
from diarefine.core.timeline import Timeline
from diarefine.metrics.boundaries import in_region
from diarefine.metrics.boundary_matching import Boundary, extract_boundaries, match_boundaries
from diarefine.metrics.der import diarization_error
from diarefine.stages.refinement.activity import REACH
from diarefine.stages.refinement.edits import (
    CHANGE_GAP,
    JOIN_GAP,
    Boundaries,
    apply_moves,
    boundaries_of,
)
from diarefine.stages.refinement.features import RATE

TOLERANCE = 0.5  # seconds, as `diarefine boundaries`


@dataclass(frozen=True)
class BoundaryTargets:
    """Per system boundary (aligned with ``bounds``): ``offset`` (2N,) reference minus
    system time in seconds (NaN where unmatched), ``matched`` (2N,), ``in_region`` (2N,):
    the boundary lies in the evaluated region (the UEM), ``ref_kinds`` the matched
    reference boundary's kind ("" where unmatched)."""

    bounds: Boundaries
    offset: NDArray[np.float64]
    matched: NDArray[np.bool_]
    in_region: NDArray[np.bool_]
    ref_kinds: tuple[str, ...]


def boundary_targets(reference: Annotation, hypothesis: Annotation,
                     uem: Timeline | None = None, tolerance: float = TOLERANCE,
                     join_gap: float = JOIN_GAP, change_gap: float = CHANGE_GAP
                     ) -> BoundaryTargets:
    """Match every system boundary of ``hypothesis`` to ``reference`` (module docstring)."""
    der = diarization_error(reference, hypothesis, uem)
    bounds = boundaries_of(hypothesis, join_gap, change_gap)
    system = [Boundary(float(t), s, d, k) for t, s, d, k in
              zip(bounds.times, bounds.speakers, bounds.directions, bounds.kinds)]
    pairs = match_boundaries(extract_boundaries(reference, join_gap, change_gap), system,
                             der.mapping, tolerance)
    index = bounds.index()
    offset = np.full(len(bounds), np.nan)
    kinds = [""] * len(bounds)
    for p in pairs:
        if p.ref_time is not None and p.sys_time is not None:
            i = index[(str(p.sys_speaker), p.direction, p.sys_time)]
            offset[i] = p.ref_time - p.sys_time
            kinds[i] = str(p.ref_kind)
    region = der.regions.evaluated.bounds
    return BoundaryTargets(bounds, offset, ~np.isnan(offset), in_region(bounds.times, region),
                           tuple(kinds))


def oracle_refine(reference: Annotation, hypothesis: Annotation, uem: Timeline | None = None,
                  tolerance: float = TOLERANCE) -> Annotation:
    """``hypothesis`` with every matched boundary moved onto its reference boundary."""
    targets = boundary_targets(reference, hypothesis, uem, tolerance)
    moves = {int(i): float(targets.offset[i]) for i in np.flatnonzero(targets.matched)}
    return apply_moves(targets.bounds, moves)


def activity_oracle(reference: Annotation, hypothesis: Annotation, uem: Timeline | None = None,
                    reach: float = REACH * RATE) -> Annotation:
    """``hypothesis`` with its speakers' activity within ``reach`` seconds of each of its
    boundaries replaced by their mapped reference speakers' (module docstring)."""
    bounds = boundaries_of(hypothesis)
    if len(bounds) == 0:
        return hypothesis
    windows = Timeline([(max(0.0, t - reach), t + reach) for t in bounds.times])
    to_reference = {system: ref for ref, system in
                    diarization_error(reference, hypothesis, uem).mapping.items()}
    turns = []
    for speaker in hypothesis.speakers:
        mapped = to_reference.get(speaker)
        inside = (reference.speaker_timeline(mapped).intersection(windows) if mapped is not None
                  else Timeline())
        new = hypothesis.speaker_timeline(speaker).difference(windows).union(inside)
        turns += [Turn(seg.start, seg.end, speaker) for seg in new]
    return hypothesis.with_turns(turns)
