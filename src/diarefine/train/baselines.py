"""The cheap baseline every learned refiner must beat: a constant shift per boundary kind
and direction, fitted on the selection sets only.

For each (kind, direction) the shift is the median of the matched boundaries' corrections
(the constant with the least absolute error); a group's shift is then kept only if it
lowers the selection DER at collar 0 (groups tried one by one, largest first).
"""

from __future__ import annotations

import numpy as np

from diarefine.metrics.boundary_matching import DIRECTIONS, KINDS
from diarefine.stages.refinement.base import ShiftRefiner
from diarefine.stages.refinement.edits import boundaries_of
from diarefine.train.dataset import RefinerData
from diarefine.train.evaluate import der_of, refined_outputs

MIN_GROUP = 10  # matched boundaries needed to fit a group's shift


def groups_of(data: RefinerData) -> list[tuple[str, str]]:
    """(kind, direction) of each stored boundary, from its recording's system output."""
    out: list[tuple[str, str]] = [("", "")] * len(data)
    for r, rec in enumerate(data.recordings):
        bounds = boundaries_of(rec.system)
        for i in np.flatnonzero(data.recording == r):
            j = int(data.index[i])
            out[i] = (bounds.kinds[j], bounds.directions[j])
    return out


def shift_moves(data: RefinerData, shifts: dict[tuple[str, str], float]) -> np.ndarray:
    return np.array([shifts.get(g, 0.0) for g in groups_of(data)])


def fit_shift(select: RefinerData, log: object = print) -> ShiftRefiner:
    groups = np.array([f"{k}/{d}" for k, d in groups_of(select)])
    medians = {}
    for kind in KINDS:
        for direction in DIRECTIONS:
            rows = (groups == f"{kind}/{direction}") & select.matched
            if rows.sum() >= MIN_GROUP:
                medians[(kind, direction)] = float(np.median(select.offset[rows]))
    kept: dict[tuple[str, str], float] = {}
    best = der_of(select, refined_outputs(select, shift_moves(select, kept)))
    log(f"selection DER without shifts: {best:.2f} %")  # type: ignore[operator]
    for group, value in sorted(medians.items(), key=lambda kv: -abs(kv[1])):
        trial = {**kept, group: value}
        der = der_of(select, refined_outputs(select, shift_moves(select, trial)))
        log(f"  {group[0]}/{group[1]} {1000 * value:+.0f} ms: {der:.2f} %")  # type: ignore[operator]
        if der < best:
            kept, best = trial, der
    return ShiftRefiner(kept)
