"""Statistics of a diarization dataset: size, speakers, overlap, turns, gaps.

Definitions (each recording is cropped to its UEM, or to its audio length / reference
extent without one):

* **hours**: scored time; **speech**: time where at least one speaker talks.
* **overlap ratio**: overlapped speech time (two or more speakers) over speech time,
  pooled over the set (the manifest's ``overlap_ratio`` is the same per recording).
* **turn**: one RTTM segment (a speaker's stretch of speech; same-speaker segments that
  overlap are merged by the reader).
* **pause**: a stretch of silence between two speech regions (no one talking; leading and
  trailing silence not counted).
* **transition offset** (floor-transfer offset, Heldner & Edlund 2010): going through the
  turns by start time, when a turn of another speaker ends after the turn holding the
  floor (the one that ends last so far), ``start(new) - end(floor)``: positive is a gap,
  negative an overlapped hand-over. A turn that starts and ends inside another speaker's
  turn is counted as *contained* (a backchannel) instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from diarefine.core.annotation import Annotation
from diarefine.core.segment import Segment
from diarefine.core.timeline import Timeline

PERCENTILES = (10, 25, 50, 75, 90)


@dataclass
class DatasetStats:
    """Accumulates recordings (:meth:`add`); reports with :meth:`as_dict`."""

    recordings: int = 0
    scored: float = 0.0
    speech: float = 0.0
    overlap: float = 0.0
    speakers: set[str] = field(default_factory=set)
    speakers_per_recording: list[int] = field(default_factory=list)
    turns: list[float] = field(default_factory=list)
    pauses: list[float] = field(default_factory=list)
    offsets: list[float] = field(default_factory=list)
    contained: int = 0

    def add(self, reference: Annotation, region: Timeline | None) -> None:
        """One recording; ``region`` None scores the reference's extent."""
        if region is None:
            extent = reference.extent()
            region = Timeline([extent]) if extent is not None else Timeline()
        ref = reference.crop(region)
        speech = ref.speech()
        self.recordings += 1
        self.scored += region.duration()
        self.speech += speech.duration()
        self.overlap += ref.overlap().duration()
        self.speakers.update(ref.speakers)
        self.speakers_per_recording.append(len(ref.speakers))
        self.turns.extend(t.duration for t in ref.turns if t.duration > 0)
        b = speech.bounds
        self.pauses.extend((b[1:, 0] - b[:-1, 1]).tolist())
        offsets, contained = transition_offsets(ref)
        self.offsets.extend(offsets)
        self.contained += contained

    def as_dict(self) -> dict:
        def pct(values: Sequence[float]) -> dict[str, float | None]:
            if not values:
                return {f"p{p}": None for p in PERCENTILES}
            return {f"p{p}": round(float(v), 3)
                    for p, v in zip(PERCENTILES, np.percentile(values, PERCENTILES))}
        spr = self.speakers_per_recording
        return {
            "recordings": self.recordings, "hours": round(self.scored / 3600, 4),
            "speech_fraction": round(self.speech / self.scored, 4) if self.scored else None,
            "overlap_ratio": round(self.overlap / self.speech, 4) if self.speech else None,
            "speakers": len(self.speakers),
            "speakers_per_recording": {
                "min": min(spr, default=0), "mean": round(float(np.mean(spr)), 2) if spr else 0,
                "max": max(spr, default=0),
                "histogram": {str(k): spr.count(k) for k in sorted(set(spr))}},
            "turns": {"count": len(self.turns), **pct(self.turns)},
            "pauses": {"count": len(self.pauses), **pct(self.pauses)},
            "transition_offsets": {"count": len(self.offsets),
                                   "overlapped": sum(1 for o in self.offsets if o < 0),
                                   **pct(self.offsets)},
            "contained_turns": self.contained,
        }


def transition_offsets(reference: Annotation) -> tuple[list[float], int]:
    """Floor-transfer offsets (s) and the number of contained turns (module docstring)."""
    offsets, contained, floor = [], 0, None
    for turn in reference.turns:  # sorted by (start, end, speaker)
        if floor is None:
            floor = turn
        elif turn.end <= floor.end:
            contained += turn.speaker != floor.speaker
        else:
            if turn.speaker != floor.speaker:
                offsets.append(turn.start - floor.end)
            floor = turn
    return offsets, contained


def collect(pairs: Iterable[tuple[Annotation, Timeline | None]]) -> DatasetStats:
    stats = DatasetStats()
    for reference, region in pairs:
        stats.add(reference, region)
    return stats


def pairs_from_files(references: Mapping[str, Annotation], uem: Mapping[str, Timeline] | None,
                     durations: Mapping[str, float] | None = None,
                     ) -> list[tuple[Annotation, Timeline | None]]:
    """(reference, region) per uri of the UEM (or of the references without one).

    A uri of the UEM without turns counts as a silent recording. Without a UEM the region
    is ``[0, duration]`` when known, else the reference's extent.
    """
    uris = sorted(uem) if uem is not None else sorted(references)
    out = []
    for uri in uris:
        ref = references.get(uri, Annotation(uri))
        if uem is not None:
            region: Timeline | None = uem[uri]
        elif durations and uri in durations:
            region = Timeline([Segment(0.0, durations[uri])])
        else:
            region = None
        out.append((ref, region))
    return out


def format_stats(name: str, d: Mapping) -> str:
    """A short plain-text report of :meth:`DatasetStats.as_dict`."""
    def row(label: str, item: Mapping) -> str:
        values = " ".join(f"{item[f'p{p}']:7.2f}" if item[f"p{p}"] is not None else "      -"
                          for p in PERCENTILES)
        return f"  {label:<28}{item['count']:>6}  {values}"
    spr = d["speakers_per_recording"]
    lines = [
        f"{name}",
        f"  recordings {d['recordings']}, {d['hours']:.3f} h scored, speech fraction "
        f"{d['speech_fraction']}, overlap ratio {d['overlap_ratio']}",
        f"  speakers {d['speakers']}; per recording min {spr['min']} mean {spr['mean']} "
        f"max {spr['max']} (histogram {spr['histogram']})",
        f"  {'durations (s)':<28}{'count':>6}  " + " ".join(f"{'p' + str(p):>7}"
                                                           for p in PERCENTILES),
        row("turn length", d["turns"]),
        row("pause between speech", d["pauses"]),
        row("transition offset", d["transition_offsets"]),
        f"  overlapped hand-overs {d['transition_offsets']['overlapped']}, "
        f"contained (backchannel) turns {d['contained_turns']}",
    ]
    return "\n".join(lines)
