"""Simulated sets on disk: determinism, tight references, resumable and split-safe output.

Synthetic sources with an exact stub VAD test the machinery; a tiny real LibriSpeech
source with Silero VAD tests the tight reference on real speech.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import EnergyVad, write_synthetic_source
from diarefine.data.manifest import load_references, read_manifest
from diarefine.data.simset import SetSpec, simulate_set
from diarefine.data.simulate import SimulationConfig, speech_mask
from diarefine.data.splits import SplitError
from diarefine.data.vad import SileroVad, VadCache
from diarefine.errors import DiarefineError

SMALL = SimulationConfig(duration=(20.0, 30.0), speakers=(2, 3), overlap=0.15)
SPEC = SetSpec(num=3, split="test", seed=11)


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and "cache" not in p.parts}


def inside_outside_db(rec) -> tuple[float, float]:
    audio, sr = sf.read(rec.audio, dtype="float32")
    mask = speech_mask(load_references([rec])[rec.uri], len(audio))
    power = audio.astype(np.float64) ** 2
    return 10 * np.log10(power[mask].mean()), 10 * np.log10(power[~mask].mean() + 1e-20)


def test_same_seed_same_bytes_other_seed_other_bytes(synthetic_source: Path,
                                                     tmp_path: Path) -> None:
    config = SimulationConfig(duration=(20.0, 30.0), speakers=(2, 3), rt60=(0.2, 0.4),
                              snr_db=(15.0, 25.0))
    a = simulate_set(synthetic_source, tmp_path / "a", SPEC, config, detector=EnergyVad())
    b = simulate_set(synthetic_source, tmp_path / "b", SPEC, config, detector=EnergyVad())
    c = simulate_set(synthetic_source, tmp_path / "c", SetSpec(num=3, split="test", seed=12),
                     config, detector=EnergyVad())
    assert a.generated == 3 and files(tmp_path / "a") == files(tmp_path / "b")
    assert {p for p in files(tmp_path / "a")} >= {
        "manifest.jsonl", "ATTRIBUTION.txt", "audio/sim-test-s11-0000.flac",
        "rttm/sim-test-s11-0000.rttm", "uem/sim-test-s11-0000.uem", "meta/sim-test-s11-0002.json"}
    assert (tmp_path / "a" / "audio/sim-test-s11-0000.flac").read_bytes() != (
        tmp_path / "c" / "audio/sim-test-s12-0000.flac").read_bytes()
    assert [r.uri for r in b.records] == [r.uri for r in a.records]
    assert [r.uri for r in c.records][0] == "sim-test-s12-0000"


def test_conversation_does_not_depend_on_num(synthetic_source: Path, tmp_path: Path) -> None:
    simulate_set(synthetic_source, tmp_path / "a", SetSpec(num=1, split="test", seed=11),
                 SMALL, detector=EnergyVad())
    simulate_set(synthetic_source, tmp_path / "b", SPEC, SMALL, detector=EnergyVad())
    name = "audio/sim-test-s11-0000.flac"
    assert files(tmp_path / "a")[name] == files(tmp_path / "b")[name]


def test_outputs_are_consistent_and_reference_is_tight(synthetic_source: Path,
                                                       tmp_path: Path) -> None:
    config = SimulationConfig(duration=(20.0, 30.0), speakers=(2, 3), snr_db=None)
    result = simulate_set(synthetic_source, tmp_path, SPEC, config, detector=EnergyVad())
    for rec in read_manifest(result.manifest):
        info = sf.info(str(rec.audio))
        assert info.samplerate == 16_000 and info.channels == 1
        assert rec.duration == pytest.approx(info.frames / 16_000, abs=1e-3)
        assert rec.uem.read_text() == f"{rec.uri} 1 0.000 {rec.duration:.3f}\n"
        assert 2 <= rec.num_speakers <= 3 and rec.split == "test" and rec.seed == 11
        inside, outside = inside_outside_db(rec)
        assert inside - outside > 60  # dry, noiseless: silence outside the turns
        meta = json.loads((tmp_path / "meta" / f"{rec.uri}.json").read_text())
        assert all(s.startswith("librispeech_test-other/") for s in meta["sources"])


def test_rerun_skips_complete_conversations_and_refuses_other_settings(
        synthetic_source: Path, tmp_path: Path) -> None:
    first = simulate_set(synthetic_source, tmp_path, SPEC, SMALL, detector=EnergyVad())
    before = files(tmp_path)
    again = simulate_set(synthetic_source, tmp_path, SPEC, SMALL, detector=EnergyVad())
    assert (again.generated, again.skipped) == (0, 3) and files(tmp_path) == before
    assert again.records == first.records
    (tmp_path / "audio" / "sim-test-s11-0001.flac").unlink()  # an interrupted conversation
    assert simulate_set(synthetic_source, tmp_path, SPEC, SMALL,
                        detector=EnergyVad()).generated == 1
    assert files(tmp_path) == before
    other = SimulationConfig(duration=(20.0, 30.0), speakers=(2, 3), overlap=0.05)
    with pytest.raises(DiarefineError, match="sim-test-s11-0000 was made with other settings"):
        simulate_set(synthetic_source, tmp_path, SPEC, other, detector=EnergyVad())
    assert simulate_set(synthetic_source, tmp_path, SPEC, other, detector=EnergyVad(),
                        overwrite=True).generated == 3


def test_folder_with_another_splits_speakers_is_refused(synthetic_source: Path,
                                                        tmp_path: Path) -> None:
    simulate_set(synthetic_source, tmp_path, SPEC, SMALL, detector=EnergyVad())
    meta_path = tmp_path / "meta" / "sim-test-s11-0000.json"
    meta = json.loads(meta_path.read_text())
    meta["record"]["split"] = "train"  # as if these speakers had been used for training
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(SplitError, match="in two splits"):
        simulate_set(synthetic_source, tmp_path, SetSpec(num=1, split="test", seed=99), SMALL,
                     detector=EnergyVad())


def test_forced_speakers_and_impossible_requests_are_refused(tmp_path: Path) -> None:
    source = write_synthetic_source(tmp_path / "src", speakers=2)
    write_synthetic_source(tmp_path / "src", speakers=1, subset="dev-clean", seed=1)
    with pytest.raises(SplitError, match=r"100 \(dev: "):  # speaker 100 also in dev-clean
        simulate_set(source, tmp_path / "o", SPEC, SMALL, detector=EnergyVad())
    source = write_synthetic_source(tmp_path / "src2", speakers=3)
    with pytest.raises(SplitError, match="not found"):
        simulate_set(source, tmp_path / "o", SetSpec(split="test", only_speakers=("999",)),
                     SMALL, detector=EnergyVad())
    with pytest.raises(DiarefineError, match="has 2 speaker"):
        simulate_set(source, tmp_path / "o", SetSpec(split="test", only_speakers=("100", "101")),
                     SMALL, detector=EnergyVad())
    with pytest.raises(DiarefineError, match="lacks"):
        simulate_set(source, tmp_path / "o", SetSpec(num=2, split="test", uri="demo"), SMALL,
                     detector=EnergyVad())
    with pytest.raises(DiarefineError, match="has 0 speaker"):
        simulate_set(source, tmp_path / "o", SetSpec(split="train"), SMALL, detector=EnergyVad())


def test_overlap_and_speaker_counts_within_requested_ranges_over_a_batch(
        synthetic_source: Path, tmp_path: Path) -> None:
    config = SimulationConfig(duration=(60.0, 90.0), speakers=(2, 4), overlap=0.12, snr_db=None)
    spec = SetSpec(num=8, split="test", seed=3)
    recs = simulate_set(synthetic_source, tmp_path, spec, config, detector=EnergyVad()).records
    assert all(2 <= r.num_speakers <= 4 for r in recs)
    assert len({r.num_speakers for r in recs}) >= 2
    assert all(60.0 <= r.duration <= 90.0 + 16.0 for r in recs)
    ratios = [r.overlap_ratio for r in recs]
    assert np.mean(ratios) == pytest.approx(0.12, abs=0.03) and min(ratios) > 0.05


# --------------------------------------------------------------------------- real speech

def test_silero_regions_are_tighter_than_the_utterances(real_source: Path,
                                                        vad_cache: Path) -> None:
    from diarefine.data.simset import build_material
    from diarefine.data.sources import load_sources

    vad = SileroVad()
    utterances = load_sources(real_source)
    material = build_material(utterances, vad, VadCache(vad_cache, vad.key()))
    assert sorted(material) == ["1688", "1998", "2033"]
    for utt in utterances:
        pieces = [p for p in material[utt.speaker] if p.source == utt.name]
        total = sf.info(str(utt.path)).frames
        speech = sum(len(p.audio) for p in pieces)
        assert pieces and speech < total  # pauses and edges left out
        assert pieces[0].start > 0  # leading silence is not speech
    assert list(vad_cache.glob("vad-*.json"))


def test_real_speech_reference_is_tight_and_deterministic(real_source: Path, vad_cache: Path,
                                                          tmp_path: Path) -> None:
    config = SimulationConfig(duration=(25.0, 30.0), speakers=(2, 3), snr_db=(30.0, 30.0))
    spec = SetSpec(num=2, split="test", seed=5)
    a = simulate_set(real_source, tmp_path / "a", spec, config, cache_dir=vad_cache)
    simulate_set(real_source, tmp_path / "b", spec, config, cache_dir=vad_cache)
    assert files(tmp_path / "a") == files(tmp_path / "b")
    for rec in a.records:
        inside, outside = inside_outside_db(rec)
        assert inside - outside > 25  # speech 30 dB above the noise floor between turns
        assert rec.speakers and set(rec.speakers) <= {"1688", "1998", "2033"}
