"""One manifest form for every corpus: JSONL, one recording per line.

Written by ``diarefine simulate`` and ``diarefine prepare``, read by :func:`read_manifest`.
Each line is a JSON object with these keys, in this order::

    uri            recording id (the RTTM/UEM file id)
    audio          audio file
    rttm           reference RTTM (may hold other recordings too: select by uri), or null
    uem            scoring regions (UEM, selected by uri), or null: score the whole file
    duration       audio length, seconds (3 decimals)
    num_speakers   distinct speakers in the reference
    speakers       their labels, sorted
    split          "train" / "dev" / "test" (or a corpus subset name), or null
    overlap_ratio  overlapped speech time / speech time of the reference (4 decimals)
    seed           simulation seed, or null for real recordings

followed by any other keys (sorted), kept in :attr:`Recording.extra`. Paths inside the
manifest's folder are written relative to it (``/`` separators), others absolute; relative
paths are read relative to the manifest's folder. Output is byte-stable: fixed key order,
fixed rounding, no timestamps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.errors import FormatError
from diarefine.io.atomic import atomic_write_text
from diarefine.io.rttm import read_rttm
from diarefine.io.text import read_lines
from diarefine.io.uem import read_uem

KEYS = ("uri", "audio", "rttm", "uem", "duration", "num_speakers", "speakers", "split",
        "overlap_ratio", "seed")


@dataclass(frozen=True)
class Recording:
    """One manifest entry; paths are resolved (absolute or relative to the cwd)."""

    uri: str
    audio: Path
    rttm: Path | None = None
    uem: Path | None = None
    duration: float | None = None
    num_speakers: int | None = None
    speakers: tuple[str, ...] = ()
    split: str | None = None
    overlap_ratio: float | None = None
    seed: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def overlap_ratio(annotation: Annotation) -> float:
    """Overlapped speech time (>= 2 speakers) over speech time (>= 1); 0 without speech."""
    speech = annotation.speech().duration()
    return annotation.overlap().duration() / speech if speech > 0 else 0.0


def _rel(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path(os.path.abspath(base))).as_posix()
    except ValueError:
        return absolute.as_posix()


def record_json(rec: Recording, base: Path) -> str:
    """One manifest line (no newline) with paths relative to ``base`` where possible."""
    item: dict[str, Any] = {
        "uri": rec.uri, "audio": _rel(rec.audio, base), "rttm": _rel(rec.rttm, base),
        "uem": _rel(rec.uem, base),
        "duration": None if rec.duration is None else round(rec.duration, 3),
        "num_speakers": rec.num_speakers, "speakers": list(rec.speakers), "split": rec.split,
        "overlap_ratio": None if rec.overlap_ratio is None else round(rec.overlap_ratio, 4),
        "seed": rec.seed,
    }
    clash = set(rec.extra) & set(KEYS)
    if clash:
        raise ValueError(f"extra keys {sorted(clash)} shadow manifest keys")
    item.update({k: rec.extra[k] for k in sorted(rec.extra)})
    return json.dumps(item, ensure_ascii=False, sort_keys=False)


def write_manifest(path: str | Path, recordings: Iterable[Recording]) -> None:
    """Write recordings atomically, in the given order; uris must be unique."""
    path = Path(path)
    lines, seen = [], set()
    for rec in recordings:
        if rec.uri in seen:
            raise ValueError(f"recording {rec.uri!r} appears twice in the manifest")
        seen.add(rec.uri)
        lines.append(record_json(rec, path.parent) + "\n")
    atomic_write_text(path, "".join(lines))


def _path(value: Any, base: Path, what: str, path: Path, number: int) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise FormatError(path, number, f"{what} must be a path string or null")
    p = Path(value)
    return p if p.is_absolute() else base / p


def parse_record(item: Mapping[str, Any], base: Path, path: Path, number: int) -> Recording:
    """A :class:`Recording` from one decoded manifest object."""
    uri = item.get("uri")
    if not isinstance(uri, str) or not uri or any(c.isspace() for c in uri):
        raise FormatError(path, number, f"bad or missing 'uri': {uri!r}")
    audio = _path(item.get("audio"), base, "audio", path, number)
    if audio is None:
        raise FormatError(path, number, f"{uri}: missing 'audio'")
    try:
        return Recording(
            uri=uri, audio=audio,
            rttm=_path(item.get("rttm"), base, "rttm", path, number),
            uem=_path(item.get("uem"), base, "uem", path, number),
            duration=None if item.get("duration") is None else float(item["duration"]),
            num_speakers=None if item.get("num_speakers") is None else int(item["num_speakers"]),
            speakers=tuple(str(s) for s in item.get("speakers") or ()),
            split=None if item.get("split") is None else str(item["split"]),
            overlap_ratio=(None if item.get("overlap_ratio") is None
                           else float(item["overlap_ratio"])),
            seed=None if item.get("seed") is None else int(item["seed"]),
            extra={k: v for k, v in item.items() if k not in KEYS})
    except (TypeError, ValueError) as exc:
        raise FormatError(path, number, f"{uri}: {exc}") from None


def json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of a JSON-lines file; FormatError
    naming the file and line for a line that is not a JSON object."""
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(path, number, f"not JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise FormatError(path, number, "expected a JSON object")
        yield number, item


def read_manifest(path: str | Path) -> list[Recording]:
    """Recordings of a JSONL manifest, in file order; FormatError names file and line."""
    path = Path(path)
    out, seen = [], set()
    for number, item in json_lines(path):
        rec = parse_record(item, path.parent, path, number)
        if rec.uri in seen:
            raise FormatError(path, number, f"recording {rec.uri!r} listed twice")
        seen.add(rec.uri)
        out.append(rec)
    return out


def load_references(recordings: Sequence[Recording]) -> dict[str, Annotation]:
    """Reference annotation of each recording (empty when it has no RTTM or no turns);
    each RTTM file is read once."""
    files: dict[Path, dict[str, Annotation]] = {}
    out = {}
    for rec in recordings:
        if rec.rttm is None:
            out[rec.uri] = Annotation(rec.uri)
            continue
        if rec.rttm not in files:
            files[rec.rttm] = read_rttm(rec.rttm)
        out[rec.uri] = files[rec.rttm].get(rec.uri, Annotation(rec.uri))
    return out


def load_scoring_regions(recordings: Sequence[Recording]) -> dict[str, Timeline | None]:
    """UEM region of each recording, None when it has no UEM or its UEM lacks the uri;
    each UEM file is read once."""
    files: dict[Path, Mapping[str, Timeline]] = {}
    out: dict[str, Timeline | None] = {}
    for rec in recordings:
        if rec.uem is None:
            out[rec.uri] = None
            continue
        if rec.uem not in files:
            files[rec.uem] = read_uem(rec.uem)
        out[rec.uri] = files[rec.uem].get(rec.uri)
    return out
