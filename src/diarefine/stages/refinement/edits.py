"""The boundaries a refiner may move, and how moves become a new annotation (numpy only).

A refiner sees the boundaries that ``diarefine boundaries`` measures: the onsets and
offsets of each speaker's turns after joining that speaker's turns separated by at most
``join_gap`` seconds (`~diarefine.metrics.boundary_matching.extract_boundaries`), each
with its kind (change, overlap, edge). Boundary ``2i`` is the onset and ``2i + 1`` the
offset of joined turn ``i``.

Moves are applied by `apply_moves`:

* a **change point** (one speaker's offset and another's onset within ``change_gap`` of
  each other, `change_links`) moves as one: both edges get the mean of the moves asked
  for them, so a gap or an overlap between the two speakers keeps its length, unless the
  refiner marks them as separate;
* **no turn inverts**: a turn whose edges would leave less than ``min_duration`` is kept
  as it was;
* a turn is **deleted** only when a refiner asks for it explicitly (``deletions``);
* turns of one speaker that come to overlap are joined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation, Turn
from diarefine.metrics.boundary_matching import OFFSET, ONSET, extract_boundaries

JOIN_GAP, CHANGE_GAP = 0.1, 0.25  # the `boundaries` analysis defaults
MIN_DURATION = 0.02  # seconds: shorter turns are not made by a move


@dataclass(frozen=True)
class Boundaries:
    """The joined turns of an annotation and their boundaries.

    ``times`` (2N,): onset of joined turn ``i`` at ``2i``, offset at ``2i + 1``;
    ``speakers``, ``directions``, ``kinds`` (2N,) alike. ``turns`` is the joined annotation.
    """

    turns: Annotation
    times: NDArray[np.float64]
    speakers: tuple[str, ...]
    directions: tuple[str, ...]
    kinds: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.times)

    def index(self) -> dict[tuple[str, str, float], int]:
        """(speaker, direction, time) -> boundary index."""
        return {(s, d, float(t)): i for i, (s, d, t) in
                enumerate(zip(self.speakers, self.directions, self.times))}


def boundaries_of(annotation: Annotation, join_gap: float = JOIN_GAP,
                  change_gap: float = CHANGE_GAP) -> Boundaries:
    """Every onset and offset of ``annotation``'s joined turns, with its kind."""
    joined = annotation.support(join_gap)
    kinds = {(b.speaker, b.direction, b.time): b.kind
             for b in extract_boundaries(joined, 0.0, change_gap)}
    times, speakers, directions, kind_list = [], [], [], []
    for turn in joined.turns:
        for direction, t in ((ONSET, turn.start), (OFFSET, turn.end)):
            times.append(t)
            speakers.append(turn.speaker)
            directions.append(direction)
            kind_list.append(kinds[(turn.speaker, direction, t)])
    return Boundaries(joined, np.asarray(times, dtype=np.float64), tuple(speakers),
                      tuple(directions), tuple(kind_list))


def change_links(bounds: Boundaries, change_gap: float = CHANGE_GAP
                 ) -> list[tuple[int, int]]:
    """Pairs (offset index, onset index) of different speakers within ``change_gap``:
    each boundary in at most one pair, the closest pairs first."""
    times = bounds.times
    onsets = np.array([i for i, d in enumerate(bounds.directions) if d == ONSET], dtype=int)
    onsets = onsets[np.argsort(times[onsets], kind="stable")] if len(onsets) else onsets
    onset_times = times[onsets]
    candidates = []
    for a, d in enumerate(bounds.directions):
        if d != OFFSET:
            continue
        lo = np.searchsorted(onset_times, times[a] - change_gap - 1e-9, side="left")
        hi = np.searchsorted(onset_times, times[a] + change_gap + 1e-9, side="right")
        candidates += [(abs(times[a] - times[b]), a, int(b)) for b in onsets[lo:hi]
                       if bounds.speakers[a] != bounds.speakers[b]]
    used: set[int] = set()
    links = []
    for _, a, b in sorted(candidates):
        if a not in used and b not in used:
            used.update((a, b))
            links.append((a, b))
    return links


def effective_moves(count: int, moves: Mapping[int, float],
                    linked: Iterable[tuple[int, int]] = ()) -> NDArray[np.float64]:
    """(count,) the move each boundary gets: its own, or for a linked pair the mean of
    the moves asked for the pair (one asked: both take it)."""
    delta = np.zeros(count)
    for i, d in moves.items():
        delta[i] = d
    for a, b in linked:
        asked = [moves[i] for i in (a, b) if i in moves]
        if asked:
            delta[a] = delta[b] = float(np.mean(asked))
    return delta


def apply_moves(bounds: Boundaries, moves: Mapping[int, float],
                linked: Iterable[tuple[int, int]] = (), deletions: Iterable[int] = (),
                min_duration: float = MIN_DURATION) -> Annotation:
    """The annotation with boundary ``i`` moved by ``moves[i]`` seconds (module rules).

    ``linked`` pairs move together (the mean of their moves; a pair with one move
    takes it for both); ``deletions`` are joined-turn indices to drop.
    """
    new = bounds.times + effective_moves(len(bounds), moves, linked)
    dropped = set(deletions)
    turns = []
    for i, turn in enumerate(bounds.turns.turns):
        if i in dropped:
            continue
        start, end = max(0.0, new[2 * i]), new[2 * i + 1]
        if end - start < min_duration:
            start, end = turn.start, turn.end  # would invert or vanish: left as it was
        turns.append(Turn(float(start), float(end), turn.speaker))
    return bounds.turns.with_turns(turns).support(0.0)
