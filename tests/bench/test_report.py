"""The benchmark's figures on tiny hand-built corpora (no pipeline): each agrees with the
command that computes it on its own, and the hand-computed values."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diarefine.bench.report import Corpus, against, build_report
from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.metrics.collar_sweep import collar_sweep
from diarefine.metrics.score import ScoreSettings, score_corpus

SETTINGS = ScoreSettings()
pytestmark = pytest.mark.filterwarnings("ignore:no UEM line")


def ann(uri: str, *turns: tuple[float, float, str]) -> Annotation:
    return Annotation.from_tuples(uri, turns)


def corpus(unrefined: bool = False) -> Corpus:
    refs = {"a": ann("a", (0, 10, "A"), (10, 20, "B")),
            "b": ann("b", (0, 5, "A"), (6, 12, "B"), (11, 14, "A"))}
    system = {"a": ann("a", (0, 10.11, "x"), (10.11, 20, "y")),  # change 110 ms late
              "b": ann("b", (0, 4, "x"), (6, 14, "y"))}  # 1 s missed, 3 s confused/overlap
    before = {"a": ann("a", (0, 10.41, "x"), (10.41, 20, "y")), "b": system["b"]}
    uems = {"a": Timeline([(0, 20)])}
    return Corpus(refs, uems, system, before if unrefined else None)


def test_overall_and_per_file_figures_are_the_scorers() -> None:
    c = corpus()
    report = build_report(c, SETTINGS, {"a": {"duration": 20, "seconds": 2.0}})
    expected = score_corpus(c.references, c.system, c.uems, SETTINGS)
    assert report["overall"]["der"] == expected.overall.as_dict()["der"]
    files = {f["uri"]: f for f in report["files"]}
    for uri, f in expected.files.items():
        d = f.scores.as_dict()
        assert files[uri]["der"] == d["der"]
        assert files[uri]["miss_rate"] == pytest.approx(d["miss"] / d["scored"])
    assert files["a"]["rtf"] == pytest.approx(0.1) and files["b"]["rtf"] is None
    sweep = collar_sweep(c.references, c.system, c.uems).as_dict()["overall"]
    assert report["collar_sweep"] == sweep
    # a: 0.11 s confused of 20; b: miss 4-5 (1 s), overlap 11-12 scored twice (2 s of B and
    # A; the system has y only): miss 1 s there; scored 5 + 6 + 3 = 14 s
    assert files["a"]["der"] == pytest.approx(0.11 / 20)


def test_boundary_histogram_puts_each_matched_error_in_its_25_ms_bin() -> None:
    report = build_report(corpus(), SETTINGS, {})
    hist = report["boundaries"]["histogram"]
    edges = hist["edges_ms"]
    assert edges[0] == -500 and edges[-1] == 500 and len(edges) == 41
    total = sum(sum(v) for v in hist["counts"].values())
    assert total == report["boundaries"]["overall"]["matched"]
    change = hist["counts"]["change"]
    # the speaker change of a, 110 ms late: bin [100, 125)
    assert change[edges.index(100)] >= 1


def test_timeline_of_the_worst_file_marks_each_error_where_der_counts_it() -> None:
    report = build_report(corpus(), SETTINGS, {}, worst=1)
    (worst,) = report["worst"]
    files = {f["uri"]: f["der"] for f in report["files"]}
    assert worst["uri"] == max(files, key=files.get)
    assert worst["uri"] == "b"
    assert [4.0, 5.0, "miss"] in worst["errors"]
    assert worst["mapping"] == {"A": "x", "B": "y"}
    assert worst["reference"][0] == [0.0, 5.0, "A"]


def test_refinement_is_scored_paired_against_the_output_before_it() -> None:
    c = corpus(unrefined=True)
    report = build_report(c, SETTINGS, {})
    before = score_corpus(c.references, c.unrefined, c.uems, SETTINGS)
    ref = report["refinement"]
    assert ref["unrefined"]["der"] == before.overall.as_dict()["der"]
    diff = ref["refined_minus_unrefined"]
    assert diff["value"] == pytest.approx(report["overall"]["der"] - ref["unrefined"]["der"])
    assert diff["low"] <= diff["value"] <= diff["high"]
    # the change of a is 300 ms closer: boundary MAE drops
    assert report["boundaries"]["overall"]["mean_abs_ms"] < \
        ref["boundaries_unrefined"]["overall"]["mean_abs_ms"]
    files = {f["uri"]: f for f in report["files"]}
    assert files["b"]["der_unrefined"] == files["b"]["der"]


def test_against_compares_the_common_files_under_this_runs_protocol() -> None:
    c = corpus()
    other = {"a": ann("a", (0, 20, "z"))}  # b not diarized by the other run
    got = against(c, other, SETTINGS, "other-run")
    assert got["files"] == 1 and got["left_out"] == ["b"]
    assert got["der"] == pytest.approx(0.11 / 20)
    assert got["der_other"] == pytest.approx(0.5)  # B's 10 s confused of 20
    assert got["difference"]["value"] == pytest.approx(0.11 / 20 - 0.5)


def test_report_is_plain_json() -> None:
    report = build_report(corpus(unrefined=True), SETTINGS, {})
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def test_embedded_audio_decodes_to_the_recording(tmp_path: Path) -> None:
    from diarefine.report.html import _audio_source

    t = np.arange(3 * 16000) / 16000
    sf.write(tmp_path / "r.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    src = _audio_source(tmp_path / "r.wav", "embed", 3.0, tmp_path)
    assert src is not None and src.startswith("data:audio/ogg;base64,")
    data, sr = sf.read(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert abs(len(data) / sr - 3.0) < 0.05
    assert _audio_source(tmp_path / "r.wav", "link", 3.0, tmp_path / "out") == "../r.wav"
    assert _audio_source(tmp_path / "r.wav", "none", 3.0, tmp_path) is None


def test_page_tables_hold_the_reports_figures(tmp_path: Path) -> None:
    from diarefine.bench.protocol import protocol
    from diarefine.config import PipelineConfig
    from diarefine.report.html import render

    c = corpus(unrefined=True)
    report = build_report(c, SETTINGS, {})
    report["protocol"] = protocol(PipelineConfig(), 0.0, False, [], 1, 2)
    report["run"] = {"recordings": 2, "scored": 2, "failed": {}, "without_reference": []}
    report["against"] = against(c, {"a": ann("a", (0, 20, "z"))}, SETTINGS, "other-run")
    page = render(report, {}, "none", tmp_path)
    files = page[page.index('id="files"'):]
    files = files[:files.index("</table>")]
    row_a = files[files.index('<td data-v="a">'):]
    row_a = row_a[:row_a.index("</tr>")]
    # this run's DER of a, before refinement, the other run's, and the differences
    a = next(f for f in report["files"] if f["uri"] == "a")
    for value in (a["der"], a["der_unrefined"], 0.5, a["der"] - 0.5):
        assert f'data-v="{value}"' in row_a
    assert "http://" not in page and "https://" not in page  # nothing fetched at view time
    assert "default-src 'none'" in page


def test_oracle_row_is_the_unrefined_output_with_boundaries_moved_onto_the_reference() -> None:
    from diarefine.stages.refinement.oracle import oracle_refine

    c = corpus(unrefined=True)
    report = build_report(c, SETTINGS, {})
    moved = {u: oracle_refine(c.references[u], c.unrefined[u], c.uems.get(u))
             for u in c.references}
    expected = score_corpus(c.references, moved, c.uems, SETTINGS).overall.as_dict()["der"]
    oracle = report["oracle"]
    assert oracle["der"] == expected and oracle["of"] == "before refinement"
    # a's change moved from 10.41 back to 10: a is perfect, b keeps its unmatched errors
    assert oracle["der"] < report["refinement"]["unrefined"]["der"]
    assert oracle["minus_baseline"]["value"] == pytest.approx(
        oracle["der"] - report["refinement"]["unrefined"]["der"])


def test_activity_oracle_row_copies_the_reference_around_the_unrefined_boundaries() -> None:
    from diarefine.stages.refinement.oracle import activity_oracle

    c = corpus(unrefined=True)
    report = build_report(c, SETTINGS, {})
    copied = {u: activity_oracle(c.references[u], c.unrefined[u], c.uems.get(u))
              for u in c.references}
    expected = score_corpus(c.references, copied, c.uems, SETTINGS).overall.as_dict()["der"]
    activity = report["oracle_activity"]
    assert activity["der"] == expected and activity["of"] == "before refinement"
    assert activity["der"] <= report["oracle"]["der"] + 1e-12  # it can do all a move can here
    assert activity["minus_baseline"]["value"] == pytest.approx(
        activity["der"] - report["refinement"]["unrefined"]["der"])
    from diarefine.bench.protocol import protocol
    from diarefine.config import PipelineConfig
    from diarefine.report.html import overall_table

    report["protocol"] = protocol(PipelineConfig(), 0.0, False, [], 1, 2)
    table = overall_table(report)
    assert "±1 s around each boundary from the reference" in table
    assert f'data-v="{activity["der"]}"' in table


def test_manifests_are_files_or_simulate_folders(tmp_path: Path) -> None:
    from diarefine.bench import read_recordings
    from diarefine.data.manifest import Recording, write_manifest
    from diarefine.errors import DiarefineError

    (tmp_path / "sim").mkdir()
    write_manifest(tmp_path / "sim" / "manifest.jsonl", [Recording("x", tmp_path / "x.wav")])
    write_manifest(tmp_path / "more.jsonl", [Recording("y", tmp_path / "y.wav")])
    assert [r.uri for r in read_recordings([tmp_path / "sim", tmp_path / "more.jsonl"])] == \
        ["x", "y"]
    with pytest.raises(DiarefineError, match="given twice|is in"):
        read_recordings([tmp_path / "sim", tmp_path / "sim" / "manifest.jsonl"])
    with pytest.raises(DiarefineError, match="without manifest.jsonl"):
        read_recordings([tmp_path])


def test_only_outputs_made_with_the_current_settings_are_scored(tmp_path: Path) -> None:
    from diarefine.bench import BenchmarkOptions, score_outputs
    from diarefine.bench.run import BenchOutputs, Timed, bench_settings
    from diarefine.config import PipelineConfig, RefinerConfig
    from diarefine.data.manifest import Recording
    from diarefine.errors import DiarefineError
    from diarefine.io.rttm import write_rttm

    ref = ann("x", (0, 10, "A"))
    write_rttm(tmp_path / "ref.rttm", ref)
    recs = [Recording("x", tmp_path / "x.wav", tmp_path / "ref.rttm")]
    plain = PipelineConfig().replace(refiner=RefinerConfig("none"))
    BenchOutputs(bench_settings(plain)).write(
        tmp_path / "rttm", "x", Timed(ann("x", (0, 9, "s")), None, 10.0, 0.5))
    report = score_outputs(recs, [], tmp_path, BenchmarkOptions(config=plain), {})
    assert report["run"]["scored"] == 1 and report["overall"]["der"] == pytest.approx(0.1)
    with pytest.raises(DiarefineError, match="nothing to score"):  # made without a refiner
        score_outputs(recs, [], tmp_path, BenchmarkOptions(config=PipelineConfig()), {})
