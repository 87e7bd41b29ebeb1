"""VBx clustering: variational Bayes over a PLDA speaker model, initialised by AHC.

The embeddings are projected into a PLDA space (:class:`~.plda.PLDA`) where the
within-speaker covariance is the identity and the between-speaker one ``diag(phi)``. Each
speaker ``s`` has a latent ``y_s ~ N(0, I)`` and an embedding of that speaker is
``sqrt(phi) * y_s + noise``. Variational Bayes (Landini et al., "Bayesian HMM clustering of
x-vector sequences (VBx)", Computer Speech & Language 2022; here without the HMM, as the
(chunk, speaker) embeddings are not one frame sequence) alternates:

* speaker posteriors ``q(y_s) = N(alpha_s, diag(inv_l_s))`` from the responsibilities,
* responsibilities ``gamma[t, s]`` proportional to ``pi_s exp(fa * E[log p(x_t | y_s)])``,
* priors ``pi`` from the responsibilities,

until the evidence lower bound stops growing (20 iterations at most). ``fa`` scales the
acoustic evidence, ``fb`` the speaker prior. Speakers whose prior vanishes are dropped,
so the initial AHC (cut at ``threshold``, lower than the baseline's so that it
over-clusters) only has to err on the side of too many speakers. Below
``min_embeddings`` embeddings (recordings under about a minute) the Bayesian speaker
count is unreliable and the baseline AHC clusters instead.

The PLDA bundled with diarefine (``weights/plda_campplus.safetensors``) was fitted on
CAM++ embeddings of the pipeline itself: simulated conversations of training-split
LibriSpeech speakers and the AMI excerpts' training split (``experiments/train_plda.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp, softmax

from diarefine.stages.base import SpeakerConstraints
from diarefine.stages.clustering import register
from diarefine.stages.clustering.ahc import AgglomerativeClustering
from diarefine.stages.clustering.common import (
    cut_dendrogram,
    honour_count,
    l2_normalize,
    relabel,
)
from diarefine.stages.clustering.plda import PLDA

BUNDLED_PLDA = "plda_campplus.safetensors"


@lru_cache(maxsize=4)
def load_plda(path: str | None = None) -> PLDA:
    """The PLDA at ``path``, or the one bundled with diarefine."""
    if path is None:
        with resources.as_file(resources.files("diarefine") / "weights" / BUNDLED_PLDA) as p:
            return PLDA.load(p)
    return PLDA.load(Path(path))


def vbx(x: NDArray[np.float64], phi: NDArray[np.float64], gamma: NDArray[np.float64],
        fa: float, fb: float, max_iters: int = 20, tol: float = 1e-4
        ) -> tuple[NDArray[np.float64], NDArray[np.float64], list[float]]:
    """VB-GMM over a PLDA model. x (N, d) in PLDA space, phi (d,), gamma (N, S) initial
    responsibilities -> (responsibilities (N, S), priors (S,), ELBO per iteration)."""
    n, d = x.shape
    const = -0.5 * (np.sum(x * x, axis=1) + d * np.log(2 * np.pi))  # (N,)
    rho = x * np.sqrt(phi)  # (N, d)
    pi = np.full(gamma.shape[1], 1.0 / gamma.shape[1])
    elbos: list[float] = []
    for _ in range(max_iters):
        counts = gamma.sum(axis=0)  # (S,)
        inv_l = 1.0 / (1.0 + (fa / fb) * counts[:, None] * phi)  # (S, d)
        alpha = (fa / fb) * inv_l * (gamma.T @ rho)  # (S, d)
        log_p = fa * (rho @ alpha.T - 0.5 * (inv_l + alpha**2) @ phi + const[:, None])
        with np.errstate(divide="ignore"):
            joint = log_p + np.log(pi)
        norm = logsumexp(joint, axis=1)
        gamma = np.exp(joint - norm[:, None])
        pi = gamma.sum(axis=0) / n
        elbo = float(norm.sum() + 0.5 * fb * np.sum(np.log(inv_l) - inv_l - alpha**2 + 1))
        elbos.append(elbo)
        if len(elbos) > 1 and elbos[-1] - elbos[-2] < tol * abs(elbos[-2]):
            break
    return gamma, pi, elbos


@register("vbx")
@dataclass(frozen=True)
class VBxClustering:
    #: Cut of the initial AHC (centroid linkage on unit vectors, as "ahc").
    threshold: float = 0.7
    fa: float = 0.05
    fb: float = 1.0
    #: With fewer embeddings than this (a recording of under a minute or so), the
    #: Bayesian speaker count is unreliable (VBx puts a 30 s AMI excerpt in one cluster):
    #: the baseline AHC decides instead, with ``ahc_threshold`` and ``min_cluster_size``.
    min_embeddings: int = 50
    ahc_threshold: float = AgglomerativeClustering.threshold
    min_cluster_size: int = AgglomerativeClustering.min_cluster_size
    #: Sharpness of the initial responsibilities: softmax(init_smoothing * one-hot).
    init_smoothing: float = 7.0
    max_iters: int = 20
    #: Speakers whose prior falls below this are dropped.
    min_prior: float = 1e-7
    #: A PLDA safetensors file (or a fitted :class:`PLDA`); None: the bundled one.
    plda: str | PLDA | None = field(default=None, repr=False)

    def __call__(self, embeddings: NDArray[np.float32],
                 constraints: SpeakerConstraints) -> NDArray[np.int64]:
        if len(embeddings) < max(self.min_embeddings, 2):
            return AgglomerativeClustering(self.ahc_threshold, self.min_cluster_size)(
                embeddings, constraints)
        x = l2_normalize(embeddings)
        labels = cut_dendrogram(x, self.threshold)
        if labels.max() > 0:
            model = self.plda if isinstance(self.plda, PLDA) else load_plda(self.plda)
            features = model.project(embeddings)
            gamma0 = softmax(self.init_smoothing * np.eye(int(labels.max()) + 1)[labels],
                             axis=1)
            gamma, pi, _ = vbx(features, model.psi, gamma0, self.fa, self.fb, self.max_iters)
            keep = np.flatnonzero(pi > self.min_prior)
            labels = relabel(keep[np.argmax(gamma[:, keep], axis=1)])
        return honour_count(x, labels, constraints)
