"""Which time is scored: the UEM, md-eval's default region, collars and overlap.

Semantics (md-eval-22):

* **Default region.** Without a UEM line for a file, md-eval scores from the first
  reference onset to the last reference offset (zero-length turns included). dscore
  instead scores from min(reference, system) onset to max(reference, system) offset,
  and pyannote.metrics scores the union of both extents; both count system speech
  outside the reference extent as false alarm, md-eval does not.
* **Collar** ``c`` is *per side*: ``[b - c, b + c]`` around every reference turn
  boundary ``b`` is not scored (pyannote.metrics' ``collar`` is the total width 2c).
* **Skip overlap** (md-eval ``-1``) drops the time where two or more reference
  speakers talk, with one md-eval quirk kept on purpose so that figures agree: when two
  overlap zones touch (one speaker stops exactly where another starts while a third
  talks) and a UEM region ends inside the second zone, md-eval scores that second zone
  up to the region's end. :func:`remove_overlap_mdeval` replays md-eval's event loop.
* The optimal speaker mapping is computed on the UEM region *before* collars and
  overlap are removed (md-eval does this; pyannote.metrics maps on the reduced region).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline


@dataclass(frozen=True)
class ScoringRegions:
    """``evaluated``: where speakers are mapped; ``scored``: where errors count."""

    evaluated: Timeline
    scored: Timeline


def default_region(reference: Annotation) -> Timeline:
    """md-eval's region without a UEM: first reference onset to last reference offset."""
    extent = reference.extent()
    return Timeline([extent]) if extent is not None else Timeline()


def collar_zones(reference: Annotation, collar: float) -> Timeline:
    """``[b - collar, b + collar]`` around every reference turn start and end."""
    if collar <= 0:
        return Timeline()
    arrays = reference.arrays()
    bounds = np.concatenate([arrays.starts, arrays.ends])
    return Timeline.from_array(np.stack([bounds - collar, bounds + collar], axis=1))


def scoring_regions(
    reference: Annotation,
    uem: Timeline | None = None,
    collar: float = 0.0,
    skip_overlap: bool = False,
) -> ScoringRegions:
    if collar < 0:
        raise ValueError(f"collar must be non-negative, got {collar}")
    evaluated = uem if uem is not None else default_region(reference)
    scored = evaluated.difference(collar_zones(reference, collar))
    if skip_overlap:
        scored = remove_overlap_mdeval(scored, reference)
    return ScoringRegions(evaluated, scored)


def _overlap_zones(reference: Annotation) -> list[tuple[float, float]]:
    """md-eval's no-score zones for ``-1``: where two or more turns are active, with a
    zone closed and a new one opened when a turn ends exactly where another starts."""
    arrays = reference.arrays()
    keep = arrays.ends > arrays.starts
    events = sorted([(t, 1) for t in arrays.starts[keep]] + [(t, 0) for t in arrays.ends[keep]])
    zones, count, begin = [], 0, 0.0
    for t, is_begin in events:  # ends sort before begins at equal times
        if is_begin:
            count += 1
            if count == 2:
                begin = t
        else:
            count -= 1
            if count == 1:
                zones.append((float(begin), float(t)))
    return zones


def remove_overlap_mdeval(region: Timeline, reference: Annotation) -> Timeline:
    """``region`` without reference overlap, exactly as md-eval-22's
    ``exclude_overlapping_speech_from_uem`` computes it (quirk included)."""
    zone_events = [(t, is_begin, "N") for a, b in _overlap_zones(reference)
                   for t, is_begin in ((a, 1), (b, 0))]
    region_events = [(float(t), is_begin, "U") for a, b in region.bounds
                     for t, is_begin in ((a, 1), (b, 0))]
    events = sorted(zone_events + region_events, key=lambda e: (e[0], e[1]))
    kept, in_region, in_zone, evaluating, begin = [], 0, 0, False, 0.0
    for t, is_begin, kind in events:
        step = 1 if is_begin else -1
        if kind == "U":
            in_region += step
        else:
            in_zone += step
        if evaluating and (in_region == 0 or in_zone > 0) and t > begin:
            kept.append((begin, t))
            evaluating = False
        elif in_region > 0 and in_zone == 0:
            begin, evaluating = t, True
    return Timeline(kept)
