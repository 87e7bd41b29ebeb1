"""Clustering of speaker embeddings: the registry, AHC, spectral, assignment, merging.

Synthetic data: well-separated Gaussian clusters in 192-d (the CAM++ dimension). Random
unit centres in 192-d are nearly orthogonal (distance ~sqrt(2) between unit vectors), and
the per-dimension noise (0.02, a noise norm of ~0.28) keeps every member far closer to
its own centre than to any other, so a correct clusterer recovers the partition exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diarefine.stages.base import ChunkEmbeddings, SpeakerConstraints
from diarefine.stages.clustering import _REGISTRY as REGISTRY
from diarefine.stages.clustering import available, build_clusterer, register
from diarefine.stages.clustering.assign import assign_chunks
from diarefine.stages.clustering.common import (
    centroids,
    l2_normalize,
    merge_small_clusters,
    relabel,
)

DIM = 192
METHODS = available()


def gaussian_clusters(sizes: list[int], seed: int = 0, noise: float = 0.02,
                      shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (sum(sizes), 192) float32 and their true labels."""
    rng = np.random.default_rng(seed)
    centres = l2_normalize(rng.standard_normal((len(sizes), DIM)))
    truth = np.repeat(np.arange(len(sizes)), sizes)
    if shuffle:
        truth = rng.permutation(truth)
    x = centres[truth] + noise * rng.standard_normal((len(truth), DIM))
    # arbitrary norms: the clusterers must only look at directions
    x *= rng.uniform(0.5, 20.0, size=(len(truth), 1))
    return x.astype(np.float32), truth


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to a relabelling (a bijection between the label sets)."""
    a, b = np.asarray(a), np.asarray(b)
    pairs = set(zip(a.tolist(), b.tolist()))
    return a.shape == b.shape and len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def num_clusters(labels: np.ndarray) -> int:
    return len(np.unique(labels))


def assert_valid_labels(labels: np.ndarray, n: int) -> None:
    """Labels are int64 of shape (n,) and use exactly 0..S-1."""
    assert labels.shape == (n,)
    assert labels.dtype == np.int64
    if n:
        assert set(labels.tolist()) == set(range(int(labels.max()) + 1))


# --- registry ------------------------------------------------------------------------------

def test_registry_lists_builtins_and_builds_them() -> None:
    assert {"ahc", "spectral"} <= set(METHODS)
    assert list(METHODS) == sorted(METHODS)
    ahc = build_clusterer("ahc", threshold=0.3, min_cluster_size=4)
    assert (ahc.threshold, ahc.min_cluster_size) == (0.3, 4)
    assert build_clusterer("spectral", seed=3).seed == 3


def test_unknown_method_is_refused_with_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown clustering method 'kmeans'.*ahc.*spectral"):
        build_clusterer("kmeans")


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(TypeError, match="nonsense"):
        build_clusterer("ahc", nonsense=1)


def test_register_makes_a_new_method_available() -> None:
    @register("test-everything-one")
    class EverythingOne:
        def __call__(self, embeddings: np.ndarray, constraints: SpeakerConstraints) -> np.ndarray:
            return np.zeros(len(embeddings), dtype=np.int64)

    try:
        assert "test-everything-one" in available()
        labels = build_clusterer("test-everything-one")(np.ones((3, 4)), SpeakerConstraints())
        assert labels.tolist() == [0, 0, 0]
    finally:
        REGISTRY.pop("test-everything-one")
    assert "test-everything-one" not in available()


# --- exact recovery --------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["ahc", "spectral"])
@pytest.mark.parametrize("sizes", [[30, 30], [25, 15, 20], [12, 20, 16, 14, 18]])
def test_recovers_separated_gaussians_exactly(method: str, sizes: list[int]) -> None:
    x, truth = gaussian_clusters(sizes, seed=len(sizes))
    labels = build_clusterer(method)(x, SpeakerConstraints())
    assert_valid_labels(labels, len(truth))
    assert num_clusters(labels) == len(sizes)
    assert same_partition(labels, truth)


@pytest.mark.parametrize("method", ["ahc", "spectral"])
def test_one_tight_cluster_is_one_speaker(method: str) -> None:
    x, _ = gaussian_clusters([40], seed=1)
    labels = build_clusterer(method)(x, SpeakerConstraints())
    assert labels.tolist() == [0] * 40


def test_ahc_threshold_decides_the_cut() -> None:
    # two clusters whose centres are 0.6 apart (unit vectors): merged at a threshold above
    # the centroid distance, separated below it
    rng = np.random.default_rng(5)
    a = np.zeros(DIM)
    a[0] = 1.0
    b = np.zeros(DIM)
    b[0], b[1] = np.cos(0.6), np.sin(0.6)  # |a - b| = 2 sin(0.3) = 0.591
    x = np.concatenate([a + 0.002 * rng.standard_normal((20, DIM)),
                        b + 0.002 * rng.standard_normal((20, DIM))])
    truth = np.repeat([0, 1], 20)
    split = build_clusterer("ahc", threshold=0.5, min_cluster_size=1)(x, SpeakerConstraints())
    assert same_partition(split, truth)
    merged = build_clusterer("ahc", threshold=0.7, min_cluster_size=1)(x, SpeakerConstraints())
    assert merged.tolist() == [0] * 40


def test_ahc_small_clusters_go_to_the_closest_large_one() -> None:
    # 3 outliers close to cluster B's direction form their own AHC cluster at a tight
    # threshold; with min_cluster_size 5 they join B (not A)
    x, truth = gaussian_clusters([20, 20], seed=7, shuffle=False)
    rng = np.random.default_rng(8)
    b_dir = l2_normalize(x[20:].mean(axis=0, keepdims=True))[0]
    other = l2_normalize(rng.standard_normal((1, DIM)))[0]
    outlier_dir = l2_normalize((b_dir + 0.9 * other)[None])[0]
    outliers = outlier_dir + 0.01 * rng.standard_normal((3, DIM))
    xs = np.concatenate([x, outliers]).astype(np.float32)
    kept = build_clusterer("ahc", threshold=0.6, min_cluster_size=1)(xs, SpeakerConstraints())
    assert num_clusters(kept) == 3
    merged = build_clusterer("ahc", threshold=0.6, min_cluster_size=3)(xs, SpeakerConstraints())
    # min size is min(min_cluster_size, n // 10) = min(3, 4) = 3: the outliers (3) stay
    assert num_clusters(merged) == 3
    merged = build_clusterer("ahc", threshold=0.6, min_cluster_size=4)(xs, SpeakerConstraints())
    assert same_partition(merged, np.concatenate([truth, [1, 1, 1]]))


# --- speaker-count constraints ----------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_num_speakers_is_honoured(method: str, k: int) -> None:
    x, truth = gaussian_clusters([15, 12, 10, 13], seed=11)
    labels = build_clusterer(method)(x, SpeakerConstraints(num_speakers=k))
    assert_valid_labels(labels, len(x))
    assert num_clusters(labels) == k
    if k == 4:
        assert same_partition(labels, truth)


@pytest.mark.parametrize("method", METHODS)
def test_min_and_max_speakers_are_honoured(method: str) -> None:
    x, truth = gaussian_clusters([15, 12, 10, 13], seed=12)
    build = build_clusterer(method)
    for lo, hi in [(1, 2), (1, 3), (5, None), (6, 8), (2, 2), (3, 3), (1, None), (4, 10)]:
        labels = build(x, SpeakerConstraints(min_speakers=lo, max_speakers=hi))
        assert_valid_labels(labels, len(x))
        k = num_clusters(labels)
        assert lo <= k <= (hi if hi is not None else len(x)), (lo, hi, k)
        if lo <= 4 <= (hi or 99):  # the true count is allowed: it is found
            assert k == 4 and same_partition(labels, truth), (lo, hi)


@pytest.mark.parametrize("method", METHODS)
def test_more_speakers_than_embeddings_gives_one_cluster_each(method: str) -> None:
    x, _ = gaussian_clusters([1, 1, 1], seed=13)
    labels = build_clusterer(method)(x, SpeakerConstraints(num_speakers=5))
    assert sorted(labels.tolist()) == [0, 1, 2]


# --- edge cases: 0, 1, 2 embeddings ---------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_no_embeddings(method: str) -> None:
    for constraints in (SpeakerConstraints(), SpeakerConstraints(num_speakers=3)):
        labels = build_clusterer(method)(np.zeros((0, DIM), np.float32), constraints)
        assert labels.shape == (0,) and labels.dtype == np.int64


@pytest.mark.parametrize("method", METHODS)
def test_one_embedding(method: str) -> None:
    x, _ = gaussian_clusters([1], seed=14)
    for constraints in (SpeakerConstraints(), SpeakerConstraints(num_speakers=2),
                        SpeakerConstraints(min_speakers=3)):
        labels = build_clusterer(method)(x, constraints)
        assert labels.tolist() == [0] and labels.dtype == np.int64


@pytest.mark.parametrize("method", METHODS)
def test_two_embeddings(method: str) -> None:
    x, _ = gaussian_clusters([1, 1], seed=15)
    build = build_clusterer(method)
    assert sorted(build(x, SpeakerConstraints(num_speakers=2)).tolist()) == [0, 1]
    assert build(x, SpeakerConstraints(min_speakers=2)).tolist() in ([0, 1], [1, 0])
    assert build(x, SpeakerConstraints(num_speakers=1)).tolist() == [0, 0]
    assert build(x, SpeakerConstraints(max_speakers=1)).tolist() == [0, 0]
    same = np.repeat(x[:1], 2, axis=0)
    assert build(same, SpeakerConstraints()).tolist() == [0, 0]
    assert_valid_labels(build(x, SpeakerConstraints()), 2)


def test_ahc_two_distant_embeddings_are_two_speakers() -> None:
    x, _ = gaussian_clusters([1, 1], seed=16)
    assert build_clusterer("ahc")(x, SpeakerConstraints()).tolist() == [0, 1]


def test_spectral_is_deterministic_for_a_seed() -> None:
    x, _ = gaussian_clusters([10, 10, 10], seed=17, noise=0.2)
    a = build_clusterer("spectral", seed=1)(x, SpeakerConstraints(num_speakers=5))
    b = build_clusterer("spectral", seed=1)(x, SpeakerConstraints(num_speakers=5))
    np.testing.assert_array_equal(a, b)


# --- common helpers ----------------------------------------------------------------------------

def test_relabel_numbers_by_first_appearance() -> None:
    assert relabel(np.array([7, 7, 2, 9, 2, 7])).tolist() == [0, 0, 1, 2, 1, 0]
    assert relabel(np.array([3])).tolist() == [0]


def test_centroids_are_means_of_normalised_rows() -> None:
    x = np.array([[2.0, 0.0], [0.0, 3.0], [0.0, -1.0], [4.0, 4.0]])
    labels = np.array([0, 1, 1, 0])
    s = np.sqrt(0.5)
    expected = [[(1.0 + s) / 2, s / 2], [0.0, 0.0]]
    np.testing.assert_allclose(centroids(x, labels), expected, atol=1e-12)


def _points(directions: list[tuple[float, float]]) -> np.ndarray:
    return np.array(directions, dtype=np.float64)


def test_merge_small_clusters_gives_members_to_the_closest_large_cluster() -> None:
    x = _points([(1, 0), (1, 0.05), (1, -0.05), (0, 1), (0.05, 1), (-0.05, 1),
                 (1, 0.3), (0.2, 1)])
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 3])  # 2 is near cluster 0, 3 near cluster 1
    out = merge_small_clusters(x, labels, min_size=2)
    assert out.tolist() == [0, 0, 0, 1, 1, 1, 0, 1]
    # nothing small: only renumbered by first appearance
    assert merge_small_clusters(x, np.array([1, 1, 0, 0, 2, 2, 1, 0]),
                                min_size=2).tolist() == [0, 0, 1, 1, 2, 2, 0, 1]


def test_merge_small_clusters_keeps_at_least_the_largest() -> None:
    x = _points([(1, 0), (1, 0.1), (1, 0.2), (0, 1), (0.1, 1), (0.75, 0.7)])
    labels = np.array([0, 0, 0, 1, 1, 2])  # sizes 3, 2, 1: all below min_size 5
    # keep_at_least=1: the largest (0) takes everybody
    assert merge_small_clusters(x, labels, 5, keep_at_least=1).tolist() == [0] * 6
    # keep_at_least=2: 0 and 1 are kept; the last point (closer to 0 than to 1) joins 0
    assert merge_small_clusters(x, labels, 5, keep_at_least=2).tolist() == [0, 0, 0, 1, 1, 0]
    # keep_at_least >= number of clusters: unchanged
    assert merge_small_clusters(x, labels, 5, keep_at_least=3).tolist() == labels.tolist()


def test_merge_small_clusters_ties_keep_the_first_label() -> None:
    x = _points([(1, 0), (1, 0.1), (0, 1), (0.1, 1), (1, 1.05)])
    labels = np.array([0, 0, 1, 1, 2])  # sizes 2, 2, 1; stable order keeps 0 first
    assert merge_small_clusters(x, labels, 3, keep_at_least=1).tolist() == [0] * 5


# --- assignment of (chunk, local speaker) to global speakers ------------------------------

def test_assign_chunks_by_hand() -> None:
    d = 2
    data = np.zeros((3, 3, d), dtype=np.float32)
    data[0, 0], data[0, 1] = (1, 0), (0, 1)  # reliable: one of each cluster
    data[1, 0], data[1, 1] = (1, 0.1), (1, 0.3)  # both closest to cluster 0
    data[2, 2] = (0.2, 1)  # present only
    present = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    reliable = np.array([[1, 1, 0], [0, 0, 0], [0, 0, 0]], dtype=bool)
    assignment, cents = assign_chunks(ChunkEmbeddings(data, present, reliable),
                                      np.array([0, 1]))
    np.testing.assert_allclose(cents, [[1, 0], [0, 1]])
    # chunk 1: (1, .1) -> 0 and (1, .3) -> 1 maximises 0.995 + 0.287 over 0.0995 + 0.958
    assert assignment.tolist() == [[0, 1, -1], [0, 1, -1], [-1, -1, 1]]


def test_assign_chunks_without_labels_assigns_nobody() -> None:
    data = np.ones((2, 3, 4), dtype=np.float32)
    present = np.ones((2, 3), dtype=bool)
    assignment, cents = assign_chunks(ChunkEmbeddings(data, present, present & False),
                                      np.zeros(0, dtype=np.int64))
    assert assignment.tolist() == [[-1] * 3] * 2
    assert cents.shape == (0, 4)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), num_clusters_=st.integers(1, 4),
       num_chunks=st.integers(1, 12))
def test_assign_chunks_never_gives_one_chunk_speaker_twice(seed: int, num_clusters_: int,
                                                           num_chunks: int) -> None:
    rng = np.random.default_rng(seed)
    local, dim = 3, 8
    data = rng.standard_normal((num_chunks, local, dim)).astype(np.float32)
    present = rng.random((num_chunks, local)) < 0.7
    reliable = present & (rng.random((num_chunks, local)) < 0.8)
    n = int(reliable.sum())
    if n == 0:
        return
    labels = relabel(rng.integers(0, min(num_clusters_, n), size=n))
    assignment, cents = assign_chunks(ChunkEmbeddings(data, present, reliable), labels)
    k = int(labels.max()) + 1
    assert assignment.shape == (num_chunks, local) and cents.shape == (k, dim)
    np.testing.assert_allclose(np.linalg.norm(cents, axis=1), 1.0, rtol=1e-9)
    assert np.all(assignment[~present] == -1)
    assert np.all((assignment >= -1) & (assignment < k))
    for c in range(num_chunks):
        used = assignment[c][assignment[c] >= 0]
        assert len(set(used.tolist())) == len(used), assignment[c]
        # every present local speaker gets a speaker while there are enough of them
        assert len(used) == min(int(present[c].sum()), k)
