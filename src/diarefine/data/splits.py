"""Speaker-disjoint train / dev / test splits, decided by the speaker alone.

Rule (:func:`assign_split`), applied to each source speaker:

1. A speaker whose utterances lie in a LibriSpeech ``test-*`` folder goes to **test**, one in
   a ``dev-*`` folder to **dev**: LibriSpeech's own held-out speakers stay held out (its
   subsets are speaker-disjoint). The 10 speakers of ``librispeech_test-other`` are all test.
2. Any other speaker is hashed: ``bucket = int(sha1("diarefine-split:" + speaker)[:8], 16)
   % 100``; buckets 0-79 are **train**, 80-89 **dev**, 90-99 **test** (80/10/10).

The assignment depends on nothing but the speaker (and its LibriSpeech subset, a property
of the speaker), so adding speakers never moves existing ones and every run agrees.
A speaker found in two LibriSpeech subsets of different splits is refused by name.

:func:`check_disjoint` refuses sets of recordings (manifest records with ``split`` and
``speakers``) in which a speaker appears in two splits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from diarefine.data.sources import SourceUtterance
from diarefine.errors import DiarefineError

SPLITS = ("train", "dev", "test")
#: Upper bucket bound (exclusive, out of 100) of each split for hashed speakers.
BUCKETS = {"train": 80, "dev": 90, "test": 100}
SALT = "diarefine-split:"


class SplitError(DiarefineError):
    """A request or a set of recordings that would put a speaker in two splits."""


def speaker_bucket(speaker: str) -> int:
    """Stable bucket 0-99 of a speaker id."""
    digest = hashlib.sha1((SALT + speaker).encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % 100


def assign_split(speaker: str, subset: str | None = None) -> str:
    """Split of a speaker (see the module docstring for the rule)."""
    if subset is not None and subset.startswith("test-"):
        return "test"
    if subset is not None and subset.startswith("dev-"):
        return "dev"
    bucket = speaker_bucket(speaker)
    return next(split for split in SPLITS if bucket < BUCKETS[split])


def speaker_splits(utterances: Iterable[SourceUtterance]) -> dict[str, str]:
    """Split of every speaker of ``utterances``; SplitError when a speaker's utterances
    disagree (e.g. one in ``test-other``, one in ``train-clean-100``)."""
    found: dict[str, dict[str, list[str]]] = {}
    for utt in utterances:
        found.setdefault(utt.speaker, {}).setdefault(
            assign_split(utt.speaker, utt.subset), []).append(utt.name)
    conflicts = [f"{spk} ({'; '.join(f'{s}: {v[0]}' for s, v in sorted(by.items()))})"
                 for spk, by in sorted(found.items()) if len(by) > 1]
    if conflicts:
        raise SplitError("speaker(s) whose files fall in two splits: " + ", ".join(conflicts))
    return {spk: next(iter(by)) for spk, by in sorted(found.items())}


def select_speakers(splits: Mapping[str, str], split: str,
                    only: Sequence[str] | None = None) -> list[str]:
    """Speakers of ``split``, optionally restricted to ``only``.

    SplitError names every speaker of ``only`` that belongs to another split (or is
    unknown): a forced list may never leak a speaker across splits.
    """
    if split not in SPLITS:
        raise SplitError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if only is None:
        return sorted(s for s, sp in splits.items() if sp == split)
    unknown = sorted(s for s in set(only) if s not in splits)
    if unknown:
        raise SplitError(f"speaker(s) not found in the source: {', '.join(unknown)}")
    wrong = sorted(f"{s} ({splits[s]})" for s in set(only) if splits[s] != split)
    if wrong:
        raise SplitError(f"speaker(s) outside split {split!r} refused: {', '.join(wrong)}")
    return sorted(set(only))


def check_disjoint(records: Iterable[tuple[str, str | None, Sequence[str]]]) -> None:
    """Refuse recordings whose speakers appear in two splits.

    ``records``: ``(uri, split, speakers)`` triples; records without a split are ignored.
    SplitError names each shared speaker with one recording of each split.
    """
    seen: dict[str, dict[str, str]] = {}
    for uri, split, speakers in records:
        if split is None:
            continue
        for speaker in speakers:
            seen.setdefault(speaker, {}).setdefault(split, uri)
    clashes = [f"{spk} in " + ", ".join(f"{split} ({uri})" for split, uri in sorted(by.items()))
               for spk, by in sorted(seen.items()) if len(by) > 1]
    if clashes:
        raise SplitError("speaker(s) in two splits: " + "; ".join(clashes))


def split_counts(splits: Mapping[str, str]) -> dict[str, int]:
    """Number of speakers per split."""
    return {split: sum(1 for s in splits.values() if s == split) for split in SPLITS}
