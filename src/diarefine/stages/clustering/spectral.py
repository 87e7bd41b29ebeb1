"""Spectral clustering with auto-tuned pruning (NME-SC, Park et al., IEEE SPL 2020).

Affinity = cosine similarity of the embeddings. For a pruning ratio ``p``, each row keeps
its ``p*N`` largest affinities (binarised), the matrix is symmetrised, and the number of
speakers is the index of the largest eigengap of its Laplacian among the allowed counts.
NME-SC picks ``p`` minimising ``p / g_max`` (``g_max``: the normalised maximum eigengap,
eq. 9-10 of the paper). Clusters are k-means on the rows of the first ``k`` eigenvectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.cluster.vq import kmeans2

from diarefine.stages.base import SpeakerConstraints
from diarefine.stages.clustering import register
from diarefine.stages.clustering.common import l2_normalize, merge_small_clusters, relabel


def _pruned_affinity(similarity: NDArray[np.float64], p: float) -> NDArray[np.float64]:
    n = len(similarity)
    keep = max(1, int(np.ceil(p * n)))
    order = np.argsort(-similarity, axis=1)[:, :keep]
    a = np.zeros_like(similarity)
    np.put_along_axis(a, order, 1.0, axis=1)
    return 0.5 * (a + a.T)


def _laplacian_spectrum(a: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    laplacian = np.diag(a.sum(axis=1)) - a
    values, vectors = np.linalg.eigh(laplacian)
    return values, vectors


@register("spectral")
@dataclass(frozen=True)
class SpectralClustering:
    max_speakers: int = 12
    p_grid: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
    min_cluster_size: int = 1
    seed: int = 0

    def __call__(self, embeddings: NDArray[np.float32],
                 constraints: SpeakerConstraints) -> NDArray[np.int64]:
        n = len(embeddings)
        if n <= 2:
            return np.arange(n, dtype=np.int64) if constraints.min_speakers > 1 else (
                np.zeros(n, dtype=np.int64))
        x = l2_normalize(embeddings)
        similarity = x @ x.T
        lo = constraints.min_speakers
        hi = min(constraints.max_speakers or self.max_speakers, n - 1)
        lo = min(lo, hi)
        best = None
        for p in self.p_grid:
            values, vectors = _laplacian_spectrum(_pruned_affinity(similarity, p))
            gaps = np.diff(values[: hi + 1])  # gaps[k-1] = lambda_k - lambda_{k-1}
            k = int(np.argmax(gaps[lo - 1: hi]) + lo)
            ratio = p / (gaps[k - 1] / max(values[-1], 1e-12) + 1e-10)
            if best is None or ratio < best[0]:
                best = (ratio, k, vectors)
        _, k, vectors = best
        k = constraints.clip(k, n)
        if k == 1:
            return np.zeros(n, dtype=np.int64)
        features = l2_normalize(vectors[:, :k])
        rng = np.random.default_rng(self.seed)
        _, labels = kmeans2(features, k, minit="++", seed=rng)
        labels = relabel(labels.astype(np.int64))
        if self.min_cluster_size > 1:
            labels = merge_small_clusters(x, labels, self.min_cluster_size, lo)
        return labels
