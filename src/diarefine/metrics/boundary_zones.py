"""How much of the DER sits near reference boundaries.

The DER of a file (collar 0, overlap scored, md-eval's region and mapping) is split by
the distance of each instant to the nearest reference boundary, where the boundaries are
every reference turn start and end, exactly those md-eval's collar removes. With radii
``r_1 < r_2 < ... < r_K`` (default 0.1, 0.25, 0.5 s) the zones are the rings

    ``[0, r_1]``, ``(r_1, r_2]``, ..., ``(r_{K-1}, r_K]`` and "elsewhere" (``> r_K``),

each instant going to the innermost ring that contains it, so the zones partition the
scored region and their components add up to the file's DER components. Zone ``k``
holds exactly what a collar of ``r_k`` removes beyond a collar of ``r_{k-1}``: the
components at collar ``r_k`` equal the sum of the zones outside ``r_k``.

Each zone reports its miss, false alarm and confusion speaker-seconds, its scored
reference speaker-seconds, and its wall-clock duration (``time``). Rates are over the
*whole* scored time, so the zones' DER points add up to the file's DER.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import reduce

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.metrics.der import DerComponents, components_on, safe_rate
from diarefine.metrics.mapping import mapping_indices
from diarefine.metrics.regions import collar_zones
from diarefine.metrics.sweep import Sweep, make_sweep

DEFAULT_RADII = (0.1, 0.25, 0.5)


@dataclass(frozen=True)
class Zone:
    """Instants whose distance to the nearest reference boundary is in ``(inner, outer]``
    (``[0, outer]`` for the first zone; ``outer`` is ``inf`` for "elsewhere")."""

    name: str
    inner: float
    outer: float
    components: DerComponents
    time: float

    def __add__(self, other: Zone) -> Zone:
        return Zone(self.name, self.inner, self.outer, self.components + other.components,
                    self.time + other.time)


@dataclass(frozen=True)
class ZoneBreakdown:
    """DER components split into zones around reference boundaries (see module doc)."""

    zones: tuple[Zone, ...]

    @property
    def total(self) -> DerComponents:
        return reduce(lambda a, b: a + b, (z.components for z in self.zones), DerComponents())

    @property
    def total_time(self) -> float:
        return sum(z.time for z in self.zones)

    def __add__(self, other: ZoneBreakdown) -> ZoneBreakdown:
        return ZoneBreakdown(tuple(a + b for a, b in zip(self.zones, other.zones)))

    def as_dict(self) -> dict[str, object]:
        """Per zone: components (s), ``der_points`` (% of all scored time), shares (0-1)."""
        total, total_time = self.total, self.total_time
        zones = []
        for z in self.zones:
            c = z.components
            zones.append({
                "name": z.name, "inner": z.inner, "outer": z.outer,
                "miss": c.miss, "false_alarm": c.false_alarm, "confusion": c.confusion,
                "scored": c.scored, "time": z.time,
                "der_points": 100 * safe_rate(c.errors, total.scored),
                "scored_share": safe_rate(c.scored, total.scored),
                "time_share": safe_rate(z.time, total_time),
            })
        return {"zones": zones, "total": {**asdict(total), "der": total.der, "time": total_time}}


def zone_names(radii: Sequence[float]) -> list[str]:
    edges = [0.0, *radii]
    names = [f"{a:g}-{b:g} s" for a, b in zip(edges, edges[1:])]
    return names + [f">{radii[-1]:g} s" if radii else "all"]


def _check_radii(radii: Sequence[float]) -> None:
    if any(r <= 0 for r in radii) or any(b <= a for a, b in zip(radii, radii[1:])):
        raise ValueError(f"zone radii must be positive and increasing, got {tuple(radii)}")


def zone_masks(sweep: Sweep, scored: NDArray[np.bool_],
               rings: Sequence[Timeline]) -> list[NDArray[np.bool_]]:
    """Boolean masks (n,) of the intervals of each zone: innermost ring first, the last
    one "elsewhere". ``rings``: the collar zones of increasing radius (bounds among the
    sweep's cuts)."""
    taken = np.zeros(len(scored), dtype=bool)
    masks = []
    for ring in rings:
        mask = scored & sweep.inside(ring) & ~taken
        taken |= mask
        masks.append(mask)
    masks.append(scored & ~taken)
    return masks


def der_near_boundaries(reference: Annotation, hypothesis: Annotation, mapping: dict[str, str],
                        evaluated: Timeline,
                        radii: Sequence[float] = DEFAULT_RADII) -> ZoneBreakdown:
    """The DER components of one file split into zones around reference boundaries.

    ``mapping`` (reference -> system) and ``evaluated`` come from DER
    (:func:`~diarefine.metrics.der.diarization_error`), so the zones add up to its
    components at collar 0 with overlap scored.
    """
    _check_radii(radii)
    rings = [collar_zones(reference, r) for r in radii]
    sweep = make_sweep(reference, hypothesis, evaluated, *rings)
    cols = mapping_indices(mapping, sweep.ref_speakers, sweep.hyp_speakers)
    masks = zone_masks(sweep, sweep.inside(evaluated), rings)
    edges = [0.0, *radii, math.inf]
    return ZoneBreakdown(tuple(
        Zone(name, edges[k], edges[k + 1], components_on(sweep, mask, *cols),
             float(sweep.durations @ mask))
        for k, (name, mask) in enumerate(zip(zone_names(radii), masks))
    ))


@dataclass(frozen=True)
class ErrorIntervals:
    """Intervals with some error, for pictures. Shapes: all (n,); the error columns
    count speakers (miss, false alarm, confusion) over ``[starts[k], ends[k])``."""

    starts: NDArray[np.float64]
    ends: NDArray[np.float64]
    miss: NDArray[np.int64]
    false_alarm: NDArray[np.int64]
    confusion: NDArray[np.int64]


def error_intervals(reference: Annotation, hypothesis: Annotation, mapping: dict[str, str],
                    evaluated: Timeline) -> ErrorIntervals:
    """Where DER (collar 0, overlap scored) counts an error, interval by interval."""
    sweep = make_sweep(reference, hypothesis, evaluated)
    ref_cols, hyp_cols = mapping_indices(mapping, sweep.ref_speakers, sweep.hyp_speakers)
    n_ref, n_sys = sweep.ref.sum(axis=1), sweep.hyp.sum(axis=1)
    n_map = (sweep.ref[:, ref_cols] & sweep.hyp[:, hyp_cols]).sum(axis=1)
    miss = np.maximum(n_ref - n_sys, 0)
    fa = np.maximum(n_sys - n_ref, 0)
    conf = np.minimum(n_ref, n_sys) - n_map
    keep = sweep.inside(evaluated) & ((miss + fa + conf) > 0) & (sweep.durations > 0)
    return ErrorIntervals(sweep.cuts[:-1][keep], sweep.cuts[1:][keep], miss[keep], fa[keep],
                          conf[keep])
