"""DER and its components at many collars, in one pass over each file.

Semantics are md-eval-22's, as in ``diarefine score --collar c``
(:mod:`diarefine.metrics.regions`): the collar ``c`` is *per side* (``[b - c, b + c]``
around every reference turn start and end ``b`` is not scored), the region is the UEM or
md-eval's default region, and ``skip_overlap`` is md-eval's ``-1`` with its quirk.

One pass per file:

1. The speaker mapping is computed once, as DER computes it at collar 0 (co-occurrence
   over the evaluated region; md-eval maps before collars, so it does not depend on the
   collar).
2. The scored region of every collar is built (for ``-1`` the overlap removal depends on
   the collar region, so it is replayed per collar, exactly as md-eval does), and one
   sweep is cut at all their bounds.
3. Per elementary interval the miss, false alarm, confusion and scored speaker counts
   are computed once; a (num_collars, num_intervals) membership matrix then gives every
   collar's components with one matrix product.

The result equals ``diarefine score --collar c`` for every ``c`` (to float rounding of
the sums; tested against md-eval itself as well).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

import numpy as np

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.errors import DiarefineWarning
from diarefine.metrics.der import DerComponents, map_speakers
from diarefine.metrics.mapping import mapping_indices
from diarefine.metrics.regions import scoring_regions
from diarefine.metrics.score import file_notes, paired_files
from diarefine.metrics.sweep import make_sweep

#: 0, 0.05, ..., 0.5 s per side
DEFAULT_COLLARS = tuple(round(0.05 * k, 2) for k in range(11))


@dataclass(frozen=True)
class FileCollarSweep:
    """One file: ``components[k]`` at collar ``collars[k]``."""

    uri: str
    mapping: dict[str, str]
    collars: tuple[float, ...]
    components: tuple[DerComponents, ...]


@dataclass(frozen=True)
class CollarSweepReport:
    """Per file and overall (summed components) at each collar."""

    collars: tuple[float, ...]
    files: dict[str, FileCollarSweep]
    overall: tuple[DerComponents, ...]
    skip_overlap: bool = False
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """JSON-ready rows ``{collar, der, miss, false_alarm, confusion, scored}``."""
        def rows(components: Sequence[DerComponents]) -> list[dict[str, float | None]]:
            return [_row(c, comp) for c, comp in zip(self.collars, components)]

        return {
            "settings": {"collars": list(self.collars), "skip_overlap": self.skip_overlap,
                         "collar_semantics": "per side (md-eval -c)"},
            "overall": rows(self.overall),
            "files": {uri: rows(f.components) for uri, f in sorted(self.files.items())},
            "notes": list(self.notes),
        }


def _row(collar: float, comp: DerComponents) -> dict[str, float | None]:
    values = {"collar": collar, "der": comp.der, "miss": comp.miss,
              "false_alarm": comp.false_alarm, "confusion": comp.confusion,
              "scored": comp.scored}
    return {k: (float(v) if math.isfinite(v) else None) for k, v in values.items()}


def check_collars(collars: Sequence[float]) -> tuple[float, ...]:
    """Collars as a tuple of floats; each must be finite and non-negative."""
    out = tuple(float(c) for c in collars)
    if not out or any(not math.isfinite(c) or c < 0 for c in out):
        raise ValueError(f"collars must be one or more non-negative seconds, got {collars}")
    return out


def sweep_file(reference: Annotation, hypothesis: Annotation, uem: Timeline | None = None,
               collars: Sequence[float] = DEFAULT_COLLARS,
               skip_overlap: bool = False) -> FileCollarSweep:
    """DER components of one file at every collar (see the module docstring)."""
    collars = check_collars(collars)
    evaluated = scoring_regions(reference, uem).evaluated
    base = make_sweep(reference, hypothesis, evaluated, evaluated)  # DER's own at collar 0
    mapping = map_speakers(base, base.inside(evaluated))
    scored = [scoring_regions(reference, uem, c, skip_overlap).scored for c in collars]
    sweep = make_sweep(reference, hypothesis, evaluated, *scored)
    ref_cols, hyp_cols = mapping_indices(mapping, sweep.ref_speakers, sweep.hyp_speakers)
    n_ref, n_sys = sweep.ref.sum(axis=1), sweep.hyp.sum(axis=1)
    n_map = (sweep.ref[:, ref_cols] & sweep.hyp[:, hyp_cols]).sum(axis=1)
    counts = np.stack([np.maximum(n_ref - n_sys, 0), np.maximum(n_sys - n_ref, 0),
                       np.minimum(n_ref, n_sys) - n_map, n_ref], axis=1)  # (n, 4)
    member = np.stack([sweep.inside(s) for s in scored]) if len(sweep.durations) else (
        np.zeros((len(collars), 0), dtype=bool))  # (num_collars, n)
    seconds = (member * sweep.durations) @ counts  # (num_collars, 4)
    components = tuple(DerComponents(*map(float, row)) for row in seconds)
    return FileCollarSweep(reference.uri, mapping, collars, components)


def collar_sweep(references: Mapping[str, Annotation], hypotheses: Mapping[str, Annotation],
                 uem: Mapping[str, Timeline] | None = None,
                 collars: Sequence[float] = DEFAULT_COLLARS,
                 skip_overlap: bool = False) -> CollarSweepReport:
    """Every reference uri at every collar; files matched as ``diarefine score`` does."""
    collars = check_collars(collars)
    notes = file_notes(references, hypotheses, uem)
    for note in notes:
        warnings.warn(note, DiarefineWarning, stacklevel=2)
    files = {ref.uri: sweep_file(ref, hyp, region, collars, skip_overlap)
             for ref, hyp, region in paired_files(references, hypotheses, uem)}
    overall = tuple(
        reduce(lambda a, b: a + b, (f.components[k] for f in files.values()), DerComponents())
        for k in range(len(collars)))
    return CollarSweepReport(collars, files, overall, skip_overlap, tuple(notes))
