"""Activity edits: what a refiner with an activity head may do besides moving boundaries
(numpy only).

Around every system boundary the refiner gives, frame by frame, the probability that the
boundary's speaker (A) and the window's other speaker (B) speak. The central ``±reach``
frames of every window are averaged onto one 20 ms grid per speaker (windows overlap);
where the grid has a prediction:

* speech is **added** to a speaker where the average is at least ``add`` and the speaker
  is silent in the output, for runs of at least ``min_run`` seconds (missed overlap,
  a turn that ends too early by more than a boundary move reaches);
* speech is **cut** from a speaker where the average is at most ``cut`` and the speaker
  speaks, for runs of at least ``min_run`` (a pause the system bridged is split, a short
  spurious turn deleted).

Shorter disagreements are left to the boundary moves. Outside the windows nothing
changes; no turn shorter than `~diarefine.stages.refinement.edits.MIN_DURATION` is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation, Turn
from diarefine.core.timeline import Timeline
from diarefine.stages.refinement.edits import MIN_DURATION
from diarefine.stages.refinement.features import HALF, RATE, covered, speaker_spans

REACH = 50  # frames each side of the boundary whose activity is used (±1 s)


@dataclass(frozen=True)
class ActivitySettings:
    """Thresholds of the activity edits (chosen on the selection sets); ``add`` above 1
    or ``cut`` below 0 switches that edit off."""

    add: float = 2.0
    cut: float = -1.0
    min_run: float = 0.1
    reach: int = REACH

    @property
    def active(self) -> bool:
        return self.add <= 1.0 or self.cut >= 0.0

    def to_dict(self) -> dict[str, float]:
        return {"add": self.add, "cut": self.cut, "min_run": self.min_run,
                "reach": self.reach}


def runs(mask: NDArray[np.bool_], min_length: int) -> list[tuple[int, int]]:
    """[start, stop) of every run of True at least ``min_length`` long."""
    if not mask.any():
        return []
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops) if b - a >= min_length]


def _span_of(cells: list[tuple[int, int]]) -> Timeline:
    """The time the grid cells ``[start, stop)`` cover (cell c: c * RATE ± RATE / 2)."""
    return Timeline([(max(0.0, (a - 0.5) * RATE), (b - 0.5) * RATE) for a, b in cells])


def average_activity(times: NDArray[np.float64], speakers: Sequence[str],
                     partners: Sequence[str | None], probs: NDArray[np.floating],
                     reach: int = REACH) -> dict[str, tuple[NDArray, NDArray]]:
    """speaker -> (mean probability (G,), predictions per cell (G,)) on the grid of cells
    ``c * RATE`` (c = 0..G-1) from windows centred at ``times`` (probs (n, W, 2): A, B)."""
    k = np.arange(HALF - reach, HALF + reach + 1)
    size = int(np.ceil((float(np.max(times, initial=0.0)) + (reach + 1) * RATE) / RATE)) + 1
    sums: dict[str, NDArray] = {}
    counts: dict[str, NDArray] = {}
    for i, t in enumerate(times):
        cells = np.rint((t + (k - HALF) * RATE) / RATE).astype(np.int64)
        valid = cells >= 0
        for column, speaker in ((0, speakers[i]), (1, partners[i])):
            if not speaker:
                continue
            if speaker not in sums:
                sums[speaker], counts[speaker] = np.zeros(size), np.zeros(size)
            np.add.at(sums[speaker], cells[valid], probs[i, k[valid], column])
            np.add.at(counts[speaker], cells[valid], 1.0)
    return {s: (sums[s] / np.maximum(counts[s], 1.0), counts[s]) for s in sums}


def activity_edits(annotation: Annotation, times: NDArray[np.float64],
                   speakers: Sequence[str], partners: Sequence[str | None],
                   probs: NDArray[np.floating], settings: ActivitySettings,
                   end: float | None = None) -> Annotation:
    """``annotation`` with speech added and cut where the windows' activity says so
    (module docstring); nothing is added after ``end``."""
    if not settings.active or len(times) == 0:
        return annotation
    spans = speaker_spans(annotation)
    min_cells = max(1, int(round(settings.min_run / RATE)))
    changed: dict[str, Timeline] = {}
    for speaker, (mean, count) in average_activity(times, speakers, partners, probs,
                                                   settings.reach).items():
        seen = count > 0
        centres = np.arange(len(mean)) * RATE
        speaking = covered(spans, speaker, centres) > 0
        add = runs(seen & ~speaking & (mean >= settings.add), min_cells)
        cut = runs(seen & speaking & (mean <= settings.cut), min_cells)
        if not add and not cut:
            continue
        new = annotation.speaker_timeline(speaker).union(_span_of(add)).difference(_span_of(cut))
        if end is not None:
            new = new.intersection(Timeline([(0.0, end)]))
        changed[speaker] = new
    if not changed:
        return annotation
    turns = [t for t in annotation.turns if t.speaker not in changed]
    for speaker, new in changed.items():
        turns += [Turn(seg.start, seg.end, speaker) for seg in new
                  if seg.end - seg.start >= MIN_DURATION]
    return annotation.with_turns(turns).support(0.0)
