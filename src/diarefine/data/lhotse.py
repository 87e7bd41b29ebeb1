"""lhotse RecordingSet / SupervisionSet manifests, read and written without lhotse.

Files: JSON lines (``.jsonl``), gzipped (``.jsonl.gz``, what lhotse recipes write) or a
JSON list (``.json``, ``.json.gz``). A malformed line is a :class:`FormatError` naming the
file and the line (the item, in a JSON list).

Reading (``diarefine prepare lhotse SRC``): ``SRC`` is the recordings manifest, or a folder
holding exactly one file whose name contains ``recordings`` (e.g.
``ami_recordings_dev.jsonl.gz``). The supervisions manifest is ``supervisions`` when given,
else the file beside it named with ``supervisions`` for ``recordings``.

* A recording needs a single ``file`` source, read whole (diarefine mixes channels to
  mono): several sources, ``url``/``command``/``memory`` sources, a subset of the file's
  channels, transforms other than ``Resample``, or a declared duration more than
  :data:`~diarefine.data.corpora.END_TOLERANCE` away from the file's are problems.
* A relative ``source`` is looked up from the working directory (as lhotse opens it) and,
  failing that, from the recordings manifest's folder.
* Each supervision is a turn ``[start, start + duration)`` of its ``speaker``; its
  ``channel``, ``text`` and other fields are ignored. A supervision without a speaker (or
  with spaces in it, which RTTM cannot hold) is a problem of its recording; supervisions of
  a recording that is not in the recordings manifest are a problem of that id.
* A recording without supervisions is kept with an **empty reference** (no speech): in
  lhotse the two manifests are the whole annotation, and a test set may hold silent
  recordings. Its RTTM is an empty file.

lhotse has no RTTM files, so the reader derives one per recording,
``reference_dir/<id>.rttm`` (times in ms, same-speaker overlaps merged with a warning);
they are held in :attr:`~diarefine.data.corpora.Prepared.derived` until the caller writes
them (:func:`~diarefine.data.corpora.write_derived`), so nothing is written when a
problem stops ``prepare``.

Writing (:func:`write_lhotse`): ``recordings.jsonl.gz`` and ``supervisions.jsonl.gz``, the
names and compression lhotse's ``load_manifest`` reads, byte-stable (no gzip timestamp or
file name). Audio paths are absolute; audio facts come from the file's header. One
supervision per reference turn, id ``<uri>-<index:05d>`` in time order, channel 0 (all
channels of a multi-channel file, as a list), times with the RTTM's millisecond rounding.
"""

from __future__ import annotations

import gzip
import json
import math
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diarefine.core.annotation import Annotation, Turn
from diarefine.core.time import format_time
from diarefine.data.corpora import END_TOLERANCE, CorpusError, Problem, _Corpus
from diarefine.data.manifest import Recording, load_references
from diarefine.errors import AudioError, DiarefineWarning, FormatError
from diarefine.io.atomic import atomic_open
from diarefine.io.audio import AudioInfo, audio_info
from diarefine.io.text import read_text

SUFFIXES = (".jsonl.gz", ".jsonl", ".json.gz", ".json")
#: Transforms that leave the timeline and the content as diarefine reads them.
HARMLESS_TRANSFORMS = frozenset({"Resample"})


@dataclass(frozen=True)
class At:
    """Where an object was read: a line of a JSONL file, or an item of a JSON list."""

    path: Path
    line: int | None
    item: int

    def error(self, message: str) -> FormatError:
        prefix = "" if self.line is not None else f"item {self.item}: "
        return FormatError(self.path, self.line, prefix + message)

    def __str__(self) -> str:
        name = self.path.name
        return f"{name}:{self.line}" if self.line is not None else f"{name} item {self.item}"


@dataclass(frozen=True)
class LhotseRecording:
    id: str
    sources: tuple[Mapping[str, Any], ...]
    sampling_rate: int
    num_samples: int
    duration: float
    transforms: tuple[str, ...]


