"""Boundary refinement: move the onsets and offsets of a diarization (see
:mod:`~diarefine.stages.refinement.edits` for the rules every refiner follows)."""

from __future__ import annotations

from pathlib import Path

from diarefine.config import REFINERS
from diarefine.stages.refinement.base import NoRefiner, Refiner, RefinerError, ShiftRefiner

__all__ = ["LEARNED", "NoRefiner", "Refiner", "RefinerError", "ShiftRefiner", "build_refiner",
           "refiner_file"]

#: The learned variants, by name; their checkpoints ship in ``diarefine/weights/refiners``.
LEARNED = tuple(name for name in REFINERS if name not in ("none", "shift"))
SHIPPED = Path(__file__).resolve().parents[2] / "weights" / "refiners"


def refiner_file(name: str) -> Path:
    """The shipped file of refiner ``name`` ("shift" or a learned variant)."""
    return SHIPPED / (f"{name}.json" if name == "shift" else f"{name}.safetensors")


def build_refiner(name: str = "none", abstain: float | None = None) -> Refiner:
    """A refiner by name ("none", "shift", a learned variant) or by file (a shift table
    ``.json`` or a learned checkpoint ``.safetensors``); ``abstain`` overrides a learned
    refiner's confidence threshold."""
    if name == "none":
        return NoRefiner()
    path = refiner_file(name) if name == "shift" or name in LEARNED else Path(name)
    if path.suffix == ".json":
        return ShiftRefiner.from_json(path)
    if path.suffix == ".safetensors":
        from diarefine.stages.refinement.learned import LearnedRefiner

        refiner = LearnedRefiner.load(path, abstain)
        if name in LEARNED:  # a shipped refiner goes by its name, e.g. transformer-activity
            refiner.name = name
        return refiner
    raise RefinerError(f"unknown refiner {name!r}: use 'none', 'shift', one of {LEARNED}, or "
                       f"the path of a .json shift table or a .safetensors checkpoint")
