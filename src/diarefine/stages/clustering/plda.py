"""A two-covariance PLDA model of speaker embeddings, in numpy (no torch).

Fitting (closed form, from embeddings labelled by speaker):

1. centre the embeddings (``mean1``) and project them with LDA onto the ``dim`` directions
   that best separate speakers (generalised eigenvectors of the between- and within-speaker
   scatter);
2. length-normalise to norm ``sqrt(dim)`` and centre again (``mean2``);
3. diagonalise both covariances at once: ``transform`` makes the within-speaker covariance
   the identity and the between-speaker covariance ``diag(psi)``, ``psi`` descending.

:meth:`PLDA.project` applies 1-3 to new embeddings; VBx clustering works in that space.
Saved as safetensors (numpy arrays only, nothing executable).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import eigh

EPS = 1e-6


@dataclass(frozen=True)
class PLDA:
    mean1: NDArray[np.float64]  # (D,)
    lda: NDArray[np.float64]  # (D, d)
    mean2: NDArray[np.float64]  # (d,)
    transform: NDArray[np.float64]  # (d, d)
    psi: NDArray[np.float64]  # (d,) between-speaker variances, descending

    @property
    def dim(self) -> int:
        return len(self.psi)

    def project(self, x: NDArray[np.floating]) -> NDArray[np.float64]:
        """Embeddings (N, D) -> PLDA space (N, d)."""
        y = (np.asarray(x, dtype=np.float64) - self.mean1) @ self.lda
        y *= np.sqrt(self.dim) / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
        return (y - self.mean2) @ self.transform.T

    @classmethod
    def fit(cls, x: NDArray[np.floating], speakers: NDArray, dim: int) -> PLDA:
        """Fit on embeddings ``x`` (N, D) of ``speakers`` (N,); ``dim`` < number of speakers."""
        x = np.asarray(x, dtype=np.float64)
        labels = np.unique(np.asarray(speakers), return_inverse=True)[1].reshape(-1)
        num = int(labels.max()) + 1 if len(labels) else 0
        if not 0 < dim < num:
            raise ValueError(f"PLDA dimension must be in 1..{num - 1} for {num} speakers, "
                             f"not {dim}")
        mean1 = x.mean(axis=0)
        within, between = _scatters(x - mean1, labels, num)
        values, vectors = eigh(between, within + EPS * np.eye(len(within)))
        lda = vectors[:, np.argsort(-values)[:dim]]
        y = (x - mean1) @ lda
        y *= np.sqrt(dim) / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
        mean2 = y.mean(axis=0)
        within, between = _scatters(y - mean2, labels, num)
        values, vectors = eigh(between, within + EPS * np.eye(dim))
        order = np.argsort(-values)
        return cls(mean1, lda, mean2, vectors[:, order].T, np.maximum(values[order], EPS))

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(getattr(self, k)) for k in _FIELDS}, str(path))

    @classmethod
    def load(cls, path: str | Path) -> PLDA:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        if not Path(path).is_file():
            raise ValueError(f"{path}: no such PLDA file")
        try:
            arrays = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise ValueError(f"{path}: not a safetensors file ({exc})") from None
        missing = [k for k in _FIELDS if k not in arrays]
        if missing:
            raise ValueError(f"{path}: not a PLDA model (missing {', '.join(missing)})")
        model = cls(*(arrays[k].astype(np.float64) for k in _FIELDS))
        d = model.dim
        shapes = {"lda": (len(model.mean1), d), "mean2": (d,), "transform": (d, d)}
        for key, shape in shapes.items():
            if getattr(model, key).shape != shape:
                raise ValueError(f"{path}: PLDA {key} has shape {getattr(model, key).shape}, "
                                 f"expected {shape}")
        return model


_FIELDS = ("mean1", "lda", "mean2", "transform", "psi")


def _scatters(x: NDArray[np.float64], labels: NDArray[np.int64], num: int
              ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Within-speaker covariance (pooled over frames) and between-speaker covariance
    (over speaker means, each speaker counted once) of centred ``x``."""
    counts = np.bincount(labels, minlength=num).astype(np.float64)
    means = np.zeros((num, x.shape[1]))
    np.add.at(means, labels, x)
    means /= counts[:, None]
    residual = x - means[labels]
    within = residual.T @ residual / len(x)
    centred = means - means.mean(axis=0)
    between = centred.T @ centred / num
    return within, between
