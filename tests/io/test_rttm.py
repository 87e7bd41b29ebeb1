"""RTTM reading (md-eval-22 record rules), errors with path:line, writing, real AMI files."""

from __future__ import annotations

import os
import re
import warnings
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diarefine.core.annotation import Annotation, Turn
from diarefine.errors import DiarefineWarning, FormatError
from diarefine.io.rttm import (
    load_rttms,
    parse_rttm,
    read_rttm,
    rttm_lines,
    write_rttm,
    write_rttm_stream,
)


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def triples(a: Annotation) -> list[tuple[float, float, str]]:
    return [(t.start, t.end, t.speaker) for t in a.turns]


def spk(uri: str, onset: str, dur: str, who: str, chan: str = "1") -> str:
    return f"SPEAKER {uri} {chan} {onset} {dur} <NA> <NA> {who} <NA> <NA>"


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------- valid input


def test_parse_valid_records(no_warnings) -> None:
    lines = [
        "SPEAKER rec 1 0.500 1.250 <NA> <NA> alice <NA> <NA>",   # 10 fields
        "SPEAKER rec 1 2.000 0.500 <NA> <NA> bob <NA>",          # 9 fields
        "\tSPEAKER  rec  1  3.000\t1.000 <NA> <NA> bob <NA> <NA>  ",  # odd whitespace
        "SPEAKER rec 1 5.000 <NA> <NA> <NA> carol <NA> <NA>",    # <NA> duration -> 0
        "SPEAKER rec 1 6.000 <na> <NA> <NA> carol <NA> <NA>",    # lower-case too
        "SPEAKER rec 1 *7.000 0.250* <NA> <NA> dave <NA> <NA>",  # '*' marks dropped
        "speaker rec 1 8.000 1.000 <na> <na> erin <na> <na>",    # lower-case type/subtype
        "Speaker rec 1 9.000 1.000 <NA> <NA> Frank <NA> <NA>",   # labels keep their case
    ]
    out = parse_rttm(lines)
    assert triples(out["rec"]) == [
        (0.5, 1.75, "alice"), (2.0, 2.5, "bob"), (3.0, 4.0, "bob"), (5.0, 5.0, "carol"),
        (6.0, 6.0, "carol"), (7.0, 7.25, "dave"), (8.0, 9.0, "erin"), (9.0, 10.0, "Frank")]
    assert out["rec"].speakers == ("Frank", "alice", "bob", "carol", "dave", "erin")


def test_read_rttm_comments_blank_lines_and_path(tmp_path: Path, no_warnings) -> None:
    path = write(
        tmp_path / "a.rttm",
        "# a comment",
        ";; another comment",
        "",
        "   ",
        "   # indented comment",
        "SPEAKER rec 1 0.000 1.000 <NA> <NA> A <NA> <NA>",
        "; SPEAKER rec 1 5.000 1.000 <NA> <NA> B <NA> <NA>",
    )
    out = read_rttm(path)
    assert triples(out["rec"]) == [(0.0, 1.0, "A")]
    assert read_rttm(str(path)) == out


def test_empty_file_gives_no_annotation(tmp_path: Path, no_warnings) -> None:
    assert read_rttm(write(tmp_path / "e.rttm", "# nothing", "")) == {}
    assert parse_rttm([]) == {}


def test_other_records_are_checked_and_skipped(no_warnings) -> None:
    lines = [
        "SPEAKER rec 1 0.000 1.000 <NA> <NA> A <NA> <NA>",
        "LEXEME rec 1 0.100 0.300 hello lex A <NA> <NA>",
        "LEXEME rec 1 0.400 0.300 uh fp A <NA> <NA>",
        "SPKR-INFO rec 1 0.000 0.000 <NA> adult_male A <NA> <NA>",
        "SEGMENT rec 1 0.000 1.000 <NA> eval <NA> <NA> <NA>",
        "NON-SPEECH rec 1 1.000 0.500 <NA> noise <NA> <NA> <NA>",
        "SU rec 1 0.000 1.000 <NA> statement A <NA> <NA>",
        # records of other uris that are not SPEAKER make no annotation
        "LEXEME other 1 0.100 0.300 hi lex Z <NA> <NA>",
        "SPEAKER rec 1 2.000 1.000 <NA> <NA> B <NA> <NA>",
    ]
    out = parse_rttm(lines)
    assert list(out) == ["rec"]
    assert triples(out["rec"]) == [(0.0, 1.0, "A"), (2.0, 3.0, "B")]


