"""UEM files: parsing, file ids, errors with path:line, channels, writing, real AMI UEMs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diarefine.core.timeline import Timeline
from diarefine.errors import FormatError
from diarefine.io.uem import Uem, file_id, parse_uem, read_uem, write_uem


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def pairs_of(tl: Timeline) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in tl.bounds]


# ---------------------------------------------------------------- file ids


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rec", "rec"),
        ("rec.wav", "rec"),
        ("/data/audio/rec.wav", "rec"),
        ("audio/rec.flac", "rec"),
        ("REC.WAV", "REC"),
        ("a.sph", "a"),
        ("a.mp3", "a"),
        ("a.ogg", "a"),
        ("a.opus", "a"),
        ("a.m4a", "a"),
        (r"C:\corpus\rec.wav", "rec"),
        ("EN2002a.Mix-Headset", "EN2002a.Mix-Headset"),          # AMI id: dot kept
        ("EN2002a.Mix-Headset.wav", "EN2002a.Mix-Headset"),
        ("amicorpus/EN2002a/audio/EN2002a.Mix-Headset.wav", "EN2002a.Mix-Headset"),
        ("rec.txt", "rec.txt"),                                  # not an audio extension
        ("rec.wav.wav", "rec.wav"),                              # one extension only
        ("dir.wav/rec", "rec"),
    ],
)
def test_file_id(name: str, expected: str) -> None:
    assert file_id(name) == expected


# ---------------------------------------------------------------- parsing


def test_parse_comments_and_several_regions(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.uem",
        "# header comment",
        ";; another",
        "",
        "rec1 1 10.000 20.000",
        "   ",
        "rec2 A 0.0 5.5",
        "rec1 1 0.000 5.000",        # out of order: sorted
        "  rec1 1 25 30   extra",    # more than 4 fields is fine (as in md-eval)
        "rec1 1 20.000 22.000",      # touches [10, 20): merged in the timeline
        "; rec3 1 0 1",
    )
    uem = read_uem(path)
    assert isinstance(uem, Uem)
    assert sorted(uem) == ["rec1", "rec2"]
    assert len(uem) == 2
    assert "rec1" in uem and "rec3" not in uem
    assert pairs_of(uem["rec1"]) == [(0.0, 5.0), (10.0, 22.0), (25.0, 30.0)]
    assert pairs_of(uem["rec2"]) == [(0.0, 5.5)]
    assert uem["rec1"].duration() == 5.0 + 12.0 + 5.0
    assert dict(uem.channels) == {"rec1": "1", "rec2": "A"}
    assert uem.regions["rec2"] == uem["rec2"]
    with pytest.raises(KeyError):
        uem["rec3"]


def test_parse_strips_directory_and_extension() -> None:
    uem = parse_uem([
        "/corpus/wav/rec1.wav 1 0 10",
        "EN2002a.Mix-Headset 1 0 60",
        "other/EN2002b.Mix-Headset.wav 1 5 60",
        "rec1 1 20 30",   # same id as the first line once stripped
    ])
    assert sorted(uem) == ["EN2002a.Mix-Headset", "EN2002b.Mix-Headset", "rec1"]
    assert pairs_of(uem["rec1"]) == [(0.0, 10.0), (20.0, 30.0)]
    assert pairs_of(uem["EN2002b.Mix-Headset"]) == [(5.0, 60.0)]


def test_first_channel_is_recorded() -> None:
    uem = parse_uem(["r 1 0 1", "r 2 5 6", "s NA 0 1"])
    assert dict(uem.channels) == {"r": "1", "s": "NA"}  # channel kept as written
    assert pairs_of(uem["r"]) == [(0.0, 1.0), (5.0, 6.0)]  # keyed on the file id alone


def test_empty_input() -> None:
    uem = parse_uem(["# only a comment", ""])
    assert len(uem) == 0 and list(uem) == [] and dict(uem.channels) == {}


# ---------------------------------------------------------------- errors

BAD = [
    ("rec 1 0", "expected 4 fields, found 3"),
    ("rec", "expected 4 fields, found 1"),
    ("rec 1 abc 10", "start 'abc' is not a number"),
    ("rec 1 0 ten", "end 'ten' is not a number"),
    ("rec 1 1,000 2000", "start '1,000' is not a number"),
    ("rec 1 nan 10", "start 'nan' must be finite and non-negative"),
    ("rec 1 0 inf", "end 'inf' must be finite and non-negative"),
    ("rec 1 -1 10", "start '-1' must be finite and non-negative"),
    ("rec 1 5 5", "end 5.0 is not after start 5.0"),
    ("rec 1 6 5.5", "end 5.5 is not after start 6.0"),
]


@pytest.mark.parametrize(("line", "message"), BAD)
def test_malformed_line_names_path_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "bad.uem", "# header", "ok 1 0 10", "", line, "ok2 1 0 1")
    with pytest.raises(FormatError) as info:
        read_uem(path)
    err = info.value
    assert str(err) == f"{path}:4: {message}"
    assert (err.path, err.line) == (str(path), 4)


def test_overlapping_regions(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ov.uem",
        "rec 1 0 10",
        "other 1 5 15",       # another file: no conflict
        "rec 1 20 30",
        "rec 1 9.5 12",       # line 4 overlaps [0, 10)
    )
    with pytest.raises(FormatError) as info:
        read_uem(path)
    assert str(info.value) == f"{path}:4: region [9.5, 12.0] of 'rec' overlaps [0.0, 10.0]"


def test_overlap_with_a_region_nested_in_another() -> None:
    with pytest.raises(FormatError, match=r"^<uem>:2: region \[2\.0, 3\.0\] of 'r' overlaps"):
        parse_uem(["r 1 0 10", "r 1 2 3"])
    # an identical region twice is an overlap too
    with pytest.raises(FormatError, match="overlaps"):
        parse_uem(["r 1 0 10", "r 1 0 10"])
    # ... and so is one that only overlaps after the file ids are stripped
    with pytest.raises(FormatError, match="overlaps"):
        parse_uem(["a/r.wav 1 0 10", "r 1 5 20"])


def test_touching_regions_are_not_an_overlap() -> None:
    uem = parse_uem(["r 1 0 10", "r 1 10 20"])
    assert pairs_of(uem["r"]) == [(0.0, 20.0)]


# ---------------------------------------------------------------- writing


def test_write_uem_by_hand(tmp_path: Path) -> None:
    regions = {"b": Timeline([(0.0, 1.23456), (5.0, 6.0)]), "a": Timeline([(2.5, 3.0)])}
    path = tmp_path / "out.uem"
    write_uem(path, regions)
    assert path.read_text(encoding="utf-8") == (
        "a 1 2.500 3.000\n"
        "b 1 0.000 1.235\n"
        "b 1 5.000 6.000\n"
    )
    write_uem(path, regions, channel="NA")
    assert path.read_text(encoding="utf-8").splitlines()[0] == "a NA 2.500 3.000"
    assert os.listdir(tmp_path) == ["out.uem"]


def test_write_uem_keeps_channels_of_a_uem(tmp_path: Path) -> None:
    uem = parse_uem(["r 1 0 10", "s NA 0 5", "s NA 7 8"])
    path = tmp_path / "out.uem"
    write_uem(path, uem, channel="ignored")
    assert path.read_text(encoding="utf-8") == (
        "r 1 0.000 10.000\ns NA 0.000 5.000\ns NA 7.000 8.000\n")
    back = read_uem(path)
    assert dict(back.channels) == {"r": "1", "s": "NA"}
    assert dict(back.regions) == dict(uem.regions)


def test_failed_write_keeps_the_target(tmp_path: Path) -> None:
    target = write(tmp_path / "out.uem", "old 1 0 1")

    class Broken(dict):
        def __getitem__(self, key: str) -> Timeline:
            if key == "z":
                raise RuntimeError("disk on fire")
            return super().__getitem__(key)

    with pytest.raises(RuntimeError):
        write_uem(target, Broken(a=Timeline([(0.0, 1.0)]), z=Timeline([(0.0, 1.0)])))
    assert target.read_text(encoding="utf-8") == "old 1 0 1\n"
    assert os.listdir(tmp_path) == ["out.uem"]


region_lists = st.dictionaries(
    st.sampled_from(["rec1", "EN2002a.Mix-Headset", "x_y-z", "tst00"]),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 2_000)), min_size=1, max_size=6),
    min_size=0, max_size=4,
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=region_lists, channel=st.sampled_from(["1", "NA", "a"]))
def test_round_trip_on_millisecond_grid(tmp_path: Path, spec, channel: str) -> None:
    regions = {
        uri: Timeline([(s / 1000, (s + d) / 1000) for s, d in items]) for uri, items in spec.items()
    }
    path = tmp_path / "rt.uem"
    write_uem(path, regions, channel=channel)
    back = read_uem(path)
    assert sorted(back) == sorted(regions)
    for uri, tl in regions.items():
        # times on a millisecond grid are written and read back exactly
        assert back[uri] == tl
        assert back.channels[uri] == channel


# ---------------------------------------------------------------- the real AMI UEMs


@pytest.mark.parametrize("subset", ["train", "development", "test"])
def test_real_ami_uems(shared_data: Path, subset: str) -> None:
    path = shared_data / "ami-excerpts" / f"debug.{subset}.uem"
    uem = read_uem(path)
    # independent parse: one `uri NA start end` line per excerpt
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    assert sorted(uem) == sorted(r[0] for r in rows)
    assert len(uem) == len(rows)
    for uri, chan, start, end in rows:
        assert uem.channels[uri] == chan == "NA"
        assert pairs_of(uem[uri]) == [(float(start), float(end))]
        assert uem[uri].duration() == 30.0  # 30 s excerpts
    # the uris are those of the matching reference RTTM
    rttm_uris = {line.split()[1] for line in
                 (shared_data / "ami-excerpts" / f"debug.{subset}.rttm")
                 .read_text(encoding="utf-8").splitlines() if line.strip()}
    assert set(uem) == rttm_uris
    expected_count = {"train": 10, "development": 2, "test": 2}[subset]
    assert len(uem) == expected_count
