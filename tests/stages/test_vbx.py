"""PLDA fitting and VBx clustering (numpy only).

The PLDA invariants are exact on the training data: after projection, the within-speaker
covariance is the identity and the between-speaker covariance is ``diag(psi)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import softmax

from diarefine.stages.base import SpeakerConstraints
from diarefine.stages.clustering import build_clusterer
from diarefine.stages.clustering.plda import PLDA, _scatters
from diarefine.stages.clustering.vbx import VBxClustering, load_plda, vbx


def speakers_data(num_speakers: int = 40, per_speaker: int = 12, dim: int = 24,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((num_speakers, dim))
    labels = np.repeat(np.arange(num_speakers), per_speaker)
    x = centres[labels] + rng.standard_normal((len(labels), dim)) @ np.diag(
        np.linspace(0.3, 1.0, dim))
    return x + 5.0, labels


def test_plda_diagonalises_both_covariances_on_its_training_data() -> None:
    x, labels = speakers_data()
    model = PLDA.fit(x, labels, dim=10)
    y = model.project(x)
    assert y.shape == (len(x), 10)
    within, between = _scatters(y - y.mean(axis=0), labels, 40)
    np.testing.assert_allclose(within, np.eye(10), atol=1e-4)
    np.testing.assert_allclose(between, np.diag(model.psi), atol=1e-4)
    assert np.all(np.diff(model.psi) <= 0) and model.psi[0] > 1.0
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-9)  # mean2 centres the data


def test_plda_dimension_is_checked() -> None:
    x, labels = speakers_data(num_speakers=5)
    for bad in (0, 5, 6):
        with pytest.raises(ValueError, match="1..4 for 5 speakers"):
            PLDA.fit(x, labels, dim=bad)


def test_plda_round_trips_through_safetensors(tmp_path: Path) -> None:
    x, labels = speakers_data()
    model = PLDA.fit(x, labels, dim=8)
    model.save(tmp_path / "p.safetensors")
    again = PLDA.load(tmp_path / "p.safetensors")
    np.testing.assert_allclose(again.project(x[:5]), model.project(x[:5]))


def test_plda_load_refuses_other_files(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"mean1": np.zeros(3)}, str(tmp_path / "a.safetensors"))
    with pytest.raises(ValueError, match="missing lda, mean2, transform, psi"):
        PLDA.load(tmp_path / "a.safetensors")
    arrays = {"mean1": np.zeros(6), "lda": np.zeros((6, 2)), "mean2": np.zeros(2),
              "transform": np.zeros((3, 3)), "psi": np.ones(2)}
    save_file(arrays, str(tmp_path / "b.safetensors"))
    with pytest.raises(ValueError, match=r"transform has shape \(3, 3\), expected \(2, 2\)"):
        PLDA.load(tmp_path / "b.safetensors")


def test_bundled_plda_maps_campplus_embeddings() -> None:
    model = load_plda()
    assert model.mean1.shape == (192,) and 16 <= model.dim < 192
    assert np.all(model.psi > 0) and np.all(np.diff(model.psi) <= 0)


def test_vbx_merges_an_over_split_speaker_and_its_elbo_never_decreases() -> None:
    rng = np.random.default_rng(3)
    phi = np.linspace(8.0, 1.0, 16)
    means = rng.standard_normal((3, 16)) * np.sqrt(phi)
    truth = np.repeat([0, 1, 2], [30, 25, 20])
    x = means[truth] + rng.standard_normal((75, 16))
    init = truth.copy()
    init[:15] = 3  # speaker 0 split in two
    gamma0 = softmax(7.0 * np.eye(4)[init], axis=1)
    gamma, pi, elbos = vbx(x, phi, gamma0, fa=0.3, fb=1.0, max_iters=40, tol=0.0)
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0)
    assert pi.sum() == pytest.approx(1.0)
    assert np.all(np.diff(elbos) >= -1e-6 * np.abs(elbos[:-1]))
    kept = np.flatnonzero(pi > 1e-3)
    assert len(kept) == 3
    labels = kept[np.argmax(gamma[:, kept], axis=1)]
    # the partition is the truth (labels may be renamed)
    assert len({(a, b) for a, b in zip(truth, labels)}) == 3


def test_vbx_clusterer_is_registered_and_uses_the_given_plda() -> None:
    x, labels = speakers_data(num_speakers=30, per_speaker=10, dim=192, seed=5)
    model = PLDA.fit(x, labels, dim=20)
    chosen = labels < 4
    clusterer = VBxClustering(threshold=0.2, fa=0.3, fb=1.0, min_embeddings=2, plda=model)
    found = clusterer(x[chosen].astype(np.float32), SpeakerConstraints())
    assert len({(a, b) for a, b in zip(labels[chosen], found)}) == 4 == found.max() + 1
    assert isinstance(build_clusterer("vbx"), VBxClustering)


def test_few_embeddings_are_clustered_by_the_baseline_ahc() -> None:
    x, _ = speakers_data(num_speakers=6, per_speaker=5, dim=192, seed=9)
    x = x.astype(np.float32)
    for constraints in (SpeakerConstraints(), SpeakerConstraints(num_speakers=2)):
        ahc = build_clusterer("ahc", threshold=0.9, min_cluster_size=3)(x, constraints)
        fallback = VBxClustering(min_embeddings=31, ahc_threshold=0.9, min_cluster_size=3,
                                 plda=_never())(x, constraints)
        np.testing.assert_array_equal(fallback, ahc)


class _never(PLDA):
    """A PLDA that fails if VBx touches it."""

    def __init__(self) -> None:
        pass

    def project(self, x: np.ndarray) -> np.ndarray:
        raise AssertionError("VBx ran on too few embeddings")


def test_a_plda_file_of_ones_own_is_used_by_path(tmp_path: Path) -> None:
    x, labels = speakers_data(num_speakers=30, per_speaker=10, dim=192, seed=5)
    model = PLDA.fit(x, labels, dim=20)
    model.save(tmp_path / "mine.safetensors")
    chosen = (labels < 4).nonzero()[0]
    data = x[chosen].astype(np.float32)
    by_path = build_clusterer("vbx", threshold=0.2, fa=0.3, fb=1.0, min_embeddings=2,
                              plda=str(tmp_path / "mine.safetensors"))(data, SpeakerConstraints())
    by_object = VBxClustering(threshold=0.2, fa=0.3, fb=1.0, min_embeddings=2,
                              plda=model)(data, SpeakerConstraints())
    np.testing.assert_array_equal(by_path, by_object)
    with pytest.raises(ValueError, match="no such PLDA file"):
        PLDA.load(tmp_path / "absent.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ValueError, match="not a safetensors file"):
        PLDA.load(tmp_path / "junk.safetensors")
