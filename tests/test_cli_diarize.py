"""``diarefine diarize`` as a user runs it: a batch with a bad file, resuming, wav.scp,
options reaching the pipeline, parallel jobs, one-line errors.

Each run is a ``python -m diarefine`` subprocess that loads the models (a few seconds), so
the checks are grouped into few runs. Inputs are 12 s cuts of the pyannote sample. The
subprocesses run torch on one thread (``OMP_NUM_THREADS=1``): with two threads the models
slow down 10-50 times whenever another process keeps a core of this 2-core machine busy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from diarefine.io.rttm import parse_rttm, read_rttm
from needs import require, require_pipeline

pytestmark = pytest.mark.slow

SR = 16_000
#: the process, OUTDIR and the RTTM files written by the first run
FirstRun = tuple[subprocess.CompletedProcess, Path, dict[str, bytes]]
GOOD = ("a", "b")  # a.wav: 0-12 s of the sample (one speaker), b.flac: 12-24 s (two)


def diarize(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "diarefine", "diarize", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def no_part_files(outdir: Path) -> bool:
    return not [name for name in os.listdir(outdir) if name.endswith(".part")]


def snapshot(outdir: Path) -> dict[str, tuple[int, int, str]]:
    """name -> (inode, mtime_ns, sha256) of every RTTM."""
    out = {}
    for path in sorted(outdir.glob("*.rttm")):
        st = path.stat()
        out[path.name] = (st.st_ino, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    require_pipeline()
    sample = shared_data / "pyannote-sample" / "sample.wav"
    require(sample.is_file(), f"{sample} is absent")
    x, sr = sf.read(sample, dtype="float32")
    assert sr == SR
    root = tmp_path_factory.mktemp("cli")
    folder = root / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", x[: 12 * SR], SR, subtype="FLOAT")
    sf.write(folder / "b.flac", x[12 * SR: 24 * SR], SR)
    (folder / "c.wav").write_bytes(np.random.default_rng(0).bytes(4000))  # corrupt
    sf.write(folder / "s.wav", np.zeros(3 * SR, np.float32), SR)  # silent
    (folder / "notes.txt").write_text("not audio\n")
    return root


@pytest.fixture(scope="module")
def first_run(inputs: Path) -> FirstRun:
    out = inputs / "out"
    proc = diarize(inputs / "in", "-o", out)
    return proc, out, {p.name: p.read_bytes() for p in out.glob("*.rttm")}


def test_batch_with_a_corrupt_file_completes_the_others_and_reports_it(first_run: FirstRun) -> None:
    proc, out, contents = first_run
    assert proc.returncode == 1, proc.stderr
    assert sorted(contents) == ["a.rttm", "b.rttm", "s.rttm"]  # nothing for c, nor notes.txt
    for uri in GOOD:
        rttm = read_rttm(out / f"{uri}.rttm")
        assert list(rttm) == [uri]
        annotation = rttm[uri]
        assert 1 <= len(annotation.speakers) <= 2 and len(annotation) >= 1
        assert all(0.0 <= t.start < t.end <= 12.0 + 1e-3 for t in annotation.turns)
    assert len(read_rttm(out / "b.rttm")["b"].speakers) == 2  # both voices in 12-24 s
    assert contents["s.rttm"] == b""  # silent: an empty RTTM ...
    assert "warning: s: silent audio" in proc.stderr  # ... and a warning
    summary = proc.stderr.strip().splitlines()
    assert "3 diarized, 0 already done (skipped), 1 failed" in summary
    failed = [line for line in summary if line.strip().startswith("FAILED c:")]
    assert failed and "AudioError" in failed[-1] and "c.wav" in failed[-1]
    assert "Traceback" not in proc.stderr
    assert no_part_files(out)


def test_rerun_skips_finished_recordings_and_overwrite_redoes_them(first_run: FirstRun) -> None:
    _, out, contents = first_run
    folder = out.parent / "in"
    before = snapshot(out)
    proc = diarize(folder, "-o", out, "--quiet")
    assert proc.returncode == 1  # c.wav is tried again and fails again
    assert "0 diarized, 3 already done (skipped), 1 failed" in proc.stderr
    assert "FAILED c:" in proc.stderr
    assert snapshot(out) == before  # not rewritten: same inode, time and content
    proc = diarize(folder, "-o", out, "--quiet", "--overwrite")
    assert proc.returncode == 1
    assert "3 diarized, 0 already done (skipped), 1 failed" in proc.stderr
    after = snapshot(out)
    assert sorted(after) == sorted(before)
    for name in after:  # written anew (atomically: a new file replaced the old one) ...
        assert after[name][:2] != before[name][:2], name
        assert after[name][2] == before[name][2], name  # ... with the same result
    assert no_part_files(out)


def test_wav_scp_with_relative_paths_and_parallel_jobs(first_run: FirstRun, inputs: Path) -> None:
    _, _, contents = first_run
    lists = inputs / "lists"
    lists.mkdir()
    # relative to the list's folder, not to the working directory
    (lists / "wav.scp").write_text("a ../in/a.wav\n\nb ../in/b.flac\nc ../in/c.wav\n")
    elsewhere = inputs / "elsewhere"
    elsewhere.mkdir()
    out = inputs / "out-scp"
    proc = diarize(lists / "wav.scp", "-o", out, "--jobs", "2", "--quiet", cwd=elsewhere)
    assert proc.returncode == 1, proc.stderr
    assert "2 diarized, 0 already done (skipped), 1 failed" in proc.stderr
    assert "FAILED c:" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.glob("*.rttm")) == ["a.rttm", "b.rttm"]
    for uri in GOOD:  # --jobs 2 gives the same RTTMs as --jobs 1
        assert (out / f"{uri}.rttm").read_bytes() == contents[f"{uri}.rttm"], uri
    assert no_part_files(out)


def test_num_speakers_reaches_the_pipeline(first_run: FirstRun, inputs: Path) -> None:
    default = parse_rttm(first_run[2]["b.rttm"].decode().splitlines())["b"]
    assert len(default.speakers) == 2
    out = inputs / "out-one"
    proc = diarize(inputs / "in" / "b.flac", "-o", out, "--num-speakers", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr
    annotation = read_rttm(out / "b.rttm")["b"]
    assert len(annotation.speakers) == 1
    assert annotation.overlap().duration() == 0.0
    assert "1 diarized, 0 already done (skipped), 0 failed" in proc.stderr


def test_config_file_overrides_a_value(inputs: Path) -> None:
    config = inputs / "long-turns.toml"
    # every turn is shorter than 20 s in a 12 s recording: all are dropped
    config.write_text("[postprocess]\nmin_duration_on = 20.0\n")
    out = inputs / "out-config"
    proc = diarize(inputs / "in" / "a.wav", "-o", out, "--config", config, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert (out / "a.rttm").read_bytes() == b""


def test_unknown_config_key_is_a_one_line_error(inputs: Path) -> None:
    config = inputs / "typo.toml"
    config.write_text("[postprocess]\nmin_duraton_on = 1.0\n")
    out = inputs / "out-typo"
    proc = diarize(inputs / "in", "-o", out, "--config", config)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "min_duraton_on" in lines[0] and "typo.toml" in lines[0]
    assert not out.exists() or not list(out.iterdir())


def test_duplicate_uris_are_refused_with_a_one_line_error(inputs: Path) -> None:
    other = inputs / "other"
    other.mkdir()
    shutil.copy(inputs / "in" / "b.flac", other / "a.flac")
    out = inputs / "out-dup"
    proc = diarize(inputs / "in", other, "-o", out)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: recording id 'a' given twice")
    assert "a.wav" in lines[0] and "a.flac" in lines[0]
    assert not out.exists() or not list(out.iterdir())


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")


@NO_CUDA
def test_cuda_without_cuda_is_a_one_line_error(inputs: Path) -> None:
    proc = diarize(inputs / "in", "-o", inputs / "out-cuda", "--device", "cuda", "--quiet")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: device 'cuda' requested but CUDA is not available"]


@NO_CUDA
def test_cuda_without_cuda_is_a_one_line_error_with_jobs(inputs: Path) -> None:
    proc = diarize(inputs / "in", "-o", inputs / "out-cuda2", "--device", "cuda", "--jobs", "2",
                   "--quiet")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        "error: device 'cuda' requested but CUDA is not available"]


def test_refiner_option_selects_the_stage_and_a_bad_name_fails_before_any_file(
        inputs: Path, tmp_path: Path) -> None:
    none = diarize(inputs / "in" / "a.wav", "-o", tmp_path / "none", "--refiner", "none", "--quiet")
    shift = diarize(inputs / "in" / "a.wav", "-o", tmp_path / "shift", "--refiner", "shift",
                    "--quiet")
    assert none.returncode == 0 and shift.returncode == 0, none.stderr + shift.stderr
    a = read_rttm(tmp_path / "none" / "a.rttm")["a"]
    b = read_rttm(tmp_path / "shift" / "a.rttm")["a"]
    assert len(a.turns) == len(b.turns) and a.turns != b.turns
    from diarefine.stages.pipeline import _clip
    from diarefine.stages.refinement import build_refiner

    expected = _clip(build_refiner("shift")(a, None), 12.0)  # type: ignore[arg-type]
    assert len(b.turns) == len(expected.turns)
    for got, want in zip(b.turns, expected.turns):  # RTTM times: 1 ms
        assert abs(got.start - want.start) < 1.5e-3 and abs(got.end - want.end) < 1.5e-3
    bad = diarize(inputs / "in" / "a.wav", "-o", tmp_path / "bad", "--refiner", "wobble")
    assert bad.returncode == 2 and "[refiner] name must be one of" in bad.stderr
    assert "got 'wobble'" in bad.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("--min-speakers", "5", "--max-speakers", "2"), "--min-speakers 5 is above --max-speakers 2"),
    (("--num-speakers", "2", "--max-speakers", "1"), "--num-speakers 2 contradicts"),
])
def test_speaker_counts_are_checked_together_before_any_file(tmp_path: Path,
                                                             args: tuple[str, ...],
                                                             message: str) -> None:
    proc = diarize(tmp_path / "missing.wav", "-o", tmp_path / "out", *args)
    assert proc.returncode == 2 and message in proc.stderr
    assert not (tmp_path / "out").exists()


def test_an_unwritable_output_folder_is_refused_before_any_work(inputs: Path,
                                                               tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder should be\n")
    proc = diarize(inputs / "in" / "a.wav", "-o", blocker / "out")
    assert proc.returncode == 2
    assert "cannot write outputs there" in proc.stderr and str(blocker) in proc.stderr
    assert "segmentation" not in proc.stderr  # no model ran


def test_a_file_name_with_spaces_gets_an_underscored_uri(inputs: Path, tmp_path: Path) -> None:
    from diarefine.batch import collect_inputs

    spaced = tmp_path / "my meeting  01.wav"
    shutil.copy(inputs / "in" / "a.wav", spaced)
    (item,) = collect_inputs([spaced])
    assert item.uri == "my_meeting_01"
    proc = diarize(spaced, "-o", tmp_path / "out", "--refiner", "none", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert list(read_rttm(tmp_path / "out" / "my_meeting_01.rttm")) == ["my_meeting_01"]


def test_diarize_reads_a_manifest_of_prepare(inputs: Path, tmp_path: Path) -> None:
    from diarefine.data.manifest import Recording, write_manifest

    write_manifest(tmp_path / "set.jsonl", [Recording("first", inputs / "in" / "a.wav"),
                                            Recording("second", inputs / "in" / "b.flac")])
    proc = diarize(tmp_path / "set.jsonl", "-o", tmp_path / "out", "--refiner", "none",
                   "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.rttm")) == ["first.rttm",
                                                                        "second.rttm"]


def test_exclusive_and_embeddings_outputs_and_reruns_that_follow_the_settings(
        inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = diarize(inputs / "in" / "b.flac", "-o", out, "--refiner", "none", "--exclusive",
                    "--embeddings", "--quiet")
    assert first.returncode == 0, first.stderr
    main = read_rttm(out / "b.rttm")["b"]
    exclusive = read_rttm(out / "b.exclusive.rttm")["b"]
    turns = sorted(exclusive.turns)
    assert all(a.end <= b.start + 1e-3 for a, b in zip(turns, turns[1:]))  # no overlap
    assert set(exclusive.speakers) <= set(main.speakers)
    centroids = np.load(out / "b.embeddings.npz")
    assert sorted(centroids.files) == sorted(main.speakers)
    assert all(centroids[k].shape == (192,) for k in centroids.files)
    stamp = (out / "b.settings").read_text().strip()
    assert stamp.startswith("sha256:")
    same = diarize(inputs / "in" / "b.flac", "-o", out, "--refiner", "none", "--exclusive",
                   "--embeddings", "--quiet")
    assert "0 diarized, 1 already done" in same.stderr
    changed = diarize(inputs / "in" / "b.flac", "-o", out, "--refiner", "shift", "--exclusive",
                      "--embeddings", "--quiet")
    assert "1 diarized, 0 already done" in changed.stderr  # other settings: redone
    assert (out / "b.settings").read_text().strip() != stamp


def test_a_json_sidecar_gives_each_turn_its_confidence(inputs: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "out"
    proc = diarize(inputs / "in" / "b.flac", "-o", out, "--confidence", "--quiet")
    assert proc.returncode == 0, proc.stderr
    sidecar = json.loads((out / "b.turns.json").read_text())
    rttm = read_rttm(out / "b.rttm")["b"]
    assert sidecar["uri"] == "b"
    assert [(t["start"], t["end"], t["speaker"]) for t in sidecar["turns"]] == \
        [(round(t.start, 3), round(t.end, 3), t.speaker) for t in rttm.turns]
    values = [t["confidence"] for t in sidecar["turns"]]
    assert all(0.0 <= v <= 1.0 for v in values) and sum(values) / len(values) > 0.3