def test_spkr_info_with_na_times_is_skipped(no_warnings) -> None:
    lines = [
        "SPKR-INFO rec 1 <NA> <NA> <NA> adult_female A <NA> <NA>",
        "SPEAKER rec 1 0.000 1.000 <NA> <NA> A <NA> <NA>",
    ]
    assert triples(parse_rttm(lines)["rec"]) == [(0.0, 1.0, "A")]


def test_multi_uri_file() -> None:
    lines = [
        spk("rec2", "3.0", "1.0", "B", chan="2"),
        spk("rec1", "1.0", "1.0", "A"),
        spk("rec2", "0.0", "1.0", "A", chan="2"),
        spk("rec1", "0.0", "0.5", "C"),
        spk("rec3", "0.0", "0.5", "C", chan="A"),  # channels are lower-cased
    ]
    out = parse_rttm(lines)
    assert list(out) == ["rec2", "rec1", "rec3"]  # order of first appearance
    assert triples(out["rec1"]) == [(0.0, 0.5, "C"), (1.0, 2.0, "A")]
    assert triples(out["rec2"]) == [(0.0, 1.0, "A"), (3.0, 4.0, "B")]
    assert (out["rec1"].channel, out["rec2"].channel, out["rec3"].channel) == ("1", "2", "a")
    assert {u: a.uri for u, a in out.items()} == {u: u for u in out}


def test_channel_case_is_not_a_second_channel() -> None:
    out = parse_rttm([spk("r", "0", "1", "A", chan="A"), spk("r", "2", "1", "A", chan="a")])
    assert out["r"].channel == "a" and len(out["r"]) == 2


# ---------------------------------------------------------------- warnings


def test_noscore_and_nonlex_warn_and_are_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "n.rttm",
        spk("rec", "0.0", "1.0", "A"),
        "NOSCORE rec 1 0.000 0.500 <NA> <NA> <NA> <NA> <NA>",
        "NON-LEX rec 1 0.200 0.100 <NA> laugh A <NA> <NA>",
    )
    with pytest.warns(DiarefineWarning, match=r"2 NOSCORE/NON-LEX record\(s\) skipped") as rec:
        out = read_rttm(path)
    assert str(path) in str(rec[0].message)
    assert triples(out["rec"]) == [(0.0, 1.0, "A")]


def test_single_noscore_record_warns() -> None:
    lines = ["NOSCORE rec 1 0.000 0.500 <NA> <NA> <NA> <NA> <NA>"]
    with pytest.warns(DiarefineWarning, match=r"^<rttm>: 1 NOSCORE/NON-LEX record\(s\)"):
        assert parse_rttm(lines) == {}  # no SPEAKER record: no annotation
    with pytest.raises(FormatError, match="unknown RTTM type/subtype NOSCORE/eval"):
        parse_rttm(["NOSCORE rec 1 0.000 0.500 <NA> eval <NA> <NA> <NA>"])


def test_same_speaker_overlap_merged_with_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path / "o.rttm",
        spk("rec", "0.000", "2.000", "A"),
        spk("rec", "1.000", "2.000", "A"),   # overlaps A by 1 s
        spk("rec", "2.500", "1.000", "A"),   # overlaps the fused turn
        spk("rec", "1.000", "1.000", "B"),   # other speakers untouched
        spk("rec", "4.000", "1.000", "A"),   # touches: kept apart
    )
    with pytest.warns(DiarefineWarning, match=r"uri 'rec': 2 overlapping turn\(s\)") as rec:
        out = read_rttm(path)
    assert len(rec) == 1 and str(path) in str(rec[0].message)
    assert triples(out["rec"]) == [(0.0, 3.5, "A"), (1.0, 2.0, "B"), (4.0, 5.0, "A")]


def test_touching_turns_within_epsilon_do_not_warn(no_warnings) -> None:
    # 0.1 + 0.2 = 0.30000000000000004: the first turn ends a hair after the next begins
    out = parse_rttm([spk("rec", "0.1", "0.2", "A"), spk("rec", "0.3", "0.2", "A")])
    assert len(out["rec"]) == 2


