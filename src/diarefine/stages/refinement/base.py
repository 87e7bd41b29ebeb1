"""The refiner protocol and the two refiners that need no model (numpy only).

A refiner takes a diarization and the recording's `RefinementContext` and returns the
diarization with moved boundaries (rules in :mod:`~diarefine.stages.refinement.edits`).
It never sees a reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from diarefine.core.annotation import Annotation
from diarefine.errors import DiarefineError
from diarefine.metrics.boundary_matching import DIRECTIONS, KINDS
from diarefine.stages.refinement.edits import apply_moves, boundaries_of, change_links
from diarefine.stages.refinement.features import RefinementContext


class RefinerError(DiarefineError):
    """A refiner that cannot be loaded or used."""


class Refiner(Protocol):
    name: str
    #: Whether the refiner reads the `RefinementContext` (a pipeline skips building it
    #: for one that does not).
    needs_context: bool

    def __call__(self, diarization: Annotation, context: RefinementContext | None
                 ) -> Annotation: ...


@dataclass(frozen=True)
class NoRefiner:
    """``"none"``: the diarization as it is."""

    name: str = "none"
    needs_context: bool = False

    def __call__(self, diarization: Annotation, context: RefinementContext | None = None
                 ) -> Annotation:
        return diarization


@dataclass(frozen=True)
class ShiftRefiner:
    """``"shift"``: every boundary moved by a constant (seconds) per (kind, direction),
    e.g. ``{("edge", "onset"): 0.05}``; change points move together (`apply_moves`)."""

    shifts: dict[tuple[str, str], float] = field(default_factory=dict)
    name: str = "shift"
    needs_context: bool = False

    def __call__(self, diarization: Annotation, context: RefinementContext | None = None
                 ) -> Annotation:
        bounds = boundaries_of(diarization)
        moves = {i: self.shifts.get((k, d), 0.0)
                 for i, (k, d) in enumerate(zip(bounds.kinds, bounds.directions))}
        return apply_moves(bounds, moves, change_links(bounds))

    def to_json(self) -> str:
        return json.dumps({"refiner": "shift", "shifts": {
            f"{k}/{d}": v for (k, d), v in sorted(self.shifts.items())}}, indent=1)

    @classmethod
    def from_json(cls, path: str | Path) -> ShiftRefiner:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            shifts = {tuple(key.split("/")): float(v) for key, v in data["shifts"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RefinerError(f"{path}: not a shift refiner table ({exc})") from None
        bad = [k for k in shifts if len(k) != 2 or k[0] not in KINDS or k[1] not in DIRECTIONS]
        if bad:
            raise RefinerError(f"{path}: unknown kind/direction {bad}; kinds {KINDS}, "
                               f"directions {DIRECTIONS}")
        return cls({(k[0], k[1]): v for k, v in shifts.items()})
