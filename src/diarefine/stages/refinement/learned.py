"""A learned refiner in the pipeline: plain torch inference of a checkpoint (no training
code), abstaining where its confidence is below the threshold chosen on the selection sets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diarefine.core.annotation import Annotation
from diarefine.models.refiners.checkpoint import load_refiner
from diarefine.models.refiners.common import WindowSpec, predict
from diarefine.stages.refinement.base import RefinerError
from diarefine.stages.refinement.edits import Boundaries, apply_moves, boundaries_of, change_links
from diarefine.stages.refinement.features import (
    CHANNELS,
    HALF,
    NUM_FRAMES,
    RATE,
    RefinementContext,
    boundary_features,
)


@dataclass
class LearnedRefiner:
    model: torch.nn.Module
    variant: str
    abstain: float
    name: str = "learned"
    needs_context: bool = True
    batch_size: int = 256

    @classmethod
    def load(cls, path: str | Path, abstain: float | None = None) -> LearnedRefiner:
        model, variant, threshold, spec = load_refiner(path)
        expected = WindowSpec(NUM_FRAMES, len(CHANNELS), RATE, spec.static)
        if (spec.num_frames, spec.channels, spec.rate) != (NUM_FRAMES, len(CHANNELS), RATE) \
                or spec.centre != HALF:
            raise RefinerError(f"{path}: reads windows {spec}, this diarefine makes {expected}")
        return cls(model, variant, threshold if abstain is None else abstain, name=variant)

    def predict(self, frames: np.ndarray, static: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """(corrections in seconds, confidences) of windows (n, W, C) and static (n, S)."""
        return predict(self.model, frames, static, self.batch_size)

    def moves(self, bounds: Boundaries, context: RefinementContext) -> dict[int, float]:
        frames, static, _ = boundary_features(context, bounds)
        offset, confidence = self.predict(frames, static)
        return {int(i): float(offset[i]) for i in np.flatnonzero(confidence >= self.abstain)}

    def __call__(self, diarization: Annotation, context: RefinementContext | None
                 ) -> Annotation:
        if context is None:
            raise RefinerError(f"the {self.variant} refiner needs the recording's context")
        bounds = boundaries_of(diarization)
        if len(bounds) == 0:
            return diarization
        return apply_moves(bounds, self.moves(bounds, context), change_links(bounds))