# ---------------------------------------------------------------- errors with path:line

BAD_CASES = [
    ("SPEAKER rec 1 0.0 1.0 <NA> <NA> A", "expected at least 9 fields, found 8"),
    ("SPEAKER rec", "expected at least 9 fields, found 2"),
    ("SPEAKER rec 1 abc 1.0 <NA> <NA> A <NA> <NA>", "onset 'abc' is not a number"),
    ("SPEAKER rec 1 nan 1.0 <NA> <NA> A <NA> <NA>", "onset 'nan' is not finite"),
    ("SPEAKER rec 1 inf 1.0 <NA> <NA> A <NA> <NA>", "onset 'inf' is not finite"),
    ("SPEAKER rec 1 1e999 1.0 <NA> <NA> A <NA> <NA>", "onset '1e999' is not finite"),
    ("SPEAKER rec 1 -1.0 1.0 <NA> <NA> A <NA> <NA>", "onset '-1.0' is negative"),
    ("SPEAKER rec 1 <NA> 1.0 <NA> <NA> A <NA> <NA>", "onset '<NA>' is not a number"),
    ("SPEAKER rec 1 1.0 x1 <NA> <NA> A <NA> <NA>", "duration 'x1' is not a number"),
    ("SPEAKER rec 1 1.0 NaN <NA> <NA> A <NA> <NA>", "duration 'NaN' is not finite"),
    ("SPEAKER rec 1 1.0 -inf <NA> <NA> A <NA> <NA>", "duration '-inf' is not finite"),
    ("SPEAKER rec 1 1.0 -0.5 <NA> <NA> A <NA> <NA>", "duration '-0.5' is negative"),
    ("SPEECH rec 1 1.0 1.0 <NA> <NA> A <NA> <NA>", "unknown RTTM type/subtype SPEECH/<NA>"),
    ("SPEAKER rec 1 1.0 1.0 <NA> lex A <NA> <NA>", "unknown RTTM type/subtype SPEAKER/lex"),
    ("LEXEME rec 1 1.0 1.0 hi word A <NA> <NA>", "unknown RTTM type/subtype LEXEME/word"),
    ("NON-LEX rec 1 1.0 1.0 <NA> <NA> A <NA> <NA>", "unknown RTTM type/subtype NON-LEX/<NA>"),
]


@pytest.mark.parametrize(("line", "message"), BAD_CASES)
def test_malformed_line_names_path_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(
        tmp_path / "bad.rttm",
        "# header",
        spk("rec", "0.0", "1.0", "A"),
        "",
        line,                                 # line 4
        spk("rec", "9.0", "1.0", "A"),
    )
    with pytest.raises(FormatError) as info:
        read_rttm(path)
    err = info.value
    assert str(err) == f"{path}:4: {message}"
    assert (err.path, err.line, err.message) == (str(path), 4, message)
    assert isinstance(err, ValueError)


def test_parse_rttm_default_path_in_messages() -> None:
    with pytest.raises(FormatError, match=r"^<rttm>:2: expected at least 9 fields"):
        parse_rttm([spk("r", "0", "1", "A"), "SPEAKER r 1"])
    with pytest.raises(FormatError, match=r"^mine\.rttm:1: onset"):
        parse_rttm(["SPEAKER r 1 x 1 <NA> <NA> A <NA>"], path="mine.rttm")


def test_uri_on_two_channels(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ch.rttm",
        spk("rec", "0.0", "1.0", "A", chan="1"),
        spk("other", "0.0", "1.0", "A", chan="2"),
        spk("rec", "2.0", "1.0", "B", chan="2"),   # line 3
    )
    with pytest.raises(FormatError) as info:
        read_rttm(path)
    assert str(info.value) == (f"{path}:3: uri 'rec' appears on channels '1' and '2'; "
                               "one channel per uri")


# ---------------------------------------------------------------- load_rttms


def test_load_rttms_on_a_file(tmp_path: Path, no_warnings) -> None:
    path = write(tmp_path / "one.rttm", spk("r1", "0", "1", "A"), spk("r2", "1", "1", "B"))
    out = load_rttms(path)
    assert out == read_rttm(path)
    assert sorted(out) == ["r1", "r2"]
    assert load_rttms(str(path)) == out


