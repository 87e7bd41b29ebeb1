"""``diarefine simulate`` and ``diarefine prepare`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diarefine", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def source(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two LibriSpeech test-other speakers, two utterances each (symlinks)."""
    root = tmp_path_factory.mktemp("cli") / "speech"
    origin = shared_data / "librispeech-261" / "librispeech_test-other"
    for name in ("1688-142285-0000", "1688-142285-0001", "1998-15444-0000", "1998-15444-0001"):
        link = root / "librispeech_test-other" / name.split("-")[0] / f"{name}.flac"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(origin / name.split("-")[0] / f"{name}.flac")
    return root


def test_commands_are_registered() -> None:
    proc = run("--help")
    assert proc.returncode == 0 and "simulate" in proc.stdout and "prepare" in proc.stdout


def test_simulate_writes_a_set_and_reruns_as_a_no_op(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "set"
    args = ("simulate", source, "-o", out, "--num", "1", "--duration", "20", "--speakers", "2",
            "--split", "test", "--seed", "3", "--snr", "none", "--uri", "demo")
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    assert "1 generated, 0 already complete" in proc.stdout and "demo" in proc.stderr
    line = json.loads((out / "manifest.jsonl").read_text())
    assert (line["uri"], line["audio"], line["num_speakers"], line["split"], line["seed"]) == (
        "demo", "audio/demo.flac", 2, "test", 3)
    assert sorted(line["speakers"]) == ["1688", "1998"]
    assert (out / "rttm" / "demo.rttm").read_text().startswith("SPEAKER demo 1 ")
    assert list((out / "cache").glob("vad-*.json"))  # the cache lives in the output
    audio = sf.read(out / "audio" / "demo.flac", dtype="float32")[0]
    assert 20.0 <= len(audio) / 16_000 < 36.0 and np.abs(audio).max() <= 0.9 + 1e-4
    again = run(*args)
    assert again.returncode == 0 and "0 generated, 1 already complete" in again.stdout


def test_simulate_refuses_bad_requests(source: Path, tmp_path: Path) -> None:
    proc = run("simulate", source, "-o", tmp_path, "--split", "train")
    assert proc.returncode == 2 and "split 'train' has 0 speaker(s)" in proc.stderr
    proc = run("simulate", source, "-o", tmp_path, "--split", "test", "--only-speakers",
               "1688,42")
    assert proc.returncode == 2 and "not found in the source: 42" in proc.stderr
    proc = run("simulate", source, "-o", tmp_path, "--speakers", "3-2")
    assert proc.returncode == 2 and "MIN is above MAX" in proc.stderr


def test_prepare_reports_by_name_and_writes_only_when_allowed(shared_data: Path,
                                                              tmp_path: Path) -> None:
    yml = shared_data / "ami-excerpts" / "database.yml"
    out = tmp_path / "ami.jsonl"
    base = ("prepare", "pyannote", yml, "--protocol", "Debug.SpeakerDiarization.Debug",
            "--subset", "train", "-o", out)
    proc = run(*base)
    assert proc.returncode == 2 and not out.exists()
    assert "problem: trñ00: no audio (./trñ00.wav)" in proc.stderr
    assert "problem: trn00: not listed in debug.train.lst" in proc.stderr
    assert "2 problem(s)" in proc.stderr and "nothing written" in proc.stderr
    proc = run(*base, "--allow-missing")
    assert proc.returncode == 0 and "9 recording(s), 2 left out" in proc.stdout
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["uri"] for x in lines][:2] == ["trn01", "trn02"] and lines[0]["split"] == "train"
    assert Path(lines[0]["audio"]) == yml.parent / "trn01.wav"


def test_prepare_kaldi_dir_relative_paths(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "a.wav", np.zeros(16_000, np.float32), 16_000)
    (data / "wav.scp").write_text("a a.wav\n")
    (data / "rttm").write_text("SPEAKER a 1 0.1 0.5 <NA> <NA> s <NA> <NA>\n")
    proc = run("prepare", "kaldi", data, "-o", data / "manifest.jsonl")
    assert proc.returncode == 0, proc.stderr
    line = json.loads((data / "manifest.jsonl").read_text())
    assert (line["audio"], line["rttm"], line["uem"], line["duration"]) == ("a.wav", "rttm",
                                                                           None, 1.0)


def test_prepare_writes_and_reads_a_nemo_manifest(shared_data: Path, tmp_path: Path) -> None:
    """The AMI excerpts' dev split through the pyannote protocol, written as a NeMo
    diarization manifest too, then read back as NeMo: the same recordings, references,
    UEMs and speaker counts."""
    database = shared_data / "ami-excerpts" / "database.yml"
    first = run("prepare", "pyannote", database, "--protocol", "Debug.SpeakerDiarization.Debug",
                "--subset", "development", "-o", tmp_path / "dev.jsonl",
                "--nemo", tmp_path / "dev-nemo.json")
    assert first.returncode == 0, first.stderr
    nemo = [json.loads(line) for line in (tmp_path / "dev-nemo.json").read_text().splitlines()]
    assert [Path(n["audio_filepath"]).name for n in nemo] == ["dev00.wav", "dev01.wav"]
    assert all(n["label"] == "infer" and n["num_speakers"] == 2 and n["offset"] == 0
               for n in nemo)
    back = run("prepare", "nemo", tmp_path / "dev-nemo.json", "-o", tmp_path / "back.jsonl")
    assert back.returncode == 0, back.stderr

    def essentials(path: Path) -> list[tuple]:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        return [(r["uri"], Path(r["audio"]).name, r["num_speakers"], r["duration"],
                 r["overlap_ratio"]) for r in rows]

    assert essentials(tmp_path / "back.jsonl") == essentials(tmp_path / "dev.jsonl")
    (tmp_path / "broken.json").write_text('{"audio_filepath": "x.wav"}\n{"offset": 0}\n')
    bad = run("prepare", "nemo", tmp_path / "broken.json", "-o", tmp_path / "b.jsonl")
    assert bad.returncode == 2 and "broken.json:2: missing 'audio_filepath'" in bad.stderr
