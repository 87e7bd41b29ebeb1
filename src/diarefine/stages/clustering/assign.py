"""From cluster labels of the active embeddings to a global speaker per (chunk, local speaker).

As in pyannote 3.1: every active (chunk, local speaker) goes to the cluster whose
centroid is most similar, under the constraint that two local speakers of the same
chunk never share a global speaker (Hungarian assignment per chunk).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from diarefine.stages.base import ChunkEmbeddings
from diarefine.stages.clustering.common import centroids, l2_normalize


def assign_chunks(
    embeddings: ChunkEmbeddings, labels: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Global speaker of each present (chunk, local speaker), -1 otherwise; the centroids.

    labels: (num_reliable,) cluster of each reliable embedding, in row-major order.
    Returns assignment (num_chunks, local_speakers) and centroids (num_speakers, D).
    """
    num_chunks, local, dim = embeddings.data.shape
    assignment = np.full((num_chunks, local), -1, dtype=np.int64)
    if len(labels) == 0:
        return assignment, np.zeros((0, dim))
    cents = l2_normalize(centroids(embeddings.data[embeddings.reliable], labels))
    for c in range(num_chunks):
        speakers = np.flatnonzero(embeddings.present[c])
        if len(speakers) == 0:
            continue
        similarity = l2_normalize(embeddings.data[c, speakers]) @ cents.T
        rows, cols = linear_sum_assignment(similarity, maximize=True)
        assignment[c, speakers[rows]] = cols
    return assignment, cents
