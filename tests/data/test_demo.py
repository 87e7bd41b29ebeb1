"""The demo conversation shipped in examples/: what examples/README.md says it is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from diarefine.data.manifest import overlap_ratio
from diarefine.data.simulate import speech_mask
from diarefine.io.rttm import read_rttm
from diarefine.io.uem import read_uem

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_demo_conversation_is_small_consistent_and_tight() -> None:
    audio, sr = sf.read(EXAMPLES / "demo.flac", dtype="float32")
    assert sr == 16_000 and audio.ndim == 1 and 45.0 <= len(audio) / sr <= 75.0
    assert (EXAMPLES / "demo.flac").stat().st_size < 1.5e6
    ref = read_rttm(EXAMPLES / "demo.rttm")["demo"]
    assert len(ref.speakers) in (2, 3) and 0.05 < overlap_ratio(ref) < 0.25
    assert read_uem(EXAMPLES / "demo.uem")["demo"].bounds.tolist() == [[0.0, round(
        len(audio) / sr, 3)]]
    power = audio.astype(np.float64) ** 2
    mask = speech_mask(ref, len(audio))
    assert 10 * np.log10(power[mask].mean() / power[~mask].mean()) > 25
    readme = (EXAMPLES / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Panayotov" in readme
    assert all(s in readme for s in ref.speakers)
