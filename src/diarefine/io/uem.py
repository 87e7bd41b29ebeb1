"""UEM (un-partitioned evaluation map) files: the time of each recording to score.

A line is ``FILE CHANNEL START END``; blank lines and lines starting with ``#`` or ``;``
are skipped. As in md-eval-22, several lines per file are allowed but must not overlap,
and each needs ``END > START``. Unlike md-eval, which keys UEM lines on the file *and*
channel and silently ignores a UEM whose channel differs from the RTTM's, diarefine keys
them on the file id alone and lets the scorer warn about the channel mismatch. The file
id loses any directory and a known audio extension (``dir/a.wav`` -> ``a``); other dots
are kept, so AMI-style ids such as ``EN2002a.Mix-Headset`` survive.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from diarefine.core.segment import Segment
from diarefine.core.time import format_time
from diarefine.core.timeline import Timeline
from diarefine.errors import FormatError
from diarefine.io.atomic import atomic_open
from diarefine.io.formats import AUDIO_EXTENSIONS
from diarefine.io.text import read_lines


def file_id(name: str) -> str:
    """UEM/list file id: drop any directory and a known audio extension."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    for ext in AUDIO_EXTENSIONS:
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


@dataclass(frozen=True)
class Uem(Mapping[str, Timeline]):
    """Scoring regions by uri, with the channel each UEM line gave."""

    regions: Mapping[str, Timeline]
    channels: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, uri: str) -> Timeline:
        return self.regions[uri]

    def __iter__(self) -> Iterator[str]:
        return iter(self.regions)

    def __len__(self) -> int:
        return len(self.regions)


def _number(text: str, what: str, path: str | Path, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(path, line, f"{what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise FormatError(path, line, f"{what} {text!r} must be finite and non-negative")
    return value


def parse_uem(lines: Iterable[str], path: str | Path = "<uem>") -> Uem:
    segments: dict[str, list[tuple[int, Segment]]] = defaultdict(list)
    channels: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;":
            continue
        fields = stripped.split()
        if len(fields) < 4:
            raise FormatError(path, number, f"expected 4 fields, found {len(fields)}")
        uri = file_id(fields[0])
        start = _number(fields[2], "start", path, number)
        end = _number(fields[3], "end", path, number)
        if end <= start:
            raise FormatError(path, number, f"end {end} is not after start {start}")
        channels.setdefault(uri, fields[1])
        segments[uri].append((number, Segment(start, end)))
    regions = {}
    for uri, items in segments.items():
        items.sort(key=lambda item: item[1])
        for (_, previous), (number, current) in zip(items, items[1:]):
            if current.start < previous.end:
                raise FormatError(path, number, f"region [{current.start}, {current.end}] of "
                                  f"{uri!r} overlaps [{previous.start}, {previous.end}]")
        regions[uri] = Timeline(seg for _, seg in items)
    return Uem(regions, channels)


def read_uem(path: str | Path) -> Uem:
    return parse_uem(read_lines(path), path)


def write_uem(path: str | Path, uem: Mapping[str, Timeline], channel: str = "1") -> None:
    """Write scoring regions atomically, one line per interval."""
    channels = uem.channels if isinstance(uem, Uem) else {}
    with atomic_open(path) as handle:
        for uri in sorted(uem):
            for seg in uem[uri]:
                handle.write(f"{uri} {channels.get(uri, channel)} {format_time(seg.start)} "
                             f"{format_time(seg.end)}\n")
