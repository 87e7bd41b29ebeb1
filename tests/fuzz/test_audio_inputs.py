"""Fuzzing the audio input: damaged and unusual files either load as finite 16 kHz mono
float32 or are refused with an AudioError naming the file; never another exception or a
hang."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diarefine.errors import AudioError
from diarefine.io.audio import load_audio


def wav_bytes(x: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, x, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


NOISE = (0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32)
VALID = wav_bytes(NOISE, 16000)


def loads_or_refuses(path: Path) -> np.ndarray | None:
    try:
        out = load_audio(path)
    except AudioError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return None
    assert out.dtype == np.float32 and out.ndim == 1 and np.isfinite(out).all()
    return out


@settings(max_examples=120, deadline=5000,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 200), payload=st.binary(min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(0, len(VALID))))
def test_damaged_wav_files_load_or_are_refused(tmp_path: Path, position: int,
                                               payload: bytes, cut: int | None) -> None:
    data = VALID[:position] + payload + VALID[position + len(payload):]
    if cut is not None:
        data = data[:cut]
    path = tmp_path / "damaged.wav"
    path.write_bytes(data)
    loads_or_refuses(path)


@pytest.mark.parametrize(("rate", "subtype", "channels"), [
    (8000, "PCM_U8", 1), (11025, "PCM_24", 2), (44100, "PCM_32", 1), (96000, "FLOAT", 3),
    (192000, "DOUBLE", 1), (7350, "PCM_16", 16), (1000, "PCM_16", 1),
])
def test_odd_rates_widths_and_channel_counts_become_16_khz_mono(
        tmp_path: Path, rate: int, subtype: str, channels: int) -> None:
    t = np.arange(rate // 2) / rate
    x = 0.3 * np.sin(2 * np.pi * 200 * t)
    frames = np.repeat(x[:, None], channels, axis=1)
    path = tmp_path / f"odd-{rate}.wav"
    sf.write(path, frames, rate, subtype=subtype)
    out = loads_or_refuses(path)
    assert out is not None
    assert abs(len(out) - 8000) <= 1  # half a second at 16 kHz
    if rate >= 8000:  # a 200 Hz tone survives every rate here
        assert 0.15 < float(np.abs(out).max()) < 0.35


def test_nan_and_infinite_samples_are_refused_by_name(tmp_path: Path) -> None:
    for bad in (np.nan, np.inf):
        x = NOISE.copy()
        x[100] = bad
        path = tmp_path / f"bad-{bad}.wav"
        sf.write(path, x, 16000, subtype="FLOAT")
        with pytest.raises(AudioError, match=r"bad-.*\.wav: audio contains NaN or infinite"):
            load_audio(path)


def test_a_wrong_header_is_refused_and_an_empty_file_gives_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "noriff.wav"
    path.write_bytes(b"RIFX" + VALID[4:])
    with pytest.raises(AudioError, match="noriff.wav: cannot read audio"):
        load_audio(path)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    assert len(load_audio(empty)) == 0
