"""Acoustic features (numpy in, numpy out); needs the ``pipeline`` extra (kaldi-native-fbank)."""

from __future__ import annotations

from diarefine.features.fbank import (
    FBANK_GRID,
    FbankConfig,
    FrameGrid,
    compute_fbank,
    compute_fbank_batch,
    num_fbank_frames,
    resample_frame_weights,
    subtract_mean,
)

__all__ = [
    "FBANK_GRID",
    "FbankConfig",
    "FrameGrid",
    "compute_fbank",
    "compute_fbank_batch",
    "num_fbank_frames",
    "resample_frame_weights",
    "subtract_mean",
]
