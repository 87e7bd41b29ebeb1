"""Neural models (torch side): segmentation-3.0 and CAM++, shipped with diarefine as safetensors."""

from __future__ import annotations

from diarefine.models.campplus import CAMPPlus, weighted_stats_pool
from diarefine.models.pretrained import (
    EmbeddingInfo,
    PretrainedModelError,
    SegmentationInfo,
    load_campplus,
    load_segmentation,
)
from diarefine.models.segmentation import (
    PyanNetSegmentation,
    powerset_mapping,
    powerset_to_multilabel,
)

__all__ = [
    "CAMPPlus",
    "EmbeddingInfo",
    "PretrainedModelError",
    "PyanNetSegmentation",
    "SegmentationInfo",
    "load_campplus",
    "load_segmentation",
    "powerset_mapping",
    "powerset_to_multilabel",
    "weighted_stats_pool",
]
