"""Corpus layout readers on tiny fixture trees, complete and broken, and the real AMI
excerpts' database.yml (whose list names trñ00 while the files say trn00)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diarefine.data.corpora import CorpusError, fold, prepare

SR = 16_000


def wav(path: Path, seconds: float = 3.0, fmt: str = "WAV") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * SR), np.float32), SR, format=fmt)
    return path


def rttm(uri: str, *turns: tuple[float, float, str]) -> str:
    return "".join(f"SPEAKER {uri} 1 {a:.3f} {d:.3f} <NA> <NA> {s} <NA> <NA>\n"
                   for a, d, s in turns)


def problems(result) -> dict[str, str]:
    return {p.uri: p.message for p in result.problems}


# ------------------------------------------------------------------------------ kaldi

def kaldi_tree(root: Path, broken: bool = False) -> Path:
    data = root / "data" / "test"
    data.mkdir(parents=True)
    wav(root / "wavs" / "a.wav"), wav(root / "wavs" / "b.wav")
    scp = "a ../../wavs/a.wav\nb " + str(root / "wavs" / "b.wav") + "\n"
    ref = rttm("a", (0.0, 1.0, "x"), (0.5, 1.0, "y")) + rttm("b", (0.2, 0.5, "z"))
    uem = "a 1 0.000 3.000\nb 1 0.000 3.000\n"
    if broken:
        (root / "wavs" / "notaudio.wav").write_text("this is not audio")
        scp += "c ../../wavs/missing.wav\nd ../../wavs/notaudio.wav\ne ../../wavs/b.wav\n"
        ref += rttm("c", (0, 1, "x")) + rttm("d", (0, 1, "x")) + rttm("f", (0, 1, "x"))
        ref += rttm("b", (2.0, 3.0, "z"))  # ends at 5 s, after the 3 s audio
        uem += "c 1 0 3\nd 1 0 3\nf 1 0 3\n"
    (data / "wav.scp").write_text(scp)
    (data / "rttm").write_text(ref)
    (data / "all.uem").write_text(uem)
    return data


def test_kaldi_data_dir(tmp_path: Path) -> None:
    result = prepare("kaldi", kaldi_tree(tmp_path))
    assert not result.problems
    a, b = result.recordings
    assert (a.uri, a.num_speakers, a.speakers, a.duration) == ("a", 2, ("x", "y"), 3.0)
    assert a.audio == tmp_path / "data" / "test" / "../../wavs/a.wav"
    assert a.overlap_ratio == pytest.approx(0.5 / 1.5)
    assert a.uem.name == "all.uem" and b.rttm.name == "rttm" and a.split is None


def test_kaldi_broken_tree_names_every_problem(tmp_path: Path) -> None:
    result = prepare("kaldi", kaldi_tree(tmp_path, broken=True))
    found = problems(result)
    assert set(found) == {"b", "c", "d", "e", "f"}
    assert "turns end at 5.000 s, after the audio's 3.000 s" in found["b"]
    assert "missing.wav: no such audio file" in found["c"]
    assert "cannot read audio" in found["d"]
    assert found["e"] == "no reference turns; no line in the UEM"
    assert found["f"].startswith("no audio (not in ")
    assert [r.uri for r in result.recordings] == ["a"]


def test_kaldi_without_wav_scp_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="wav.scp"):
        prepare("kaldi", tmp_path)


# ------------------------------------------------------------------------ voxconverse

def test_voxconverse_layout_with_mismatches(tmp_path: Path) -> None:
    for uri in ("abjxc", "afjiv", "bvqnu"):
        wav(tmp_path / "audio" / f"{uri}.wav")
    (tmp_path / "rttm").mkdir()
    (tmp_path / "rttm" / "abjxc.rttm").write_text(rttm("abjxc", (0.5, 1.0, "spk00")))
    (tmp_path / "rttm" / "zzzzz.rttm").write_text(rttm("zzzzz", (0.5, 1.0, "spk00")))
    (tmp_path / "rttm" / "bvqnu.rttm").write_text(rttm("BVQNU", (0.5, 1.0, "spk00")))
    result = prepare("voxconverse", tmp_path)
    assert [r.uri for r in result.recordings] == ["abjxc"]
    assert result.recordings[0].uem is None
    found = problems(result)
    assert found["afjiv"] == "no reference turns"
    assert found["zzzzz"].startswith("no audio (") and found["zzzzz"].endswith("zzzzz.wav)")
    assert found["bvqnu"] == "bvqnu.rttm holds recording(s) BVQNU; no reference turns"


def test_voxconverse_rttm_dir_option_and_missing_folder(tmp_path: Path) -> None:
    wav(tmp_path / "audio" / "abjxc.wav")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "abjxc.rttm").write_text(rttm("abjxc", (0.5, 1.0, "spk00")))
    with pytest.raises(CorpusError, match="no such RTTM folder"):
        prepare("voxconverse", tmp_path)
    assert len(prepare("voxconverse", tmp_path, rttm_dir=tmp_path / "dev").recordings) == 1


# ---------------------------------------------------------------------------- dihard

def dihard_tree(root: Path) -> Path:
    data = root / "LDC2022E12_DIHARD_III_dev" / "data"
    for uri in ("DH_DEV_0001", "DH_DEV_0002"):
        wav(data / "flac" / f"{uri}.flac", fmt="FLAC")
        (data / "rttm").mkdir(parents=True, exist_ok=True)
        (data / "rttm" / f"{uri}.rttm").write_text(rttm(uri, (0.1, 1.0, "A"), (1.0, 1.5, "B")))
    (data / "rttm" / "DH_DEV_0003.rttm").write_text(rttm("DH_DEV_0003", (0.1, 1.0, "A")))
    (data / "uem_scoring" / "core").mkdir(parents=True)
    (data / "uem_scoring" / "full").mkdir(parents=True)
    (data / "uem_scoring" / "core" / "all.uem").write_text("DH_DEV_0001 1 0.000 2.000\n")
    (data / "uem_scoring" / "full" / "all.uem").write_text(
        "DH_DEV_0001 1 0.000 3.000\nDH_DEV_0002 1 0.000 3.000\nDH_DEV_0003 1 0.000 3.000\n")
    return data.parent


def test_dihard_partitions(tmp_path: Path) -> None:
    top = dihard_tree(tmp_path)
    core = prepare("dihard", top, partition="core")
    assert [r.uri for r in core.recordings] == ["DH_DEV_0001"] and not core.problems
    assert core.recordings[0].uem.parent.name == "core"
    full = prepare("dihard", top / "data", partition="full", split="dev")
    assert [r.uri for r in full.recordings] == ["DH_DEV_0001", "DH_DEV_0002"]
    assert full.recordings[0].split == "dev"
    assert problems(full) == {"DH_DEV_0003": "no audio ("
                              + str(top / "data" / "flac" / "DH_DEV_0003") + ".flac)"}


def test_dihard_without_the_ldc_layout_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="flac folder"):
        prepare("dihard", tmp_path)


# -------------------------------------------------------------------------- pyannote

DATABASE_YML = """Protocols:
  Toy:
    SpeakerDiarization:
      Small:
        scope: file
        test:
          uri: lists/test.lst
          annotation: refs/test.rttm
          annotated: refs/test.uem
