"""Single-speaker source utterances for simulation: who speaks in which file.

A source is either a folder of audio files or a JSONL list.

* **Folder**: every audio file below it (sorted, symlinks followed). The speaker id comes
  from the path relative to the folder through ``speaker_pattern``, a regular expression
  whose first group (or group named ``speaker``) is the id. The default matches
  LibriSpeech names, ``SPEAKER-CHAPTER-UTTERANCE.flac``; ``'^([^/]+)/'`` takes the first
  folder (VoxCeleb-like ``id10001/video/00001.wav``). A file that does not match is an
  error naming it, never silently skipped.
* **JSONL list** (``*.jsonl``): one object per line with ``audio`` and ``speaker`` and
  optionally ``subset``; relative paths are taken from the list's folder.

The *subset* of an utterance is the LibriSpeech subset named in its path
(``test-other``, ``train-clean-100``, ...), or None. :mod:`diarefine.data.splits` uses it to
keep LibriSpeech's own held-out speakers held out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from diarefine.errors import DiarefineError, FormatError
from diarefine.io.uem import AUDIO_EXTENSIONS

#: LibriSpeech ``SPEAKER-CHAPTER-UTTERANCE`` file names; group 1 is the speaker.
LIBRISPEECH_PATTERN = r"(?:^|/)(\d+)-\d+-\d+\.[A-Za-z0-9]+$"
#: LibriSpeech subset names as they appear in folder names.
LIBRISPEECH_SUBSETS = ("train-clean-100", "train-clean-360", "train-other-500",
                       "dev-clean", "dev-other", "test-clean", "test-other")
_SUBSET_RE = re.compile("|".join(re.escape(s) for s in LIBRISPEECH_SUBSETS))


class SourceError(DiarefineError):
    """A source folder or list that cannot be used; names the file."""


@dataclass(frozen=True, order=True)
class SourceUtterance:
    """One single-speaker recording.

    ``name`` is the path relative to the source root (``/`` separators), used in
    outputs so that they do not depend on where the data lives.
    """

    speaker: str
    name: str
    path: Path
    subset: str | None = None


def subset_of(name: str) -> str | None:
    """LibriSpeech subset named in a path, e.g. ``test-other``, else None."""
    match = _SUBSET_RE.search(name)
    return match.group(0) if match else None


def _speaker(pattern: re.Pattern[str], name: str) -> str | None:
    match = pattern.search(name)
    if match is None:
        return None
    groups = match.groupdict()
    speaker = groups.get("speaker") or (match.group(1) if match.re.groups else match.group(0))
    return speaker or None


def scan_folder(root: str | Path, speaker_pattern: str | None = None) -> list[SourceUtterance]:
    """Audio files below ``root`` with their speaker ids (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise SourceError(f"{root}: no such source folder")
    pattern = re.compile(speaker_pattern or LIBRISPEECH_PATTERN)
    files = sorted(p for p in root.rglob("*")
                   if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    out, unmatched = [], []
    for path in files:
        name = path.relative_to(root).as_posix()
        speaker = _speaker(pattern, name)
        if speaker is None or any(c.isspace() for c in speaker):
            unmatched.append(name)
            continue
        out.append(SourceUtterance(speaker, name, path, subset_of(name)))
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (" ..." if len(unmatched) > 5 else "")
        raise SourceError(f"{root}: {len(unmatched)} audio file(s) give no speaker id with "
                          f"pattern {pattern.pattern!r}: {shown}")
    if not out:
        raise SourceError(f"{root}: no audio file found")
    return out


def read_source_list(path: str | Path) -> list[SourceUtterance]:
    """Utterances from a JSONL list of ``{"audio", "speaker"[, "subset"]}`` objects."""
    path = Path(path)
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            audio, speaker = str(item["audio"]), str(item["speaker"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise FormatError(path, number, f"expected a JSON object with 'audio' and "
                              f"'speaker' ({exc})") from None
        if not speaker or any(c.isspace() for c in speaker):
            raise FormatError(path, number, f"speaker id {speaker!r} is empty or has spaces")
        audio_path = Path(audio) if Path(audio).is_absolute() else path.parent / audio
        subset = item.get("subset") or subset_of(audio)
        out.append(SourceUtterance(speaker, audio, audio_path, subset))
    if not out:
        raise SourceError(f"{path}: the source list is empty")
    return sorted(out)


def load_sources(source: str | Path, speaker_pattern: str | None = None) -> list[SourceUtterance]:
    """Utterances of a source folder or ``.jsonl`` list, sorted by (speaker, name)."""
    source = Path(source)
    if source.is_file():
        if speaker_pattern is not None:
            raise SourceError("a speaker pattern applies to a source folder, not a list")
        return read_source_list(source)
    return sorted(scan_folder(source, speaker_pattern))


def by_speaker(utterances: Iterable[SourceUtterance]) -> dict[str, list[SourceUtterance]]:
    """Utterances grouped by speaker; speakers and utterances sorted."""
    out: dict[str, list[SourceUtterance]] = {}
    for utt in sorted(utterances):
        out.setdefault(utt.speaker, []).append(utt)
    return out
