"""Fuzzing the text inputs: mutated RTTM, UEM, TOML, wav.scp and manifest files either
parse or are refused with a one-line DiarefineError naming the file (and the line where
there is one): never another exception, never a hang (each call under a deadline)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diarefine.config import PipelineConfig
from diarefine.data.manifest import read_manifest
from diarefine.errors import DiarefineError, FormatError
from diarefine.io.audio import read_wav_scp
from diarefine.io.rttm import read_rttm
from diarefine.io.uem import read_uem

VALID = {
    "rttm": (b"SPEAKER rec 1 0.500 2.000 <NA> <NA> alice <NA> <NA>\n"
             b"SPEAKER rec 1 2.250 1.125 <NA> <NA> bob <NA> <NA>\n"
             b"SPEAKER rec2 1 0.000 3.000 <NA> <NA> alice <NA> <NA>\n", read_rttm),
    "uem": (b"rec 1 0.000 30.000\nrec2 1 1.000 12.500\n", read_uem),
    "toml": (b"[segmentation]\nstep = 2.0\nthreshold = 0.4\n[clustering]\nmethod = \"ahc\"\n"
             b"threshold = 0.7\n[postprocess]\nmedian_filter = 11\n", PipelineConfig.from_toml),
    "scp": (b"rec a.wav\nrec2 sub/b.flac\n", read_wav_scp),
    "jsonl": (b'{"uri": "rec", "audio": "a.wav", "rttm": "a.rttm", "duration": 30.0}\n'
              b'{"uri": "rec2", "audio": "b.wav", "speakers": ["s1", "s2"]}\n', read_manifest),
}

#: One mutation: (kind, position fraction, payload).
MUTATION = st.tuples(st.sampled_from(["insert", "delete", "replace", "truncate", "bom"]),
                     st.floats(0, 1), st.binary(min_size=1, max_size=4))


def mutate(data: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    for kind, where, payload in mutations:
        i = int(where * len(data))
        if kind == "insert":
            data = data[:i] + payload + data[i:]
        elif kind == "delete":
            data = data[:i] + data[i + len(payload):]
        elif kind == "replace":
            data = data[:i] + payload + data[i + len(payload):]
        elif kind == "truncate":
            data = data[:i]
        else:
            data = b"\xef\xbb\xbf" + data
    return data


def check(kind: str, reader: Callable[[Path], object], path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader(path)
    except DiarefineError as exc:
        message = str(exc)
        assert str(path) in message and "\n" not in message, message
        if isinstance(exc, FormatError) and exc.line is not None:
            assert f"{path}:{exc.line}:" in message


@pytest.mark.parametrize("kind", sorted(VALID))
def test_the_valid_files_parse(kind: str, tmp_path: Path) -> None:
    data, reader = VALID[kind]
    path = tmp_path / f"ok.{kind}"
    path.write_bytes(data)
    reader(path)
    path.write_bytes(b"\xef\xbb\xbf" + data)  # a leading byte-order mark is accepted
    reader(path)


@pytest.mark.parametrize("kind", sorted(VALID))
@settings(max_examples=150, deadline=2000,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_files_parse_or_are_refused_with_their_name(
        kind: str, tmp_path: Path, mutations: list[tuple[str, float, bytes]]) -> None:
    data, reader = VALID[kind]
    check(kind, reader, tmp_path / f"fuzz.{kind}", mutate(data, mutations))


def test_bad_bytes_are_named_by_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.rttm"
    path.write_bytes(VALID["rttm"][0] + b"SPEAKER rec 1 9.0 1.0 <NA> <NA> \xff <NA> <NA>\n")
    with pytest.raises(FormatError, match=r"bad.rttm:4: not UTF-8 text \(byte 0xff at column "
                                          r"33\)"):
        read_rttm(path)
    path = tmp_path / "bad.uem"
    path.write_bytes(b"\xef\xbb\xbfrec 1 0.000 30.000\n")
    assert list(read_uem(path)) == ["rec"]  # the mark is not part of the uri
