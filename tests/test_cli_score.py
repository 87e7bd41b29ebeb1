"""``diarefine score`` as a user runs it: table, JSON, exit status, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diarefine.io.rttm import read_rttm
from diarefine.metrics import METRIC_KEYS

REF = """SPEAKER a 1 0.0 5.0 <NA> <NA> A <NA> <NA>
SPEAKER a 1 4.0 3.0 <NA> <NA> B <NA> <NA>
SPEAKER b 1 0.0 4.0 <NA> <NA> C <NA> <NA>
"""
HYP = """SPEAKER a 1 0.5 4.0 <NA> <NA> x <NA> <NA>
SPEAKER a 1 4.5 3.0 <NA> <NA> y <NA> <NA>
SPEAKER a 1 6.0 2.0 <NA> <NA> x <NA> <NA>
SPEAKER b 1 0.0 2.0 <NA> <NA> z <NA> <NA>
"""


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diarefine", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "ref.rttm").write_text(REF)
    (tmp_path / "hyp.rttm").write_text(HYP)
    return tmp_path / "ref.rttm", tmp_path / "hyp.rttm"


def test_table_and_json(files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    proc = run("score", *files, "--json", out)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    overall = next(line for line in lines if line.startswith("OVERALL")).split()
    # a: miss 1.5 + FA 1.0 of 8 s; b: miss 2 of 4 s -> 4.5 / 12 = 37.50 %
    assert overall[1] == "37.50"
    data = json.loads(out.read_text())
    assert set(data) == {"overall", "files"} and set(data["files"]) == {"a", "b"}
    assert set(data["overall"]) == set(METRIC_KEYS)
    o = data["overall"]
    assert o["der"] == pytest.approx(4.5 / 12)
    assert (o["miss"], o["false_alarm"], o["confusion"], o["scored"]) == pytest.approx(
        (3.5, 1.0, 0.0, 12.0))
    assert data["files"]["b"]["der"] == pytest.approx(0.5)


def test_bootstrap_and_compare(files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, hyp = files
    out = tmp_path / "scores.json"
    # a: 2.5 s of error in 8 s scored, b: 2 in 4. Resamples of the two files pool to
    # 2.5/8 (a twice, p 1/4), 4.5/12 (p 1/2) or 2/4 (b twice, p 1/4): the central 95 %
    # spans [0.3125, 0.5]. Compared with the reference itself as a system (no error),
    # every paired resample differs by its own DER: the same interval.
    proc = run("score", ref, hyp, "--bootstrap", "--compare", ref, "--json", out)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    for key in ("der_interval", "der_difference"):
        got = data[key]
        assert (got["value"], got["low"], got["high"]) == pytest.approx((0.375, 0.3125, 0.5))
    assert "95 % interval 31.25-50.00" in proc.stdout
    assert "+37.50 points" in proc.stdout
    # a system compared with itself differs by nothing, in every resample
    proc = run("score", ref, hyp, "--compare", hyp, "--json", out)
    got = json.loads(out.read_text())["der_difference"]
    assert (got["value"], got["low"], got["high"]) == (0.0, 0.0, 0.0)


def test_by_count_breakdown(files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    proc = run("score", *files, "--by-count", "--json", out)
    assert proc.returncode == 0, proc.stderr
    # a, scored [0, 7]: 0-0.5 1 ref/0 sys, 0.5-4 1/1, 4-5 2/1, 5-6 1/1, 6-7 1/2;
    # b, scored [0, 4]: 0-2 1/1, 2-4 1/0
    counts = json.loads(out.read_text())["by_count"]
    assert counts["seconds"][1][:3] == pytest.approx([2.5, 6.5, 1.0])
    assert counts["seconds"][2][:3] == pytest.approx([0.0, 1.0, 0.0])
    assert counts["miss"] == pytest.approx([0, 2.5, 1.0, 0, 0])
    assert counts["false_alarm"] == pytest.approx([0, 1.0, 0, 0, 0])
    assert counts["scored"] == pytest.approx([0, 10.0, 2.0, 0, 0])
    row = next(line for line in proc.stdout.splitlines() if line.split()[:1] == ["1"])
    # row 1: seconds, then scored / miss / FA / conf in % of the 12 scored speaker-seconds
    assert row.split()[1:9] == ["2.5", "6.5", "1.0", "0.0", "0.0", "|", "83.33", "20.83"]


def test_directories_collar_and_uem(files: tuple[Path, Path], tmp_path: Path) -> None:
    refdir, hypdir = tmp_path / "refs", tmp_path / "hyps"
    refdir.mkdir(), hypdir.mkdir()
    (refdir / "a.rttm").write_text(REF.splitlines(keepends=True)[0])
    (hypdir / "a.rttm").write_text(HYP.splitlines(keepends=True)[0])
    uem = tmp_path / "all.uem"
    uem.write_text("a 1 0 10\n")
    out = tmp_path / "s.json"
    proc = run("score", refdir, hypdir, "--uem", uem, "--collar", "0.25", "--json", out)
    assert proc.returncode == 0, proc.stderr
    # A [0,5] vs x [0.5,4.5] over [0,10] minus collars [-.25,.25], [4.75,5.25]:
    # miss [.25,.5] and [4.5,4.75] = 0.5 s of 4.5 s scored.
    assert json.loads(out.read_text())["overall"]["der"] == pytest.approx(0.5 / 4.5)


@pytest.mark.parametrize("content,needle", [
    ("SPEAKER a 1 0.0 <NA> <NA> A <NA>\n", ":1: expected at least 9 fields"),
    ("# c\nSPEAKER a 1 -1 2 <NA> <NA> A <NA> <NA>\n", ":2: onset '-1' is negative"),
    ("SPEAKER a 1 0 nan <NA> <NA> A <NA> <NA>\n", ":1: duration 'nan' is not finite"),
    ("SPEEKER a 1 0 1 <NA> <NA> A <NA> <NA>\n", ":1: unknown RTTM type/subtype"),
])
def test_bad_rttm_fails_with_file_and_line(tmp_path: Path, files: tuple[Path, Path],
                                           content: str, needle: str) -> None:
    bad = tmp_path / "bad.rttm"
    bad.write_text(content)
    proc = run("score", bad, files[1])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}{needle}")


def test_missing_input_is_a_usage_error(files: tuple[Path, Path], tmp_path: Path) -> None:
    proc = run("score", tmp_path / "nope.rttm", files[1])
    assert proc.returncode != 0 and "does not exist" in proc.stderr


def test_mismatched_files_are_reported(files: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "h2.rttm").write_text(HYP + "SPEAKER zz 1 0 1 <NA> <NA> q <NA> <NA>\n")
    proc = run("score", files[0], tmp_path / "h2.rttm")
    assert proc.returncode == 0
    assert "zz" in proc.stderr and "not scored" in proc.stderr


def test_core_paths_do_not_import_torch_or_ray() -> None:
    code = ("import sys, diarefine, diarefine.io, diarefine.metrics, diarefine.cli.score, "
            "diarefine.metrics.score, diarefine.report.table, diarefine.stages.refinement, "
            "diarefine.stages.refinement.oracle, diarefine.stages.refinement.features, "
            "diarefine.batch, diarefine.engines, diarefine.engines.options, diarefine.bench, "
            "diarefine.bench.report, diarefine.bench.protocol, diarefine.report.html, "
            "diarefine.data.lhotse, diarefine.io.remote, diarefine.engines.uploading; "
            "print('torch' in sys.modules, 'ray' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False False", proc.stderr


def test_a_manifest_gives_the_references_and_their_uems(files: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    from diarefine.data.manifest import Recording, write_manifest

    ref, hyp = files
    uem = tmp_path / "all.uem"
    refs = read_rttm(ref)
    uem.write_text("".join(f"{u} 1 0.000 5.000\n" for u in refs))
    write_manifest(tmp_path / "set.jsonl", [Recording(u, tmp_path / f"{u}.wav", ref, uem)
                                            for u in refs])
    by_manifest = run("score", tmp_path / "set.jsonl", hyp, "--json", tmp_path / "a.json")
    by_files = run("score", ref, hyp, "--uem", uem, "--json", tmp_path / "b.json")
    assert by_manifest.returncode == by_files.returncode == 0, by_manifest.stderr
    assert json.loads((tmp_path / "a.json").read_text()) == \
        json.loads((tmp_path / "b.json").read_text())
    plain = run("score", ref, hyp, "--json", tmp_path / "c.json")  # without the UEM: other
    assert plain.returncode == 0
    assert json.loads((tmp_path / "c.json").read_text()) != \
        json.loads((tmp_path / "a.json").read_text())
