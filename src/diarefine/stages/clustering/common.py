"""Helpers shared by the clusterers: normalisation, centroids, small-cluster merging."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.cluster.hierarchy import fcluster, linkage

from diarefine.stages.base import SpeakerConstraints


def l2_normalize(x: NDArray[np.floating]) -> NDArray[np.float64]:
    """Rows scaled to unit length. (N, D) -> (N, D)."""
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def relabel(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Labels renumbered 0..S-1 by order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse.reshape(-1)].astype(np.int64)


def centroids(x: NDArray[np.floating], labels: NDArray[np.int64]) -> NDArray[np.float64]:
    """Mean of the (normalised) rows of each label. -> (S, D)."""
    x = l2_normalize(x)
    return np.stack([x[labels == k].mean(axis=0) for k in range(int(labels.max()) + 1)])


def cut_dendrogram(x: NDArray[np.float64], threshold: float,
                   method: str = "centroid") -> NDArray[np.int64]:
    """Agglomerative clusters of unit vectors ``x`` (Euclidean linkage ``method``) cut at
    distance ``threshold``. (N, D) -> labels (N,) in order of first appearance."""
    return relabel(fcluster(linkage(x, method=method, metric="euclidean"), threshold,
                            criterion="distance") - 1)


def honour_count(x: NDArray[np.float64], labels: NDArray[np.int64],
                 constraints: SpeakerConstraints) -> NDArray[np.int64]:
    """``labels`` if their number of clusters is allowed by ``constraints``, else the
    average-linkage dendrogram of unit vectors ``x`` cut at the nearest allowed count
    (average linkage is monotonic, so the cut gives exactly that many clusters)."""
    k = int(labels.max()) + 1
    wanted = constraints.clip(k, len(x))
    if wanted == k:
        return labels
    tree = linkage(x, method="average", metric="euclidean")
    return relabel(fcluster(tree, wanted, criterion="maxclust") - 1)


def merge_small_clusters(
    x: NDArray[np.floating], labels: NDArray[np.int64], min_size: int, keep_at_least: int = 1
) -> NDArray[np.int64]:
    """Give the members of clusters smaller than ``min_size`` to the closest large one.

    At least ``keep_at_least`` clusters (the largest) are kept large.
    """
    sizes = np.bincount(labels)
    order = np.argsort(-sizes, kind="stable")
    large = [k for k in order if sizes[k] >= min_size]
    if len(large) < keep_at_least:
        large = list(order[:keep_at_least])
    if len(large) == len(sizes) or not large:
        return relabel(labels)
    cents = l2_normalize(centroids(x, labels)[large])
    small_members = ~np.isin(labels, large)
    nearest = np.asarray(large)[np.argmax(l2_normalize(x[small_members]) @ cents.T, axis=1)]
    out = labels.copy()
    out[small_members] = nearest
    return relabel(out)