def test_load_rttms_on_a_directory(tmp_path: Path, no_warnings) -> None:
    write(tmp_path / "b.rttm", spk("r2", "0", "1", "B"))
    write(tmp_path / "a.rttm", spk("r1", "0", "1", "A"), spk("r1", "2", "1", "C"))
    write(tmp_path / "notes.txt", "this is not an RTTM file")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "c.rttm", spk("r3", "0", "1", "Z"))  # not recursive
    out = load_rttms(tmp_path)
    assert sorted(out) == ["r1", "r2"]
    assert triples(out["r1"]) == [(0.0, 1.0, "A"), (2.0, 3.0, "C")]
    assert triples(out["r2"]) == [(0.0, 1.0, "B")]


def test_load_rttms_combines_uri_split_across_files(tmp_path: Path) -> None:
    write(tmp_path / "part1.rttm", spk("rec", "0", "1", "A"), spk("x", "0", "1", "Q"))
    write(tmp_path / "part2.rttm", spk("rec", "2", "1", "B"), spk("rec", "0.5", "1", "A"))
    with pytest.warns(DiarefineWarning, match=r"uri 'rec' also appears in another file") as rec:
        out = load_rttms(tmp_path)
    assert len(rec) == 1
    assert str(tmp_path / "part2.rttm") in str(rec[0].message)
    # A [0, 1) and A [0.5, 1.5) from the two files overlap: fused
    assert triples(out["rec"]) == [(0.0, 1.5, "A"), (2.0, 3.0, "B")]
    assert triples(out["x"]) == [(0.0, 1.0, "Q")]


def test_load_rttms_uri_on_two_channels_across_files(tmp_path: Path) -> None:
    write(tmp_path / "a.rttm", spk("rec", "0", "1", "A", chan="1"))
    write(tmp_path / "b.rttm", spk("rec", "2", "1", "B", chan="2"))
    with pytest.raises(FormatError, match="channel"):  # as for a single file
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DiarefineWarning)
            load_rttms(tmp_path)


def test_load_rttms_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="directory holds no"):
        load_rttms(tmp_path)
    write(tmp_path / "x.txt", "nothing")
    with pytest.raises(FileNotFoundError, match="directory holds no"):
        load_rttms(tmp_path)
    missing = tmp_path / "nope.rttm"
    with pytest.raises(FileNotFoundError, match="no such RTTM file or directory"):
        load_rttms(missing)
    # an error in one file of a directory names that file
    write(tmp_path / "good.rttm", spk("r", "0", "1", "A"))
    bad = write(tmp_path / "worse.rttm", spk("r", "0", "1", "A"), "SPEAKER r 1 -1 1 <NA> <NA> "
                "A <NA>")
    with pytest.raises(FormatError, match=rf"^{re.escape(str(bad))}:2: onset '-1' is negative"):
        load_rttms(tmp_path)


# ---------------------------------------------------------------- writing


def test_rttm_lines_by_hand() -> None:
    a = Annotation.from_tuples(
        "meeting", [(1.23456, 2.0004, "A"), (0.0, 0.0, "B"), (10.5, 12.25, "MÉO069")],
        channel="2")
    assert rttm_lines(a) == [
        "SPEAKER meeting 2 0.000 0.000 <NA> <NA> B <NA> <NA>",
        # start 1.23456 -> 1.235, end 2.0004 -> 2.000, duration = 2.000 - 1.235
        "SPEAKER meeting 2 1.235 0.765 <NA> <NA> A <NA> <NA>",
        "SPEAKER meeting 2 10.500 1.750 <NA> <NA> MÉO069 <NA> <NA>",
    ]
    # the duration is end rounded minus start rounded, not the duration rounded:
    # [0.0004, 1.0006) is 1.0002 s long, written as 0.000 + 1.001
    b = Annotation.from_tuples("r", [(0.0004, 1.0006, "A")])
    assert rttm_lines(b) == ["SPEAKER r 1 0.000 1.001 <NA> <NA> A <NA> <NA>"]
    assert rttm_lines(Annotation("r")) == []


@pytest.mark.parametrize("label", ["", "a b", "a\tb", "x\n", "nb\u00a0sp"])
def test_speaker_labels_with_whitespace_refused(tmp_path: Path, label: str) -> None:
    a = Annotation.from_tuples("r", [(0.0, 1.0, label)])
    with pytest.raises(ValueError, match="cannot be written to RTTM"):
        rttm_lines(a)
    with pytest.raises(ValueError):
        write_rttm(tmp_path / "w.rttm", a)
    assert not (tmp_path / "w.rttm").exists()
    assert os.listdir(tmp_path) == []  # no temp file left behind


