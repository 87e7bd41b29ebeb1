"""Synthetic reverberation and noise: the stated RT60, DRR and SNR are the measured ones."""

from __future__ import annotations

import numpy as np
import pytest

from diarefine.data.room import add_at_snr, make_noise, reverberate, synthetic_rir

SR = 16_000


def test_rir_direct_path_drr_and_decay() -> None:
    rng = np.random.default_rng(0)
    rir = synthetic_rir(rng, rt60=0.5, drr_db=4.0).astype(np.float64)
    assert rir[0] == 1.0 and len(rir) == int(1.2 * 0.5 * SR)
    tail = rir[1:]
    assert 10 * np.log10(1.0 / np.sum(tail ** 2)) == pytest.approx(4.0, abs=1e-6)
    # Schroeder backward integration: -60 dB after about RT60.
    energy = np.cumsum(tail[::-1] ** 2)[::-1]
    decay = 10 * np.log10(energy / energy[0])
    t60 = np.argmax(decay < -60) / SR if np.any(decay < -60) else len(tail) / SR
    assert 0.4 < t60 <= 0.6
    assert np.array_equal(synthetic_rir(np.random.default_rng(0), 0.5, 4.0), rir.astype(np.float32))


def test_dry_rir_is_identity() -> None:
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    assert np.array_equal(reverberate(x, synthetic_rir(np.random.default_rng(0), 0.0, 0.0)), x)


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
def test_noise_is_added_at_the_requested_snr(kind: str) -> None:
    rng = np.random.default_rng(2)
    speech = np.zeros(4 * SR, dtype=np.float32)
    speech[SR: 3 * SR] = 0.1 * rng.standard_normal(2 * SR)
    mask = np.zeros(4 * SR, dtype=bool)
    mask[SR: 3 * SR] = True
    others = [rng.standard_normal(SR // 2).astype(np.float32) for _ in range(3)]
    noise = make_noise(rng, kind, 4 * SR, others)
    mixed = add_at_snr(speech, noise, mask, snr_db=15.0)
    added = mixed.astype(np.float64) - speech
    snr = 10 * np.log10(np.mean(speech[mask].astype(np.float64) ** 2) / np.mean(added ** 2))
    assert snr == pytest.approx(15.0, abs=0.01)


def test_pink_noise_has_a_falling_spectrum() -> None:
    noise = make_noise(np.random.default_rng(3), "pink", 2 ** 16)
    power = np.abs(np.fft.rfft(noise)) ** 2
    low, high = power[10:100].mean(), power[10_000:20_000].mean()
    assert 10 * np.log10(low / high) > 15  # 1/f: ~23 dB between these bands


def test_babble_without_other_speakers_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the conversation"):
        make_noise(np.random.default_rng(0), "babble", 100, [])
