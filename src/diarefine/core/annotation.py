"""Who spoke when in one recording: speaker turns, overlap between speakers allowed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diarefine.core.segment import Segment
from diarefine.core.time import EPSILON
from diarefine.core.timeline import Timeline


@dataclass(frozen=True, order=True, slots=True)
class Turn:
    """One speaker talking over ``[start, end)`` seconds."""

    start: float
    end: float
    speaker: str

    def __post_init__(self) -> None:
        Segment(self.start, self.end)  # validates finiteness and order

    @property
    def segment(self) -> Segment:
        return Segment(self.start, self.end)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class TurnArrays:
    """Column view of an annotation's turns, for vectorised metrics.

    Shapes: ``starts``, ``ends``, ``speaker_index`` are (num_turns,);
    ``speakers`` lists the labels that ``speaker_index`` points into.
    """

    starts: NDArray[np.float64]
    ends: NDArray[np.float64]
    speaker_index: NDArray[np.int64]
    speakers: tuple[str, ...]


@dataclass(frozen=True)
class Annotation:
    """Speaker turns of one recording, kept sorted by (start, end, speaker).

    Turns of different speakers may overlap. Turns of the *same* speaker may be
    given overlapping; :meth:`merge_overlaps` fuses them (RTTM readers call it and warn).
    """

    uri: str
    turns: tuple[Turn, ...] = ()
    channel: str = "1"
    _arrays: TurnArrays | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "turns", tuple(sorted(self.turns)))

    @classmethod
    def from_tuples(
        cls, uri: str, turns: Iterable[tuple[float, float, str]], channel: str = "1"
    ) -> Annotation:
        """From ``(start, end, speaker)`` tuples."""
        return cls(uri, tuple(Turn(float(a), float(b), str(s)) for a, b, s in turns), channel)

    def __len__(self) -> int:
        return len(self.turns)

    def __iter__(self) -> Iterator[Turn]:
        return iter(self.turns)

    def __bool__(self) -> bool:
        return bool(self.turns)

    @property
    def speakers(self) -> tuple[str, ...]:
        """Speaker labels, sorted."""
        return tuple(sorted({t.speaker for t in self.turns}))

    def arrays(self) -> TurnArrays:
        """Columns of the turns (cached; the annotation is immutable)."""
        if self._arrays is None:
            speakers = self.speakers
            index = {s: i for i, s in enumerate(speakers)}
            arrays = TurnArrays(
                np.array([t.start for t in self.turns], dtype=np.float64),
                np.array([t.end for t in self.turns], dtype=np.float64),
                np.array([index[t.speaker] for t in self.turns], dtype=np.int64),
                speakers,
            )
            object.__setattr__(self, "_arrays", arrays)
        assert self._arrays is not None
        return self._arrays

    def speaker_timeline(self, speaker: str) -> Timeline:
        return Timeline(t.segment for t in self.turns if t.speaker == speaker)

    def speech(self) -> Timeline:
        """Time where at least one speaker talks."""
        return Timeline(t.segment for t in self.turns)

    def speaker_count(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Number of distinct speakers talking in each elementary interval.

        Returns ``cuts`` (n+1,) and ``count`` (n,): ``count[k]`` speakers talk over
        ``[cuts[k], cuts[k+1])``.
        """
        a = self.arrays()
        cuts = np.unique(np.concatenate([a.starts, a.ends]))
        if len(cuts) < 2:
            return cuts, np.zeros(0, dtype=np.int64)
        delta = np.zeros((len(cuts), len(a.speakers)), dtype=np.int64)
        np.add.at(delta, (np.searchsorted(cuts, a.starts), a.speaker_index), 1)
        np.add.at(delta, (np.searchsorted(cuts, a.ends), a.speaker_index), -1)
        return cuts, (np.cumsum(delta, axis=0)[:-1] > 0).sum(axis=1)

    def overlap(self) -> Timeline:
        """Time where two or more distinct speakers talk at once."""
        cuts, count = self.speaker_count()
        keep = count >= 2
        return Timeline.from_array(np.stack([cuts[:-1][keep], cuts[1:][keep]], axis=1))

    def extent(self) -> Segment | None:
        """From the first start to the last end of any turn (zero-length ones included)."""
        if not self.turns:
            return None
        return Segment(min(t.start for t in self.turns), max(t.end for t in self.turns))

    def to_pyannote(self) -> Any:
        """This annotation as a ``pyannote.core.Annotation`` (needs pyannote.core): one
        track per turn, labelled by speaker; the uri kept."""
        from pyannote.core import Annotation as PyannoteAnnotation
        from pyannote.core import Segment as PyannoteSegment

        out = PyannoteAnnotation(uri=self.uri)
        for k, t in enumerate(self.turns):
            out[PyannoteSegment(t.start, t.end), k] = t.speaker
        return out

    @classmethod
    def from_pyannote(cls, annotation: Any, uri: str | None = None) -> Annotation:
        """A ``pyannote.core.Annotation`` as a diarefine Annotation (labels as strings;
        overlapping turns of one speaker fused, as RTTM reading does)."""
        turns = [Turn(float(seg.start), float(seg.end), str(label))
                 for seg, _, label in annotation.itertracks(yield_label=True)
                 if seg.end > seg.start]
        out = cls(uri or annotation.uri or "", tuple(turns))
        return out.merge_overlaps()[0]

    def with_turns(self, turns: Iterable[Turn]) -> Annotation:
        return Annotation(self.uri, tuple(turns), self.channel)

    def rename(self, mapping: Mapping[str, str] | Callable[[str], str]) -> Annotation:
        """Relabel speakers; labels missing from a mapping are kept."""
        fn = mapping if callable(mapping) else (lambda s: mapping.get(s, s))
        return self.with_turns(Turn(t.start, t.end, fn(t.speaker)) for t in self.turns)

    def crop(self, region: Timeline) -> Annotation:
        """Turns cut to ``region``; pieces of zero length are dropped."""
        out = []
        for t in self.turns:
            for piece in region.crop(t.segment):
                out.append(Turn(piece.start, piece.end, t.speaker))
        return self.with_turns(out)

    def shifted(self, delta: float) -> Annotation:
        return self.with_turns(Turn(t.start + delta, t.end + delta, t.speaker) for t in self.turns)

    def merge_overlaps(self) -> tuple[Annotation, int]:
        """Fuse turns of the same speaker that overlap by a positive length.

        Touching turns (one ends where the next starts, within ``EPSILON``) stay
        separate, as md-eval keeps them. Returns the new annotation and the number of
        fusions made.
        """
        merged: list[Turn] = []
        fusions = 0
        for speaker in self.speakers:
            current: Turn | None = None
            for t in (t for t in self.turns if t.speaker == speaker):
                if current is not None and t.start < current.end - EPSILON:
                    current = Turn(current.start, max(current.end, t.end), speaker)
                    fusions += 1
                else:
                    if current is not None:
                        merged.append(current)
                    current = t
            if current is not None:
                merged.append(current)
        return (self.with_turns(merged) if fusions else self), fusions

    def support(self, max_gap: float = 0.0) -> Annotation:
        """Join turns of the same speaker separated by at most ``max_gap`` seconds."""
        out: list[Turn] = []
        for speaker in self.speakers:
            for seg in self.speaker_timeline(speaker):
                if out and out[-1].speaker == speaker and seg.start - out[-1].end <= max_gap:
                    out[-1] = Turn(out[-1].start, seg.end, speaker)
                else:
                    out.append(Turn(seg.start, seg.end, speaker))
        return self.with_turns(out)
