"""Optimal one-to-one speaker mapping (Hungarian algorithm)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment


def optimal_mapping(
    overlap: NDArray[np.float64], ref_speakers: tuple[str, ...], hyp_speakers: tuple[str, ...]
) -> dict[str, str]:
    """Reference -> hypothesis speaker pairs maximising the total ``overlap``.

    ``overlap``: (num_ref, num_hyp) co-occurrence durations. As in md-eval-22, only
    pairs that share some time are mapped.
    """
    if overlap.size == 0:
        return {}
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return {
        ref_speakers[r]: hyp_speakers[c] for r, c in zip(rows, cols) if overlap[r, c] > 0
    }


def mapping_indices(
    mapping: dict[str, str], ref_speakers: tuple[str, ...], hyp_speakers: tuple[str, ...]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Column indices of the mapped pairs, in the order of ``ref_speakers``."""
    ref_index = {s: i for i, s in enumerate(ref_speakers)}
    hyp_index = {s: i for i, s in enumerate(hyp_speakers)}
    pairs = sorted((ref_index[r], hyp_index[h]) for r, h in mapping.items())
    return (np.array([p[0] for p in pairs], dtype=np.int64),
            np.array([p[1] for p in pairs], dtype=np.int64))
