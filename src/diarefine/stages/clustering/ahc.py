"""Agglomerative hierarchical clustering (the baseline), as in pyannote 3.1.

Centroid linkage on length-normalised embeddings (Euclidean distance between unit
vectors, ``sqrt(2 - 2 cos)``), cut at ``threshold``; clusters with fewer than
``min(min_cluster_size, min_cluster_fraction * N)`` members are then absorbed by the
closest large one. Speaker-count
constraints re-cut the same dendrogram at the allowed number of clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from diarefine.stages.base import SpeakerConstraints
from diarefine.stages.clustering import register
from diarefine.stages.clustering.common import (
    cut_dendrogram,
    honour_count,
    l2_normalize,
    merge_small_clusters,
)


@register("ahc")
@dataclass(frozen=True)
class AgglomerativeClustering:
    #: Chosen on the AMI excerpts train + dev (experiments/tune_pipeline.py).
    threshold: float = 0.75
    min_cluster_size: int = 12
    #: ... but at most this fraction of the embeddings (pyannote 3.1: 0.1), for short files.
    min_cluster_fraction: float = 0.1
    method: str = "centroid"

    def __call__(self, embeddings: NDArray[np.float32],
                 constraints: SpeakerConstraints) -> NDArray[np.int64]:
        n = len(embeddings)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        if n == 1:
            return np.zeros(1, dtype=np.int64)
        x = l2_normalize(embeddings)
        labels = cut_dendrogram(x, self.threshold, self.method)
        min_size = min(self.min_cluster_size, max(1, int(self.min_cluster_fraction * n)))
        labels = merge_small_clusters(x, labels, min_size, keep_at_least=constraints.min_speakers)
        # centroid linkage is not monotonic, so a re-cut of its tree at a given count can
        # miss it: honour_count re-cuts the (monotonic) average-linkage tree
        return honour_count(x, labels, constraints)