@pytest.mark.parametrize(("uri", "channel"), [("my file", "1"), ("rec", "a b"), ("", "1")])
def test_uri_and_channel_with_whitespace_refused(uri: str, channel: str) -> None:
    a = Annotation.from_tuples(uri, [(0.0, 1.0, "A")], channel=channel)
    with pytest.raises(ValueError):
        rttm_lines(a)


def test_write_rttm_accepts_annotation_list_and_mapping(tmp_path: Path) -> None:
    a = Annotation.from_tuples("r1", [(0.0, 1.0, "A")])
    b = Annotation.from_tuples("r2", [(2.0, 3.5, "B")])
    expected = ("SPEAKER r1 1 0.000 1.000 <NA> <NA> A <NA> <NA>\n"
                "SPEAKER r2 1 2.000 1.500 <NA> <NA> B <NA> <NA>\n")
    write_rttm(tmp_path / "list.rttm", [a, b])
    write_rttm(tmp_path / "map.rttm", {"r1": a, "r2": b})
    write_rttm(tmp_path / "gen.rttm", (x for x in (a, b)))
    write_rttm(tmp_path / "one.rttm", a)
    for name in ("list", "map", "gen"):
        assert (tmp_path / f"{name}.rttm").read_text(encoding="utf-8") == expected
    assert (tmp_path / "one.rttm").read_text(encoding="utf-8") == expected.splitlines(True)[0]
    assert sorted(os.listdir(tmp_path)) == ["gen.rttm", "list.rttm", "map.rttm", "one.rttm"]


def test_write_rttm_creates_parent_dirs_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "out.rttm"
    write_rttm(target, Annotation.from_tuples("r", [(0.0, 1.0, "A")]))
    write_rttm(target, Annotation.from_tuples("r", [(5.0, 6.0, "B")]))
    assert target.read_text(encoding="utf-8") == "SPEAKER r 1 5.000 1.000 <NA> <NA> B <NA> <NA>\n"
    assert os.listdir(target.parent) == ["out.rttm"]


def test_failed_write_keeps_the_target_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = write(tmp_path / "out.rttm", "SPEAKER old 1 0.000 1.000 <NA> <NA> X <NA> <NA>")
    before = target.read_bytes()
    good = Annotation.from_tuples("r1", [(0.0, 1.0, "A")])
    bad = Annotation.from_tuples("r2", [(0.0, 1.0, "has space")])  # fails after r1 is written
    with pytest.raises(ValueError):
        write_rttm(target, [good, bad])
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.rttm"]


def test_write_rttm_stream(tmp_path: Path) -> None:
    import io

    buf = io.StringIO()
    write_rttm_stream(buf, [Annotation.from_tuples("r", [(0.5, 0.75, "A")])])
    assert buf.getvalue() == "SPEAKER r 1 0.500 0.250 <NA> <NA> A <NA> <NA>\n"


def test_round_trip_by_hand(tmp_path: Path, no_warnings) -> None:
    a = Annotation.from_tuples(
        "rec", [(0.1, 0.3, "A"), (0.2, 0.9, "B"), (0.3, 0.31, "A"), (5.0, 5.0, "C"),
                (1.23456, 2.0004, "MÉO069")], channel="1")
    path = tmp_path / "rt.rttm"
    write_rttm(path, a)
    back = read_rttm(path)["rec"]
    assert back.channel == "1" and back.speakers == a.speakers
    expected = [(0.1, 0.3, "A"), (0.2, 0.9, "B"), (0.3, 0.31, "A"), (1.235, 2.0, "MÉO069"),
                (5.0, 5.0, "C")]
    assert len(back) == len(expected)
    for t, (s, e, who) in zip(back.turns, expected):
        assert t.speaker == who
        assert t.start == s  # onsets are read from their own text
        assert t.end == pytest.approx(e, abs=1e-9)  # onset + duration: up to an ulp


