"""A learned refiner in the pipeline: plain torch inference of a checkpoint (no training
code), abstaining where its confidence is below the threshold chosen on the selection sets;
a model with an activity head then adds and cuts speech around the boundaries
(`~diarefine.stages.refinement.activity`) with the settings chosen there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diarefine.core.annotation import Annotation
from diarefine.models.refiners.checkpoint import load_refiner
from diarefine.models.refiners.common import (
    WindowSpec,
    has_activity,
    predict,
    predict_with_activity,
)
from diarefine.stages.refinement.activity import ActivitySettings, activity_edits
from diarefine.stages.refinement.base import RefinerError
from diarefine.stages.refinement.edits import apply_moves, boundaries_of, change_links
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
    activity: ActivitySettings | None = None

    @classmethod
    def load(cls, path: str | Path, abstain: float | None = None) -> LearnedRefiner:
        model, variant, threshold, spec, settings = load_refiner(path)
        expected = WindowSpec(NUM_FRAMES, len(CHANNELS), RATE, spec.static)
        if (spec.num_frames, spec.channels, spec.rate) != (NUM_FRAMES, len(CHANNELS), RATE) \
                or spec.centre != HALF:
            raise RefinerError(f"{path}: reads windows {spec}, this diarefine makes {expected}")
        activity = None
        if settings is not None and has_activity(model):
            try:
                activity = ActivitySettings(**settings)  # type: ignore[arg-type]
            except TypeError as exc:
                raise RefinerError(f"{path}: activity settings {settings} ({exc})") from None
        return cls(model, variant, threshold if abstain is None else abstain, name=variant,
                   activity=activity)

    def predict(self, frames: np.ndarray, static: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """(corrections in seconds, confidences) of windows (n, W, C) and static (n, S)."""
        return predict(self.model, frames, static, self.batch_size)

    def predict_all(self, frames: np.ndarray, static: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(corrections, confidences, the activity probabilities (n, W, 2) where the
        refiner makes activity edits, else None), from one pass of the model."""
        if self.activity is not None and self.activity.active:
            return predict_with_activity(self.model, frames, static, self.batch_size)
        return (*self.predict(frames, static), None)

    def __call__(self, diarization: Annotation, context: RefinementContext | None
                 ) -> Annotation:
        if context is None:
            raise RefinerError(f"the {self.variant} refiner needs the recording's context")
        bounds = boundaries_of(diarization)
        if len(bounds) == 0:
            return diarization
        frames, static, partners = boundary_features(context, bounds)
        offset, confidence, probs = self.predict_all(frames, static)
        moves = {int(i): float(offset[i]) for i in np.flatnonzero(confidence >= self.abstain)}
        moved = apply_moves(bounds, moves, change_links(bounds))
        if probs is None or self.activity is None:
            return moved
        return activity_edits(moved, bounds.times, bounds.speakers, partners, probs,
                              self.activity, context.duration)
