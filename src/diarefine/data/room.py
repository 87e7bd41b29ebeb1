"""Room acoustics for simulated conversations: synthetic reverberation and additive noise.

No external data is used.

* **Reverberation** (:func:`synthetic_rir`): a room impulse response made of a unit direct
  path at lag 0 (so the reference times stay aligned with the direct sound) followed,
  after a pre-delay of 2-6 ms, by Gaussian noise whose amplitude decays as
  ``exp(-3 ln(10) t / RT60)`` (energy 60 dB down after RT60 seconds: Sabine's definition,
  the usual "exponentially decaying noise" model of late reverberation, e.g. Lehmann &
  Johansson 2008). The tail is scaled so that the direct-to-reverberant energy ratio is
  ``drr_db``; each speaker gets its own response (its own position in the room).
  The reverberant tail of a turn is *not* speech in the reference, as in real corpora.
* **Noise** (:func:`make_noise`): white or pink (1/f power, shaped in the frequency
  domain) Gaussian noise, or babble (the sum of 4 streams of speech from speakers *not*
  in the conversation). :func:`add_at_snr` scales it so that the speech power measured
  over the reference speech time over the noise power over the whole file is ``snr_db``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.signal import fftconvolve

from diarefine.io.audio import SAMPLE_RATE

NOISE_KINDS = ("pink", "white", "babble")


def synthetic_rir(rng: np.random.Generator, rt60: float, drr_db: float,
                  sample_rate: int = SAMPLE_RATE) -> NDArray[np.float32]:
    """Impulse response (num_taps,) with direct path 1 at lag 0; length 1.2 x RT60."""
    if rt60 <= 0:
        return np.ones(1, dtype=np.float32)
    n = max(2, int(1.2 * rt60 * sample_rate))
    delay = int(rng.integers(int(0.002 * sample_rate), int(0.006 * sample_rate) + 1))
    t = np.arange(n - delay) / sample_rate
    tail = rng.standard_normal(len(t)) * np.exp(-3.0 * np.log(10.0) * t / rt60)
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / max(np.sum(tail ** 2), 1e-12))
    rir = np.zeros(n, dtype=np.float64)
    rir[0] = 1.0
    rir[delay:] += tail
    return rir.astype(np.float32)


def reverberate(signal: NDArray[np.float32], rir: NDArray[np.float32]) -> NDArray[np.float32]:
    """``signal`` convolved with ``rir``, cut to the signal's length. Shape (num_samples,)."""
    if len(rir) == 1:
        return (signal * rir[0]).astype(np.float32)
    return fftconvolve(signal, rir)[: len(signal)].astype(np.float32)


def pink_noise(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """Unit-variance noise with a 1/f power spectrum. Shape (n,)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(f), n)
    return noise / max(float(np.std(noise)), 1e-12)


def babble(rng: np.random.Generator, n: int, pieces: Sequence[NDArray[np.float32]],
           streams: int = 4) -> NDArray[np.float64]:
    """Sum of ``streams`` random concatenations of ``pieces`` (speech of other speakers),
    unit variance. Shape (n,)."""
    if not pieces:
        raise ValueError("babble noise needs speech from speakers outside the conversation")
    out = np.zeros(n)
    for _ in range(streams):
        stream, filled = [], 0
        while filled < n:
            piece = pieces[int(rng.integers(len(pieces)))].astype(np.float64)
            piece = piece / max(float(np.std(piece)), 1e-12)
            stream.append(piece)
            filled += len(piece)
        out += np.concatenate(stream)[:n]
    return out / max(float(np.std(out)), 1e-12)


def make_noise(rng: np.random.Generator, kind: str, n: int,
               pieces: Sequence[NDArray[np.float32]] = ()) -> NDArray[np.float64]:
    """Unit-variance noise of ``kind`` (one of :data:`NOISE_KINDS`). Shape (n,)."""
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return pink_noise(rng, n)
    if kind == "babble":
        return babble(rng, n, pieces)
    raise ValueError(f"unknown noise kind {kind!r}; expected one of {', '.join(NOISE_KINDS)}")


def add_at_snr(speech: NDArray[np.float32], noise: NDArray[np.float64],
               speech_mask: NDArray[np.bool_], snr_db: float) -> NDArray[np.float32]:
    """``speech + g * noise`` with ``g`` giving ``snr_db`` (speech power over the samples
    of ``speech_mask``, noise power over the whole file). Shapes all (num_samples,)."""
    active = speech[speech_mask].astype(np.float64)
    p_speech = float(np.mean(active ** 2)) if len(active) else 0.0
    p_noise = float(np.mean(noise ** 2)) if len(noise) else 0.0
    if p_speech <= 0 or p_noise <= 0:
        return speech.astype(np.float32)
    gain = np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (speech + gain * noise).astype(np.float32)