ms_turns = st.lists(
    st.tuples(st.integers(0, 100_000), st.integers(0, 5_000),
              st.sampled_from(["A", "B", "spk_3", "MÉO069", "李"])),
    max_size=15,
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(turns=ms_turns, channel=st.sampled_from(["1", "a", "2"]))
def test_round_trip_on_millisecond_grid(tmp_path: Path, turns, channel: str) -> None:
    original = Annotation.from_tuples(
        "rec", [(i / 1000, (i + d) / 1000, s) for i, d, s in turns], channel=channel)
    original, _ = original.merge_overlaps()  # the reader would merge (and warn) otherwise
    path = tmp_path / "rt.rttm"
    write_rttm(path, original)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_rttm(path)
    if not original:
        assert back == {}
        return
    got = back["rec"]
    assert got.channel == channel
    assert len(got) == len(original)
    for t, u in zip(got.turns, original.turns):
        assert t.speaker == u.speaker
        assert t.start == u.start
        assert t.end == pytest.approx(u.end, abs=1e-9)
    # writing again gives the same text
    assert rttm_lines(got) == rttm_lines(original)


# ---------------------------------------------------------------- the real AMI excerpts


def independent_parse(path: Path) -> dict[str, list[tuple[float, float, str]]]:
    """SPEAKER records by uri with a plain str.split, nothing from diarefine."""
    out: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if not fields or fields[0].startswith(("#", ";")) or fields[0].upper() != "SPEAKER":
            continue
        onset = float(fields[3])
        out[fields[1]].append((onset, onset + float(fields[4]), fields[7]))
    return out


AMI_FILES = ["debug.train.rttm", "debug.development.rttm", "debug.test.rttm"]


@pytest.mark.parametrize("name", AMI_FILES)
def test_real_ami_reference_rttms(shared_data: Path, name: str, no_warnings) -> None:
    path = shared_data / "ami-excerpts" / name
    expected = independent_parse(path)
    assert expected  # the file has SPEAKER records
    got = read_rttm(path)
    assert sorted(got) == sorted(expected)
    for uri, turns in expected.items():
        a = got[uri]
        assert a.channel == "1"
        # no same-speaker overlap in these references, so nothing may be merged
        for who in {s for _, _, s in turns}:
            mine = sorted((s, e) for s, e, w in turns if w == who)
            assert all(b[0] >= a_[1] - 1e-8 for a_, b in zip(mine, mine[1:]))
        assert len(a) == len(turns)
        assert a.speakers == tuple(sorted({s for _, _, s in turns}))
        assert sorted(triples(a)) == sorted(turns)
    total = sum(len(t) for t in expected.values())
    assert sum(len(a) for a in got.values()) == total


def test_real_ami_counts_and_non_ascii_labels(shared_data: Path, no_warnings) -> None:
    folder = shared_data / "ami-excerpts"
    train = read_rttm(folder / "debug.train.rttm")
    # non-ASCII label, read as UTF-8 (not mojibake like 'MÃ‰O069')
    assert "MÉO069" in train["trn00"].speakers
    assert Turn(3.168, 3.168 + 0.800, "MÉO069") in train["trn00"].turns
    raw = (folder / "debug.train.rttm").read_text(encoding="utf-8")
    assert raw.count("MÉO069") == sum(
        1 for a in train.values() for t in a.turns if t.speaker == "MÉO069")
    # total turns and files of the whole folder: one SPEAKER line per turn
    everything = load_rttms(folder)
    lines = sum(
        1 for f in folder.glob("*.rttm") for line in f.read_text(encoding="utf-8").splitlines()
        if line.split()[:1] == ["SPEAKER"])
    assert sum(len(a) for a in everything.values()) == lines
    uris = {line.split()[1] for f in folder.glob("*.rttm")
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()}
    assert set(everything) == uris
    assert len(everything) == 14  # trn00-09, dev00-01, tst00-01 (the folder's README)


def test_real_ami_round_trip(shared_data: Path, tmp_path: Path, no_warnings) -> None:
    src = shared_data / "ami-excerpts" / "debug.test.rttm"
    original = read_rttm(src)
    write_rttm(tmp_path / "copy.rttm", original)
    # the references are in milliseconds already: the text is reproduced line for line
    assert sorted((tmp_path / "copy.rttm").read_text(encoding="utf-8").splitlines()) == sorted(
        line for line in src.read_text(encoding="utf-8").splitlines() if line.strip())
