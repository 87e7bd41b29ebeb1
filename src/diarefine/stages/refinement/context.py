"""A recording's `RefinementContext` from the pipeline's own intermediate results."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from diarefine.config import ReassignmentConfig, ReconstructionConfig
from diarefine.stages.base import ChunkScores, FrameScores
from diarefine.stages.clustering.common import l2_normalize
from diarefine.stages.reassign import references
from diarefine.stages.reconstruction import count_probabilities
from diarefine.stages.refinement.features import RefinementContext
from diarefine.stages.windows import WindowEmbeddings


def pipeline_context(scores: ChunkScores, frame_scores: FrameScores,
                     windows: WindowEmbeddings | None, centroids: NDArray,
                     acoustic: NDArray[np.float32], names: list[str], duration: float,
                     reconstruction: ReconstructionConfig = ReconstructionConfig(),
                     reassignment: ReassignmentConfig = ReassignmentConfig()
                     ) -> RefinementContext:
    """The tracks a refiner reads, from the segmentation ``scores`` (C, F, K), the final
    activations ``frame_scores`` (T, S), the window embeddings (N, D) if any, the speakers'
    ``centroids`` (S, D) and the `acoustic_tracks` (A, 5)."""
    probs = count_probabilities(scores, duration, reconstruction.weighting)
    num = len(frame_scores.data)
    probs = np.pad(probs, ((0, max(0, num - len(probs))), (0, 0)))[:num]
    three = np.concatenate([probs[:, :2], probs[:, 2:].sum(axis=1, keepdims=True)], axis=1)
    if windows is not None and len(windows.times) and len(centroids):
        units = l2_normalize(windows.data)
        refs = references(units, windows.times, frame_scores, centroids,
                          reassignment.confident)
        times, similarity = windows.times, (units @ refs.T).astype(np.float32)
    else:
        times = np.zeros(0)
        similarity = np.zeros((0, len(centroids)), dtype=np.float32)
    return RefinementContext(tuple(names), frame_scores.data.astype(np.float32),
                             three.astype(np.float32), frame_scores.frames, times, similarity,
                             acoustic, l2_normalize(centroids).astype(np.float32)
                             if len(centroids) else np.zeros((0, 192), np.float32), duration)
