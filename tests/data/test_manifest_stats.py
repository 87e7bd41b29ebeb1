"""The manifest form (shared by simulate and prepare) and the dataset statistics."""

from __future__ import annotations

from pathlib import Path

import pytest

from diarefine.core import Annotation, Timeline
from diarefine.data.manifest import (
    Recording,
    load_references,
    load_scoring_regions,
    read_manifest,
    write_manifest,
)
from diarefine.data.stats import collect, format_stats, transition_offsets
from diarefine.errors import FormatError


def test_round_trip_with_relative_and_absolute_paths(tmp_path: Path) -> None:
    inside = tmp_path / "set" / "audio" / "a.flac"
    outside = Path("/elsewhere/b.wav")
    recs = [
        Recording("a", inside, tmp_path / "set" / "rttm" / "a.rttm", None, 12.34567, 2,
                  ("x", "y"), "test", 0.123456, 7, {"index": 0, "speech": 9.5}),
        Recording("b", outside, None, None, None, None),
    ]
    path = tmp_path / "set" / "manifest.jsonl"
    write_manifest(path, recs)
    lines = path.read_text().splitlines()
    assert lines[0] == ('{"uri": "a", "audio": "audio/a.flac", "rttm": "rttm/a.rttm", '
                        '"uem": null, "duration": 12.346, "num_speakers": 2, '
                        '"speakers": ["x", "y"], "split": "test", "overlap_ratio": 0.1235, '
                        '"seed": 7, "index": 0, "speech": 9.5}')
    back = read_manifest(path)
    assert back[0].audio == inside and back[0].rttm == tmp_path / "set" / "rttm" / "a.rttm"
    assert back[0].extra == {"index": 0, "speech": 9.5} and back[0].speakers == ("x", "y")
    assert back[1].audio == outside and back[1].duration is None


@pytest.mark.parametrize("line, message", [
    ('{"uri": "a"}', "missing 'audio'"),
    ('{"audio": "a.wav"}', "bad or missing 'uri'"),
    ('{"uri": "a b", "audio": "a.wav"}', "bad or missing 'uri'"),
    ('[1, 2]', "expected a JSON object"),
    ('{"uri": "a", "audio": "a.wav", "duration": "long"}', "a: could not convert"),
    ('not json', "not JSON"),
])
def test_bad_lines_are_named_by_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"uri": "ok", "audio": "ok.wav"}\n' + line + "\n")
    with pytest.raises(FormatError, match=rf"m.jsonl:2: .*{message}"):
        read_manifest(path)


def test_duplicate_uri_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"uri": "a", "audio": "1.wav"}\n{"uri": "a", "audio": "2.wav"}\n')
    with pytest.raises(FormatError, match="listed twice"):
        read_manifest(path)


def test_references_and_regions_are_selected_by_uri(tmp_path: Path) -> None:
    (tmp_path / "all.rttm").write_text(
        "SPEAKER a 1 0.0 1.0 <NA> <NA> x <NA> <NA>\nSPEAKER b 1 2.0 1.0 <NA> <NA> y <NA> <NA>\n")
    (tmp_path / "all.uem").write_text("a 1 0.0 5.0\n")
    recs = [Recording(u, tmp_path / f"{u}.wav", tmp_path / "all.rttm", tmp_path / "all.uem")
            for u in ("a", "b", "c")]
    refs, regions = load_references(recs), load_scoring_regions(recs)
    assert refs["b"].speakers == ("y",) and not refs["c"]
    assert regions["a"] == Timeline([(0.0, 5.0)]) and regions["b"] is None


def test_transition_offsets_gaps_overlaps_and_contained_turns() -> None:
    ann = Annotation.from_tuples("r", [
        (0.0, 4.0, "A"),  # floor A
        (1.0, 1.5, "B"),  # contained backchannel
        (3.5, 6.0, "B"),  # overlapped hand-over: 3.5 - 4.0
        (6.5, 8.0, "A"),  # gap 0.5
        (8.2, 9.0, "A"),  # same speaker: no transition
        (9.0, 10.0, "C"),  # touching: 0.0
    ])
    offsets, contained = transition_offsets(ann)
    assert offsets == pytest.approx([-0.5, 0.5, 0.0]) and contained == 1


def test_dataset_statistics_by_hand() -> None:
    ann = Annotation.from_tuples("r", [(1.0, 3.0, "A"), (2.0, 4.0, "B"), (6.0, 7.0, "A")])
    stats = collect([(ann, Timeline([(0.0, 10.0)]))]).as_dict()
    assert stats["hours"] == pytest.approx(10 / 3600, abs=1e-4)
    assert stats["speech_fraction"] == pytest.approx(0.4)
    assert stats["overlap_ratio"] == pytest.approx(0.25)  # 1 s of 4 s
    assert stats["pauses"]["count"] == 1 and stats["pauses"]["p50"] == pytest.approx(2.0)
    assert stats["turns"]["count"] == 3 and stats["transition_offsets"]["count"] == 2
    assert stats["speakers_per_recording"]["histogram"] == {"2": 1}
    assert "overlap ratio 0.25" in format_stats("x", stats)
