"""Turn boundaries of one side, their kinds, and optimal matching of two sides.

The building blocks of :mod:`diarefine.metrics.boundaries` (which states the full
semantics). Here:

* :func:`extract_boundaries`: the onsets and offsets of a speaker's turns after joining
  turns of that speaker separated by at most ``join_gap`` seconds, each classified as

  - ``"change"``: a speaker change; another speaker of the same side has a boundary of the
    opposite direction within ``change_gap`` seconds (an offset within ``+-change_gap`` of
    an onset, or an onset within ``+-change_gap`` of an offset; a short gap or a short
    overlap between the two speakers both count);
  - ``"overlap"``: not a change, and another speaker talks across the boundary (an
    interruption or backchannel starting, or a speaker leaving while another goes on);
  - ``"edge"``: neither; a speech/non-speech edge (speech starts from or ends in silence).

* :func:`optimal_pairs`: the one-to-one matching of two point sets within a tolerance
  that first maximises the number of pairs, then minimises the total absolute error.
* :func:`match_boundaries`: matching per (mapped speaker, direction) group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from diarefine.core.annotation import Annotation
from diarefine.core.time import EPSILON
from diarefine.core.timeline import Timeline

ONSET, OFFSET = "onset", "offset"
DIRECTIONS = (ONSET, OFFSET)
CHANGE, OVERLAP, EDGE = "change", "overlap", "edge"
KINDS = (CHANGE, OVERLAP, EDGE)
MATCHED, MISSED, SPURIOUS = "matched", "missed", "spurious"


@dataclass(frozen=True, slots=True)
class Boundary:
    """One turn onset or offset of one side, at ``time`` seconds."""

    time: float
    speaker: str
    direction: str
    kind: str


@dataclass(frozen=True, slots=True)
class BoundaryPair:
    """A matched pair, a missed reference boundary or a spurious system boundary.

    ``error`` is ``sys_time - ref_time`` in seconds (positive: the system is late),
    ``None`` unless matched. ``kind`` is the reference boundary's kind when there is one
    (matched, missed), else the system boundary's (spurious).
    """

    status: str
    direction: str
    ref_time: float | None = None
    sys_time: float | None = None
    ref_speaker: str | None = None
    sys_speaker: str | None = None
    ref_kind: str | None = None
    sys_kind: str | None = None
    error: float | None = None

    @classmethod
    def of(cls, ref: Boundary | None, sys: Boundary | None) -> BoundaryPair:
        if ref is not None and sys is not None:
            return cls(MATCHED, ref.direction, ref.time, sys.time, ref.speaker, sys.speaker,
                       ref.kind, sys.kind, sys.time - ref.time)
        if ref is not None:
            return cls(MISSED, ref.direction, ref.time, None, ref.speaker, None, ref.kind)
        assert sys is not None
        return cls(SPURIOUS, sys.direction, None, sys.time, None, sys.speaker, None, sys.kind)

    @property
    def kind(self) -> str:
        return self.ref_kind if self.ref_kind is not None else str(self.sys_kind)

    @property
    def time(self) -> float:
        """The reference time when there is one, else the system time."""
        return self.ref_time if self.ref_time is not None else float(self.sys_time or 0.0)


def _near(times: NDArray[np.float64], others: NDArray[np.float64], gap: float) -> NDArray[np.bool_]:
    """Whether some value of the sorted ``others`` lies within ``+-gap`` of each time."""
    idx = np.searchsorted(others, times - gap - EPSILON, side="left")
    found = idx < len(others)
    found[found] = others[idx[found]] <= times[found] + gap + EPSILON
    return found


def _strictly_inside(times: NDArray[np.float64], bounds: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether each time lies strictly inside one of the sorted disjoint ``bounds`` (m, 2)."""
    idx = np.searchsorted(bounds[:, 0], times, side="left") - 1
    inside = idx >= 0
    inside[inside] = times[inside] < bounds[idx[inside], 1]
    return inside


def _kinds(times: NDArray[np.float64], partners: NDArray[np.float64],
           others: NDArray[np.float64], change_gap: float) -> list[str]:
    change = _near(times, partners, change_gap)
    overlap = _strictly_inside(times, others)
    return [CHANGE if c else OVERLAP if o else EDGE for c, o in zip(change, overlap)]


def extract_boundaries(annotation: Annotation, join_gap: float = 0.1,
                       change_gap: float = 0.25) -> tuple[Boundary, ...]:
    """Onsets and offsets of the joined turns of every speaker, with their kinds.

    Turns of one speaker separated by at most ``join_gap`` seconds are joined first
    (touching or overlapping ones always), so a pause shorter than that makes no
    boundary; zero-length turns make none. Sorted by time.
    """
    joined = annotation.support(join_gap).arrays()
    out: list[Boundary] = []
    for k, speaker in enumerate(joined.speakers):
        own = joined.speaker_index == k
        others = Timeline.from_array(np.stack([joined.starts[~own], joined.ends[~own]], 1)).bounds
        for times, direction, partners in (
            (joined.starts[own], ONSET, np.sort(joined.ends[~own])),
            (joined.ends[own], OFFSET, np.sort(joined.starts[~own])),
        ):
            kinds = _kinds(times, partners, others, change_gap)
            out.extend(Boundary(float(t), speaker, direction, kind)
                       for t, kind in zip(times, kinds))
    return tuple(sorted(out, key=lambda b: (b.time, b.direction, b.speaker)))


