"""``diarefine benchmark`` as a user runs it on a manifest made by ``prepare`` from the
AMI excerpts (test subset, 2 x 30 s): its DER is ``diarefine score``'s on the same RTTMs,
to the last digit; a rerun reuses what is done and redoes what the settings changed; a
refiner is scored paired against the output before it; ``--against`` compares two runs
file by file; a recording that fails is reported and the others are scored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from needs import require_pipeline

pytestmark = pytest.mark.slow


def run(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "diarefine", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    require_pipeline()
    folder = tmp_path_factory.mktemp("bench")
    out = folder / "ami-test.jsonl"
    proc = run("prepare", "pyannote", shared_data / "ami-excerpts" / "database.yml",
               "--protocol", "Debug.SpeakerDiarization.Debug", "--subset", "test", "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def first(manifest: Path) -> tuple[Path, dict, subprocess.CompletedProcess]:
    outdir = manifest.parent / "none"
    proc = run("benchmark", manifest, "-o", outdir, "--refiner", "none", "--quiet",
               "--report-audio", "none")
    assert proc.returncode == 0, proc.stderr
    return outdir, json.loads((outdir / "report.json").read_text()), proc


def test_der_is_the_scorers_and_the_protocol_is_stated(manifest: Path, first: tuple) -> None:
    outdir, report, proc = first
    scored = run("score", manifest, outdir / "rttm", "--json", outdir / "score.json")
    assert scored.returncode == 0, scored.stderr
    score = json.loads((outdir / "score.json").read_text())
    assert report["overall"]["der"] == score["overall"]["der"]
    assert {f["uri"]: f["der"] for f in report["files"]} == {
        uri: f["der"] for uri, f in score["files"].items()}
    assert proc.stdout.splitlines()[0].startswith("Protocol: collar 0 s per side, overlap "
                                                  "scored, 2 of 2 recordings scored within "
                                                  "their manifest UEM")
    protocol = report["protocol"]
    assert protocol["refiner"] == "none" and len(protocol["models"]["segmentation"]["sha256"]) == 64
    assert protocol["manifests"][0]["file"] == str(manifest)
    assert report["speed"]["diarized_this_run"] == 2 and report["speed"]["rtf"] > 0
    assert (outdir / "report.html").stat().st_size > 10_000


def test_rerun_reuses_outputs_and_a_refiner_redoes_them_paired(manifest: Path,
                                                                first: tuple) -> None:
    outdir, report, _ = first
    again = run("benchmark", manifest, "-o", outdir, "--refiner", "none", "--quiet",
                "--collar", "0.25", "--report-audio", "none")
    assert again.returncode == 0, again.stderr
    second = json.loads((outdir / "report.json").read_text())
    assert second["speed"]["diarized_this_run"] == 0 and second["speed"]["reused"] == 2
    assert second["protocol"]["collar"] == 0.25
    assert second["overall"]["der"] < report["overall"]["der"]  # the collar forgives
    row = next(r for r in second["collar_sweep"] if r["collar"] == 0.25)
    assert second["overall"]["der"] == pytest.approx(row["der"], abs=1e-12)

    refined_dir = manifest.parent / "shift"
    proc = run("benchmark", manifest, "-o", refined_dir, "--refiner", "shift", "--quiet",
               "--against", outdir, "--report-audio", "none")
    assert proc.returncode == 0, proc.stderr
    refined = json.loads((refined_dir / "report.json").read_text())
    unrefined = {f["uri"]: f["der_unrefined"] for f in refined["files"]}
    assert unrefined == {f["uri"]: f["der"] for f in report["files"]}  # same pipeline pass
    diff = refined["refinement"]["refined_minus_unrefined"]
    assert diff["value"] == pytest.approx(refined["overall"]["der"] -
                                          refined["refinement"]["unrefined"]["der"])
    versus = refined["against"]
    assert versus["files"] == 2 and versus["der_other"] == report["overall"]["der"]
    assert "refined - unrefined:" in proc.stdout


def test_a_recording_that_fails_is_reported_and_the_others_scored(manifest: Path,
                                                                  tmp_path: Path) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    line = json.loads(manifest.read_text().splitlines()[0])
    line.update(uri="broken", audio=str(broken))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(line) + "\n")
    proc = run("benchmark", manifest, bad, "-o", tmp_path / "out", "--refiner", "none",
               "--quiet", "--report-audio", "none")
    assert proc.returncode == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert list(report["run"]["failed"]) == ["broken"]
    assert report["run"]["scored"] == 2 and report["run"]["recordings"] == 3
    assert "FAILED broken" in proc.stderr


def test_on_ray_the_outputs_and_figures_are_the_local_engines(manifest: Path,
                                                              first: tuple) -> None:
    import importlib.util

    from needs import require

    require(importlib.util.find_spec("ray") is not None,
            "ray is not installed (pip install 'diarefine[ray]')")
    outdir, report, _ = first
    on_ray = manifest.parent / "ray"
    proc = run("benchmark", manifest, "-o", on_ray, "--refiner", "none", "--quiet",
               "--engine", "ray", "--jobs", "1", "--report-audio", "none")
    assert proc.returncode == 0, proc.stderr
    got = json.loads((on_ray / "report.json").read_text())
    assert got["overall"]["der"] == report["overall"]["der"]
    assert got["speed"]["engine"] == "ray"
    for uri in ("tst00", "tst01"):
        assert (on_ray / "rttm" / f"{uri}.rttm").read_bytes() == \
            (outdir / "rttm" / f"{uri}.rttm").read_bytes()


def test_to_a_uri_the_outputs_and_reports_are_uploaded(manifest: Path, first: tuple) -> None:
    outdir, report, _ = first
    remote = manifest.parent / "remote"
    proc = run("benchmark", manifest, "-o", remote.as_uri(), "--refiner", "none", "--quiet",
               "--report-audio", "none")
    assert proc.returncode == 0, proc.stderr
    got = json.loads((remote / "report.json").read_text())
    assert got["overall"]["der"] == report["overall"]["der"]
    assert (remote / "report.html").stat().st_size > 10_000
    assert (remote / "rttm" / "tst00.rttm").read_bytes() == \
        (outdir / "rttm" / "tst00.rttm").read_bytes()
    again = run("benchmark", manifest, "-o", remote.as_uri(), "--refiner", "none", "--quiet",
                "--report-audio", "none")
    assert again.returncode == 0, again.stderr
    assert json.loads((remote / "report.json").read_text())["speed"]["reused"] == 2
