"""``diarefine boundaries`` and ``diarefine collar-sweep`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REF = """SPEAKER a 1 0.0 5.0 <NA> <NA> A <NA> <NA>
SPEAKER a 1 4.0 3.0 <NA> <NA> B <NA> <NA>
SPEAKER b 1 0.0 4.0 <NA> <NA> C <NA> <NA>
"""
HYP = """SPEAKER a 1 0.5 4.0 <NA> <NA> x <NA> <NA>
SPEAKER a 1 4.5 3.0 <NA> <NA> y <NA> <NA>
SPEAKER a 1 6.0 2.0 <NA> <NA> x <NA> <NA>
SPEAKER b 1 0.0 2.0 <NA> <NA> z <NA> <NA>
"""
METRICS = ("der", "miss", "false_alarm", "confusion", "scored")


def run(*args: str | Path, code: str | None = None) -> subprocess.CompletedProcess:
    prefix = ["-c", code] if code else ["-m", "diarefine"]
    return subprocess.run([sys.executable, *prefix, *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "ref.rttm").write_text(REF)
    (tmp_path / "hyp.rttm").write_text(HYP)
    return tmp_path / "ref.rttm", tmp_path / "hyp.rttm"


def assert_png(path: Path) -> None:
    from matplotlib.image import imread

    assert path.is_file() and path.stat().st_size > 10_000, path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.shape[0] >= 250 and image.shape[1] >= 500
    assert float(np.std(image[..., :3])) > 0.05  # not a blank canvas


def test_boundaries_table_json_and_plots(files: tuple[Path, Path], tmp_path: Path) -> None:
    out, plots = tmp_path / "b.json", tmp_path / "plots"
    proc = run("boundaries", *files, "--json", out, "--plot", plots)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines() if line}
    # a: errors +500, -500, +500, +500 and x's onset at 6 spurious; b: onset exact, offset
    # 2 s early (missed + spurious). Pooled: mean |e| 400 ms, median 500, bias +200.
    assert rows["OVERALL"][1:] == ["6", "7", "5", "1", "2", "400", "500", "500", "+200",
                                   "20.0", "20.0", "20.0", "100.0"]
    assert rows["a"][1:6] == ["4", "5", "4", "0", "1"]
    assert rows["total"][-1] == "37.50"  # zones add up to the DER (score: 37.50 %)
    data = json.loads(out.read_text())
    assert set(data) == {"settings", "overall", "files", "notes"}
    assert data["settings"]["tolerance"] == 0.5 and data["files"]["a"]["mapping"] == {
        "A": "x", "B": "y"}
    assert data["overall"]["stats"]["bias_ms"] == pytest.approx(200)
    assert data["overall"]["zones"]["total"]["der"] == pytest.approx(4.5 / 12)
    assert len(data["files"]["b"]["pairs"]) == 3
    for name in ("boundary_errors.png", "timeline_a.png", "timeline_b.png"):
        assert_png(plots / name)


def test_boundaries_options(files: tuple[Path, Path]) -> None:
    proc = run("boundaries", *files, "--tolerance", "0.4", "--change-gap", "0.1",
               "--join-gap", "0", "--match-kind")
    assert proc.returncode == 0, proc.stderr
    overall = next(line for line in proc.stdout.splitlines() if line.startswith("OVERALL"))
    assert overall.split()[3] == "1"  # only b's exact onset is within 0.4 s
    assert "tolerance 0.4 s" in proc.stdout and "kind constrains matching" in proc.stdout


def test_collar_sweep_equals_score(files: tuple[Path, Path], tmp_path: Path) -> None:
    uem = tmp_path / "all.uem"
    uem.write_text("a 1 0 6.5\nb 1 0 10\n")
    collars = (0.0, 0.1, 0.25, 0.5)
    for skip in ((), ("--skip-overlap",)):
        out = tmp_path / "sweep.json"
        proc = run("collar-sweep", *files, "--uem", uem, "--collars",
                   ",".join(map(str, collars)), "--json", out, *skip)
        assert proc.returncode == 0, proc.stderr
        sweep = json.loads(out.read_text())
        for k, collar in enumerate(collars):
            score_out = tmp_path / "score.json"
            proc = run("score", *files, "--uem", uem, "--collar", str(collar), "--json", score_out,
                       *skip)
            assert proc.returncode == 0, proc.stderr
            score = json.loads(score_out.read_text())
            for key in METRICS:
                assert sweep["overall"][k][key] == pytest.approx(score["overall"][key], abs=1e-9)
                for uri in ("a", "b"):
                    assert sweep["files"][uri][k][key] == pytest.approx(
                        score["files"][uri][key], abs=1e-9)


def test_collar_sweep_table_range_and_plot(files: tuple[Path, Path], tmp_path: Path) -> None:
    curve = tmp_path / "curve.png"
    proc = run("collar-sweep", *files, "--collars", "0:0.5:0.25", "--plot", curve)
    assert proc.returncode == 0, proc.stderr
    first = [line.split()[0] for line in proc.stdout.splitlines()[2:5]]
    assert first == ["0", "0.25", "0.5"]
    assert proc.stdout.splitlines()[2].split()[1] == "37.50"
    assert_png(curve)


@pytest.mark.parametrize("collars,needle", [("a,b", "expected 0,0.1,0.25"),
                                            ("0,-0.1", "non-negative")])
def test_bad_collars(files: tuple[Path, Path], collars: str, needle: str) -> None:
    proc = run("collar-sweep", *files, "--collars", collars)
    assert proc.returncode == 2 and needle in proc.stderr


def test_missing_matplotlib_is_a_clear_error(files: tuple[Path, Path], tmp_path: Path) -> None:
    code = ("import sys; sys.modules['matplotlib'] = None; "
            "sys.argv = ['diarefine'] + sys.argv[1:]; from diarefine.cli import main; main()")
    proc = run("collar-sweep", *files, "--plot", tmp_path / "c.png", code=code)
    assert proc.returncode == 2
    assert "plots need matplotlib: pip install 'diarefine[plot]'" in proc.stderr


def test_commands_do_not_import_torch_or_matplotlib() -> None:
    code = ("import sys, diarefine.cli.boundaries, diarefine.metrics.boundaries, "
            "diarefine.metrics.collar_sweep, diarefine.report.plots; "
            "print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False False", proc.stderr


def test_real_ami_excerpts(shared_data: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from diarefine.io import read_rttm, write_rttm
    from randomdiar import perturb

    folder = shared_data / "ami-excerpts"
    ref = folder / "debug.development.rttm"
    rng = np.random.default_rng(0)
    hyp = tmp_path / "jittered.rttm"
    write_rttm(hyp, [perturb(rng, r, 4, jitter=0.15) for r in read_rttm(ref).values()])
    proc = run("boundaries", ref, hyp, "--uem", folder / "debug.development.uem",
               "--plot", tmp_path / "plots")
    assert proc.returncode == 0, proc.stderr
    assert "dev00" in proc.stdout and "dev01" in proc.stdout
    assert_png(tmp_path / "plots" / "timeline_dev00.png")
