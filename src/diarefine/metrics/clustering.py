"""B-cubed precision/recall/F1, mutual information and NMI, as dscore computes them.

Each 10 ms scored frame gets one label per side: non-speech, a speaker, or a set of
overlapping speakers (:func:`diarefine.metrics.frames.label_codes`); the metrics are
functions of the contingency matrix ``n_ij`` between reference and system labels.
With ``N = sum n_ij``, row sums ``a_i`` and column sums ``b_j`` (Bagga & Baldwin 1998;
dscore ``scorelib.metrics``)::

    B3 precision = (1/N) sum_ij n_ij^2 / b_j      B3 recall = (1/N) sum_ij n_ij^2 / a_i
    MI  = sum_ij (n_ij/N) log2(N n_ij / (a_i b_j))      (bits)
    NMI = MI / sqrt(H(ref) H(sys))   clipped to [0, 1]

If exactly one side has a single label, MI = NMI = 0; if both do, MI = 0 and NMI = 1.
Over several files dscore uses the block-diagonal matrix of the per-file ones (the
non-speech of two files counts as two labels); :class:`ClusteringCounts` keeps the
sums that make this additive.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray


def contingency(
    ref_codes: NDArray[np.int64],
    hyp_codes: NDArray[np.int64],
    weights: NDArray[np.int64] | None = None,
) -> NDArray[np.int64]:
    """(num_ref_labels, num_sys_labels) counts of co-occurring frame labels.

    Codes are per frame, or per interval of ``weights`` (n,) frames; labels that
    occur in no frame get no row or column.
    """
    w = np.ones(len(ref_codes), dtype=np.int64) if weights is None else np.asarray(weights)
    keep = w > 0
    ref_codes, hyp_codes, w = ref_codes[keep], hyp_codes[keep], w[keep]
    if len(ref_codes) == 0:
        return np.zeros((0, 0), dtype=np.int64)
    _, r = np.unique(ref_codes, return_inverse=True)
    _, h = np.unique(hyp_codes, return_inverse=True)
    cm = np.zeros((r.max() + 1, h.max() + 1), dtype=np.int64)
    np.add.at(cm, (r.reshape(-1), h.reshape(-1)), w)
    return cm


def _xlogx(x: NDArray[np.float64]) -> float:
    x = x[x > 0]
    return float(np.sum(x * np.log2(x)))


@dataclass(frozen=True)
class ClusteringCounts:
    """Additive sums of one or more contingency matrices (block-diagonally combined)."""

    n: float = 0.0
    precision_sum: float = 0.0  # sum_ij n_ij^2 / b_j
    recall_sum: float = 0.0  # sum_ij n_ij^2 / a_i
    joint_xlogx: float = 0.0  # sum_ij n_ij log2 n_ij
    ref_xlogx: float = 0.0  # sum_i a_i log2 a_i
    sys_xlogx: float = 0.0  # sum_j b_j log2 b_j
    ref_labels: int = 0
    sys_labels: int = 0

    @classmethod
    def from_contingency(cls, cm: NDArray[np.int64]) -> ClusteringCounts:
        cmf = cm.astype(np.float64)
        a, b = cmf.sum(axis=1), cmf.sum(axis=0)
        sq = cmf**2
        return cls(
            n=float(cmf.sum()),
            precision_sum=float(np.sum(sq / np.where(b > 0, b, 1)[None, :])),
            recall_sum=float(np.sum(sq / np.where(a > 0, a, 1)[:, None])),
            joint_xlogx=_xlogx(cmf.ravel()), ref_xlogx=_xlogx(a), sys_xlogx=_xlogx(b),
            ref_labels=cm.shape[0], sys_labels=cm.shape[1],
        )

    def __add__(self, other: ClusteringCounts) -> ClusteringCounts:
        return ClusteringCounts(*(getattr(self, f.name) + getattr(other, f.name)
                                  for f in fields(self)))

    @property
    def b3(self) -> tuple[float, float, float]:
        """(precision, recall, F1); NaN when there is no frame."""
        if self.n == 0:
            return (float("nan"),) * 3
        p, r = self.precision_sum / self.n, self.recall_sum / self.n
        return p, r, 2 * p * r / (p + r)

    @property
    def mi_nmi(self) -> tuple[float, float]:
        """(MI in bits, NMI); NaN when there is no frame."""
        if self.n == 0:
            return float("nan"), float("nan")
        if (self.ref_labels == 1) != (self.sys_labels == 1):
            return 0.0, 0.0
        if self.ref_labels == self.sys_labels == 1:
            return 0.0, 1.0
        log_n = np.log2(self.n)
        mi = max((self.joint_xlogx - self.ref_xlogx - self.sys_xlogx) / self.n + log_n, 0.0)
        h_ref = max(log_n - self.ref_xlogx / self.n, 0.0)
        h_sys = max(log_n - self.sys_xlogx / self.n, 0.0)
        nmi = mi / np.sqrt(h_ref * h_sys)
        return float(mi), float(np.clip(nmi, 0.0, 1.0))