@dataclass(frozen=True)
class Supervision:
    id: str
    recording_id: str
    start: float
    duration: float
    speaker: str | None
    at: At


def is_manifest(path: Path) -> bool:
    return path.is_file() and path.name.endswith(SUFFIXES)


def _text(path: Path) -> str:
    if not path.name.endswith(".gz"):
        return read_text(path)
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(path, None, f"not gzip data ({exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(path, line, "not UTF-8 text") from None


def manifest_items(path: Path) -> Iterator[tuple[At, dict[str, Any]]]:
    """Each object of a manifest with where it was read."""
    text = _text(path)
    if path.name.endswith((".json", ".json.gz")):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FormatError(path, exc.lineno, f"not JSON ({exc.msg})") from None
        if not isinstance(items, list):
            raise FormatError(path, None, "expected a JSON list of objects")
        numbered = [(At(path, None, i), item) for i, item in enumerate(items, start=1)]
    else:
        numbered = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    numbered.append((At(path, number, len(numbered) + 1), json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise FormatError(path, number, f"not JSON ({exc.msg})") from None
    for at, item in numbered:
        if not isinstance(item, dict):
            raise at.error("expected a JSON object")
        yield at, item


def _string(item: Mapping[str, Any], key: str, at: At) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise at.error(f"missing or empty {key!r}")
    return value


def _number(item: Mapping[str, Any], key: str, at: At, kind: type = float) -> Any:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise at.error(f"{key!r} must be a number, got {value!r}")
    if value < 0 or (kind is int and value != int(value)):
        raise at.error(f"{key!r} must be a non-negative {kind.__name__}, got {value!r}")
    return kind(value)


def parse_recording(item: Mapping[str, Any], at: At) -> LhotseRecording:
    """One RecordingSet object."""
    sources = item.get("sources")
    if not isinstance(sources, list) or not sources or not all(
            isinstance(s, dict) and isinstance(s.get("type"), str) for s in sources):
        raise at.error("'sources' must be a non-empty list of objects with a 'type'")
    transforms = item.get("transforms") or []
    if not isinstance(transforms, list) or not all(isinstance(t, dict) for t in transforms):
        raise at.error("'transforms' must be a list of objects")
    sampling_rate = _number(item, "sampling_rate", at, int)
    if sampling_rate == 0:
        raise at.error("'sampling_rate' must be positive")
    return LhotseRecording(_string(item, "id", at), tuple(sources), sampling_rate,
                           _number(item, "num_samples", at, int), _number(item, "duration", at),
                           tuple(str(t.get("name")) for t in transforms))


def parse_supervision(item: Mapping[str, Any], at: At) -> Supervision:
    """One SupervisionSet object."""
    speaker = item.get("speaker")
    if speaker is not None and not isinstance(speaker, str):
        raise at.error(f"'speaker' must be a string or null, got {speaker!r}")
    return Supervision(_string(item, "id", at), _string(item, "recording_id", at),
                       _number(item, "start", at), _number(item, "duration", at),
                       speaker or None, at)


def find_manifests(src: Path, supervisions: Path | None = None) -> tuple[Path, Path]:
    """The recordings and supervisions manifests named by ``src`` (see the module doc)."""
    recordings = src
    if src.is_dir():
        found = sorted(p for p in src.iterdir() if "recordings" in p.name and is_manifest(p))
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise CorpusError(f"{src}: expected one lhotse recordings manifest "
                              f"(*recordings*{{{','.join(SUFFIXES)}}}), found {names}; "
                              "pass the recordings manifest itself as SRC")
        recordings = found[0]
    elif not src.name.endswith(SUFFIXES):
        raise CorpusError(f"{src}: not a lhotse manifest (expected {', '.join(SUFFIXES)})")
    if supervisions is None:
        supervisions = recordings.with_name(recordings.name.replace("recordings", "supervisions"))
        if supervisions == recordings or not supervisions.is_file():
            raise CorpusError(f"{recordings}: no supervisions manifest beside it "
                              f"({supervisions.name}); give it with --supervisions")
    if not supervisions.is_file():
        raise CorpusError(f"{supervisions}: no such supervisions manifest")
    return recordings, supervisions


def resolve_audio(source: str, base: Path) -> Path | None:
    """A ``file`` source's path: as given (absolute, or from the working directory), else
    from ``base``; None when neither exists."""
    path = Path(source)
    candidates = [path] if path.is_absolute() else [path, base / path]
    return next((p for p in candidates if p.exists()), None)


def source_fault(rec: LhotseRecording) -> str | None:
    """Why the recording's audio is not one whole file that diarefine reads, if it is not."""
    if len(rec.sources) != 1:
        kinds = ", ".join(str(s.get("type")) for s in rec.sources)
        return f"{len(rec.sources)} audio sources ({kinds}); only single-file recordings are read"
    kind = rec.sources[0]["type"]
    if kind != "file":
        return f"a {kind!r} audio source; only 'file' sources are read"
    if not isinstance(rec.sources[0].get("source"), str) or not rec.sources[0]["source"]:
        return "its 'file' source has no path"
    others = [t for t in rec.transforms if t not in HARMLESS_TRANSFORMS]
    if others:
        return f"transforms {', '.join(others)}, which diarefine does not apply"
    return None


def audio_fault(rec: LhotseRecording, info: AudioInfo) -> str | None:
    """A mismatch between the declared audio and the file's header, if any."""
    channels = rec.sources[0].get("channels")
    if isinstance(channels, list) and sorted(channels) != list(range(info.channels)):
        return (f"uses channel(s) {channels} of the {info.channels}-channel {info.path}; "
                "diarefine reads whole files (mixed to mono)")
    if abs(rec.duration - info.duration) > END_TOLERANCE:
        return f"declares {rec.duration:.3f} s but {info.path} holds {info.duration:.3f} s"
    return None


def _turns(uri: str, sups: list[Supervision], problems: list[Problem]) -> Annotation:
    turns, bad = [], []
    for sup in sups:
        if sup.speaker is None or any(c.isspace() for c in sup.speaker):
            bad.append(sup)
        else:
            turns.append(Turn(sup.start, sup.start + sup.duration, sup.speaker))
    if bad:
        first = bad[0]
        what = "no speaker" if first.speaker is None else f"speaker {first.speaker!r} with spaces"
        problems.append(Problem(uri, f"{len(bad)} supervision(s) without a usable speaker, "
                                f"e.g. {first.id} ({first.at}): {what}"))
    annotation, fused = Annotation(uri, tuple(turns)).merge_overlaps()
    if fused:
        warnings.warn(f"recording {uri!r}: {fused} overlapping supervision(s) of the same "
                      "speaker merged", DiarefineWarning, stacklevel=3)
    return annotation


def _safe_id(uri: str) -> bool:
    return not any(c.isspace() for c in uri) and "/" not in uri and uri not in (".", "..")


def read_recordings(path: Path) -> dict[str, tuple[LhotseRecording, At]]:
    out: dict[str, tuple[LhotseRecording, At]] = {}
    for at, item in manifest_items(path):
        rec = parse_recording(item, at)
        if rec.id in out:
            raise at.error(f"recording {rec.id!r} listed twice (also {out[rec.id][1]})")
        out[rec.id] = (rec, at)
    return out


def read_supervisions(path: Path) -> dict[str, list[Supervision]]:
    by_recording: dict[str, list[Supervision]] = {}
    seen: dict[str, At] = {}
    for at, item in manifest_items(path):
        sup = parse_supervision(item, at)
        if sup.id in seen:
            raise at.error(f"supervision {sup.id!r} listed twice (also {seen[sup.id]})")
        seen[sup.id] = at
        by_recording.setdefault(sup.recording_id, []).append(sup)
    return by_recording


def read_lhotse(src: Path, supervisions: Path | None, reference_dir: Path) -> _Corpus:
    """A lhotse recordings + supervisions pair; RTTMs planned in ``reference_dir``."""
    rec_path, sup_path = find_manifests(src, supervisions)
    recordings = read_recordings(rec_path)
    by_recording = read_supervisions(sup_path)
    problems: list[Problem] = []
    audio: dict[str, Path] = {}
    hints: dict[str, str] = {}
    for uri, (rec, at) in recordings.items():
        fault = source_fault(rec)
        if fault is None:
            found = resolve_audio(rec.sources[0]["source"], rec_path.parent)
            hints[uri] = (f"{rec.sources[0]['source']} from neither the working directory "
                          f"nor {rec_path.parent}")
            if found is not None:
                audio[uri] = found
                try:
                    fault = audio_fault(rec, audio_info(found))
                except AudioError:
                    pass  # reported when the recording is checked
        if fault is not None:
            problems.append(Problem(uri, f"{fault} ({at})"))
            audio.setdefault(uri, rec_path)  # placeholder: check() opens no audio of a
            # recording with a problem, and "no audio" would repeat this one
    references: dict[str, tuple[Annotation, Path]] = {}
    derived: dict[Path, Annotation] = {}
    for uri in sorted(set(recordings) | set(by_recording)):
        if not _safe_id(uri):
            problems.append(Problem(uri, "an id with spaces or '/' cannot name an RTTM file"))
            continue
        annotation = _turns(uri, by_recording.get(uri, []), problems)
        rttm = reference_dir / f"{uri}.rttm"
        references[uri] = (annotation, rttm)
        derived[rttm] = annotation
    return _Corpus(audio, references, problems=problems, derived=derived,
                   audio_hint=lambda uri: hints.get(uri, f"not in {rec_path}"))


def recording_object(rec: Recording, info: AudioInfo) -> dict[str, Any]:
    channels = list(range(info.channels))
    return {"id": rec.uri, "sources": [{"type": "file", "channels": channels,
                                        "source": str(Path(rec.audio).resolve())}],
            "sampling_rate": info.sample_rate, "num_samples": info.frames,
            "duration": info.duration, "channel_ids": channels}


def supervision_objects(annotation: Annotation, channels: int) -> list[dict[str, Any]]:
    """One supervision per turn, in time order; times rounded as RTTM writes them."""
    channel: int | list[int] = 0 if channels == 1 else list(range(channels))
    out = []
    for index, turn in enumerate(annotation.turns):
        start = float(format_time(turn.start))
        duration = float(format_time(float(format_time(turn.end)) - start))
        out.append({"id": f"{annotation.uri}-{index:05d}", "recording_id": annotation.uri,
                    "start": start, "duration": duration, "channel": channel,
                    "speaker": turn.speaker})
    return out


def write_jsonl_gz(path: Path, objects: Iterable[Mapping[str, Any]]) -> None:
    """Gzipped JSON lines, atomically; no timestamp or name in the gzip header."""
    with atomic_open(path, "wb", encoding=None) as handle:
        with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as gz:
            for obj in objects:
                gz.write((json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8"))


def write_lhotse(outdir: str | Path, recordings: Iterable[Recording]) -> tuple[Path, Path]:
    """``outdir/recordings.jsonl.gz`` and ``outdir/supervisions.jsonl.gz`` of the recordings
    and their reference turns; returns both paths. AudioError for unreadable audio."""
    outdir = Path(outdir)
    recordings = list(recordings)
    references = load_references(recordings)
    recs, sups = [], []
    for rec in recordings:
        info = audio_info(rec.audio)
        recs.append(recording_object(rec, info))
        sups.extend(supervision_objects(references[rec.uri], info.channels))
    paths = outdir / "recordings.jsonl.gz", outdir / "supervisions.jsonl.gz"
    write_jsonl_gz(paths[0], recs)
    write_jsonl_gz(paths[1], sups)
    return paths