Databases:
  Toy:
    - audio/{uri}.wav
    - more/{uri}.flac
"""


def test_pyannote_protocol_with_two_path_templates(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir(), (tmp_path / "refs").mkdir()
    (tmp_path / "database.yml").write_text(DATABASE_YML)
    (tmp_path / "lists" / "test.lst").write_text("one\ntwo\nÉcole\n")
    wav(tmp_path / "audio" / "one.wav"), wav(tmp_path / "more" / "two.flac", fmt="FLAC")
    wav(tmp_path / "audio" / "Ecole.wav")
    (tmp_path / "refs" / "test.rttm").write_text(
        rttm("one", (0, 1, "a")) + rttm("two", (0, 1, "b")) + rttm("Ecole", (0, 1, "c"))
        + rttm("other", (0, 1, "d")))  # another subset's recording: ignored
    (tmp_path / "refs" / "test.uem").write_text("one 1 0 3\ntwo 1 0 3\nEcole 1 0 3\n")
    result = prepare("pyannote", tmp_path / "database.yml", protocol="Toy.SpeakerDiarization.Small",
                     subset="test")
    assert [r.uri for r in result.recordings] == ["one", "two"]
    assert result.recordings[1].audio.name == "two.flac"
    found = problems(result)
    assert found["École"] == ("no audio (audio/École.wav or more/École.flac); no reference "
                              "turns; no line in the UEM; did you mean 'Ecole'?")
    assert found["Ecole"] == "not listed in test.lst; did you mean 'École'?"
    assert "other" not in found
    with pytest.raises(CorpusError, match="no protocol 'Toy.SpeakerDiarization.Big'"):
        prepare("pyannote", tmp_path / "database.yml", protocol="Toy.SpeakerDiarization.Big")
    with pytest.raises(CorpusError, match="needs a protocol"):
        prepare("pyannote", tmp_path / "database.yml")


def test_ami_excerpts_report_the_trn00_mismatch(shared_data: Path) -> None:
    yml = shared_data / "ami-excerpts" / "database.yml"
    train = prepare("pyannote", yml, protocol="Debug.SpeakerDiarization.Debug", subset="train")
    assert [r.uri for r in train.recordings] == [f"trn0{i}" for i in range(1, 10)]
    found = problems(train)
    assert set(found) == {"trn00", "trñ00"}
    assert "did you mean 'trn00'?" in found["trñ00"] and "no audio" in found["trñ00"]
    dev = prepare("pyannote", yml, protocol="Debug.SpeakerDiarization.Debug", subset="development")
    assert [r.uri for r in dev.recordings] == ["dev00", "dev01"] and not dev.problems
    assert dev.recordings[0].split == "dev"
    assert dev.recordings[0].duration == pytest.approx(30.0, abs=1e-3)


def test_fold_ignores_accents_and_case() -> None:
    assert fold("trñ00") == fold("TRN00") == "trn00"
