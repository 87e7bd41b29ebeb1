"""Waveform augmentation for distillation: other voices and rooms from the same speech.

Speed perturbation (pitch and formants move with it), then the simulator's room and noise
(`diarefine.data.room`), and a random band limit. Every transform keeps 16 kHz mono
float32 and the input's length, so a crop stays one trunk window.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, resample_poly, sosfilt

from diarefine.data.room import add_at_snr, make_noise, reverberate, synthetic_rir
from diarefine.io.audio import SAMPLE_RATE

SPEEDS = (0.85, 0.9, 0.95, 1.05, 1.1, 1.15)


def speed(x: NDArray[np.float32], factor: float) -> NDArray[np.float32]:
    """``x`` played ``factor`` times faster, cropped or zero-padded back to ``len(x)``."""
    y = resample_poly(x, 100, int(round(100 * factor))).astype(np.float32)
    return y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))


def augment(x: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """A random chain: speed (p 0.6), room of RT60 0.2-0.9 s (p 0.5), band limit
    (p 0.3), white or pink noise at 5-30 dB SNR (p 0.5)."""
    y = x.astype(np.float32, copy=True)
    if rng.random() < 0.6:
        y = speed(y, float(rng.choice(SPEEDS)))
    if rng.random() < 0.5:
        y = reverberate(y, synthetic_rir(rng, float(rng.uniform(0.2, 0.9)),
                                         float(rng.uniform(0, 12))))
    if rng.random() < 0.3:
        sos = butter(4, [rng.uniform(50, 400), rng.uniform(3000, 7500)], btype="bandpass",
                     fs=SAMPLE_RATE, output="sos")
        y = sosfilt(sos, y).astype(np.float32)
    if rng.random() < 0.5:
        noise = make_noise(rng, str(rng.choice(["white", "pink"])), len(y))
        y = add_at_snr(y, noise, np.ones(len(y), dtype=bool), float(rng.uniform(5, 30)))
    peak = float(np.abs(y).max()) if len(y) else 0.0
    return (y * np.float32(0.9 / peak) if peak > 1 else y).astype(np.float32, copy=False)