def _assign(ref: NDArray[np.float64], sys: NDArray[np.float64],
            tolerance: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Optimal pairs of one cluster: each valid pair is rewarded by more than any sum of
    errors can reach, so the count of pairs comes first and the total error second."""
    cost = np.abs(sys[None, :] - ref[:, None])  # (n, m)
    valid = cost <= tolerance + EPSILON
    reward = (min(len(ref), len(sys)) + 1) * (tolerance + EPSILON) + 1.0
    rows, cols = linear_sum_assignment(np.where(valid, cost - reward, 0.0))
    keep = valid[rows, cols]
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)


def optimal_pairs(ref: NDArray[np.float64], sys: NDArray[np.float64],
                  tolerance: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """One-to-one pairs ``(ref[i], sys[j])`` with ``|sys[j] - ref[i]| <= tolerance``.

    Maximises the number of pairs, then minimises the total absolute error. Points are
    split into independent clusters (consecutive sorted points more than ``tolerance``
    apart can never pair across the gap), each solved with the Hungarian algorithm, so
    the cost is O(n log n) plus the cube of the largest cluster.

    Shapes: ``ref`` (n,), ``sys`` (m,) in any order -> index arrays ``i``, ``j`` (k,).
    """
    n, m = len(ref), len(sys)
    empty = np.zeros(0, dtype=np.int64)
    if n == 0 or m == 0:
        return empty, empty
    times = np.concatenate([ref, sys])
    is_sys = np.r_[np.zeros(n, bool), np.ones(m, bool)]
    index = np.r_[np.arange(n), np.arange(m)]
    order = np.argsort(times, kind="stable")
    breaks = np.flatnonzero(np.diff(times[order]) > tolerance + EPSILON) + 1
    found_i, found_j = [empty], [empty]
    for cluster in np.split(order, breaks):
        r, s = index[cluster[~is_sys[cluster]]], index[cluster[is_sys[cluster]]]
        if len(r) == 1 and len(s) == 1:  # the common case, no assignment to solve
            if abs(sys[s[0]] - ref[r[0]]) <= tolerance + EPSILON:
                found_i.append(r)
                found_j.append(s)
        elif len(r) and len(s):
            a, b = _assign(ref[r], sys[s], tolerance)
            found_i.append(r[a])
            found_j.append(s[b])
    return np.concatenate(found_i), np.concatenate(found_j)


def _groups(boundaries: Sequence[Boundary],
            key: Callable[[Boundary], Hashable]) -> dict[Hashable, list[Boundary]]:
    out: dict[Hashable, list[Boundary]] = defaultdict(list)
    for b in boundaries:
        out[key(b)].append(b)
    return out


def match_boundaries(reference: Sequence[Boundary], system: Sequence[Boundary],
                     mapping: Mapping[str, str], tolerance: float = 0.5,
                     match_kind: bool = False) -> tuple[BoundaryPair, ...]:
    """Match reference to system boundaries of the same mapped speaker and direction.

    ``mapping``: reference -> system speaker. With ``match_kind``, a pair must also have
    the same kind. Boundaries of unmapped reference speakers are all missed, those of
    unmapped system speakers all spurious. Returns every boundary once, sorted by time.
    """
    def ref_key(b: Boundary) -> Hashable:
        return (mapping.get(b.speaker), b.direction, b.kind if match_kind else None)

    def sys_key(b: Boundary) -> Hashable:
        return (b.speaker, b.direction, b.kind if match_kind else None)

    refs, syss = _groups(reference, ref_key), _groups(system, sys_key)
    pairs: list[BoundaryPair] = []
    for key in set(refs) | set(syss):
        r, s = refs.get(key, []), syss.get(key, [])
        i, j = optimal_pairs(np.array([b.time for b in r]), np.array([b.time for b in s]),
                             tolerance)
        pairs.extend(BoundaryPair.of(r[a], s[b]) for a, b in zip(i, j))
        pairs.extend(BoundaryPair.of(r[a], None) for a in sorted(set(range(len(r))) - set(i)))
        pairs.extend(BoundaryPair.of(None, s[b]) for b in sorted(set(range(len(s))) - set(j)))
    return tuple(sorted(pairs, key=lambda p: (p.time, p.direction, str(p.ref_speaker),
                                              str(p.sys_speaker))))
