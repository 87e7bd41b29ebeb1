"""RTTM reading and writing, with md-eval-22's record rules.

Reading follows ``md-eval-22.pl``: blank lines and lines starting with ``#`` or ``;``
are skipped; a record needs at least 9 fields; the record type and subtype must be
one md-eval knows (``SPEAKER`` needs subtype ``<NA>``); ``*`` marks on times are
dropped; a duration of ``<NA>`` is 0. Stricter than md-eval (which would silently
read them as 0): non-numeric, NaN, infinite or negative times are errors. Every error
names the file and the line.

Only ``SPEAKER`` records make turns. Other known records are checked and skipped;
``NOSCORE`` and ``NON-LEX`` records, which md-eval turns into no-score zones, are
skipped with a warning. Overlapping turns of one speaker are merged with a warning.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from diarefine.core.annotation import Annotation, Turn
from diarefine.core.time import format_time
from diarefine.errors import DiarefineWarning, FormatError
from diarefine.io.atomic import atomic_open
from diarefine.io.text import read_lines

_ANY = {"<na>"}
#: md-eval-22's record types and their allowed subtypes (lower case).
RECORD_TYPES: dict[str, set[str]] = {
    "SEGMENT": {"eval", "<na>"},
    "NOSCORE": _ANY,
    "NO_RT_METADATA": _ANY,
    "LEXEME": {"lex", "fp", "frag", "un-lex", "for-lex", "alpha", "acronym",
               "interjection", "propernoun", "other"},
    "NON-LEX": {"laugh", "breath", "lipsmack", "cough", "sneeze", "other"},
    "NON-SPEECH": {"noise", "music", "other"},
    "FILLER": {"filled_pause", "discourse_marker", "discourse_response",
               "explicit_editing_term", "other"},
    "EDIT": {"repetition", "restart", "revision", "simple", "complex", "other"},
    "IP": {"edit", "filler", "edit&filler", "other"},
    "SU": {"statement", "backchannel", "question", "incomplete", "unannotated", "other"},
    "CB": {"coordinating", "clausal", "other"},
    "A/P": _ANY,
    "SPEAKER": _ANY,
    "SPKR-INFO": {"adult_male", "adult_female", "child", "unknown"},
}
_NO_SCORE_TYPES = {"NOSCORE", "NON-LEX"}


def _parse_time(text: str, what: str, path: str | Path, line: int) -> float:
    text = text.replace("*", "")
    try:
        value = float(text)
    except ValueError:
        raise FormatError(path, line, f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise FormatError(path, line, f"{what} {text!r} is not finite")
    if value < 0:
        raise FormatError(path, line, f"{what} {text!r} is negative")
    return value


def parse_rttm(lines: Iterable[str], path: str | Path = "<rttm>") -> dict[str, Annotation]:
    """Annotations by uri from RTTM text lines (see the module docstring for the rules)."""
    turns: dict[str, list[Turn]] = defaultdict(list)
    channels: dict[str, str] = {}
    no_score = 0
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;":
            continue
        fields = stripped.split()
        if len(fields) < 9:
            raise FormatError(path, number, f"expected at least 9 fields, found {len(fields)}")
        kind, uri, channel = fields[0].upper(), fields[1], fields[2].lower()
        subtype = fields[6].lower()
        if kind not in RECORD_TYPES or subtype not in RECORD_TYPES[kind]:
            raise FormatError(path, number, f"unknown RTTM type/subtype {fields[0]}/{fields[6]}")
        if kind == "SPKR-INFO":  # speaker metadata: no times (md-eval never reads them)
            continue
        onset = _parse_time(fields[3], "onset", path, number)
        duration = 0.0 if fields[4].lower() == "<na>" else _parse_time(
            fields[4], "duration", path, number)
        if kind in _NO_SCORE_TYPES:
            no_score += 1
        if kind != "SPEAKER":
            continue
        if channels.setdefault(uri, channel) != channel:
            raise FormatError(path, number, f"uri {uri!r} appears on channels "
                              f"{channels[uri]!r} and {channel!r}; one channel per uri")
        turns[uri].append(Turn(onset, onset + duration, fields[7]))
    if no_score:
        warnings.warn(f"{path}: {no_score} NOSCORE/NON-LEX record(s) skipped; md-eval would "
                      "exclude them from scoring", DiarefineWarning, stacklevel=2)
    out = {}
    for uri, uri_turns in turns.items():
        annotation, fusions = Annotation(uri, tuple(uri_turns), channels[uri]).merge_overlaps()
        if fusions:
            warnings.warn(f"{path}: uri {uri!r}: {fusions} overlapping turn(s) of the same "
                          "speaker merged", DiarefineWarning, stacklevel=2)
        out[uri] = annotation
    return out


def read_rttm(path: str | Path) -> dict[str, Annotation]:
    """Annotations by uri from one RTTM file."""
    return parse_rttm(read_lines(path), path)


def load_rttms(path: str | Path) -> dict[str, Annotation]:
    """Annotations by uri from an RTTM file or a directory of ``*.rttm`` files.

    A uri found in several files of a directory has all its turns kept (and a warning).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such RTTM file or directory")
    if not path.is_dir():
        return read_rttm(path)
    files = sorted(path.glob("*.rttm"))
    if not files:
        raise FileNotFoundError(f"{path}: directory holds no *.rttm file")
    out: dict[str, Annotation] = {}
    for file in files:
        for uri, annotation in read_rttm(file).items():
            if uri in out and out[uri].channel != annotation.channel:
                raise FormatError(file, None, f"uri {uri!r} is on channel "
                                  f"{annotation.channel!r} here and {out[uri].channel!r} in "
                                  "another file; one channel per uri")
            if uri in out:
                warnings.warn(f"{file}: uri {uri!r} also appears in another file of {path}; "
                              "turns combined", DiarefineWarning, stacklevel=2)
                annotation = out[uri].with_turns(out[uri].turns + annotation.turns)
                annotation = annotation.merge_overlaps()[0]
            out[uri] = annotation
    return out


def rttm_lines(annotation: Annotation) -> list[str]:
    """RTTM lines of an annotation (times in milliseconds)."""
    for name, value in (("uri", annotation.uri), ("channel", annotation.channel)):
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"{name} {value!r} cannot be written to RTTM")
    lines = []
    for t in annotation.turns:
        if not t.speaker or any(c.isspace() for c in t.speaker):
            raise ValueError(f"speaker label {t.speaker!r} cannot be written to RTTM")
        start = format_time(t.start)
        duration = format_time(float(format_time(t.end)) - float(start))
        lines.append(f"SPEAKER {annotation.uri} {annotation.channel} {start} {duration} "
                     f"<NA> <NA> {t.speaker} <NA> <NA>")
    return lines


def write_rttm_stream(handle: TextIO, annotations: Iterable[Annotation]) -> None:
    for annotation in annotations:
        for line in rttm_lines(annotation):
            handle.write(line + "\n")


def write_rttm(
    path: str | Path, annotations: Annotation | Iterable[Annotation] | Mapping[str, Annotation]
) -> None:
    """Write one or more annotations to ``path`` atomically."""
    if isinstance(annotations, Annotation):
        annotations = [annotations]
    elif isinstance(annotations, Mapping):
        annotations = list(annotations.values())
    with atomic_open(path) as handle:
        write_rttm_stream(handle, annotations)
