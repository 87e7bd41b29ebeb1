"""A set of time: sorted, disjoint, non-empty intervals (a UEM, a speech region, ...)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from numpy.typing import NDArray

from diarefine.core.segment import Segment


def _normalize(bounds: NDArray[np.float64]) -> NDArray[np.float64]:
    """Union of intervals. bounds: (n, 2) -> (m, 2) sorted, disjoint, touching ones merged."""
    bounds = bounds[bounds[:, 1] > bounds[:, 0]]
    if len(bounds) == 0:
        return np.zeros((0, 2))
    bounds = bounds[np.argsort(bounds[:, 0], kind="stable")]
    starts, ends = bounds[:, 0], np.maximum.accumulate(bounds[:, 1])
    # A new run starts where an interval begins strictly after everything before it ended.
    new_run = np.ones(len(bounds), dtype=bool)
    new_run[1:] = starts[1:] > ends[:-1]
    run_id = np.cumsum(new_run) - 1
    out = np.empty((int(run_id[-1]) + 1, 2))
    out[:, 0] = starts[new_run]
    out[:, 1] = np.maximum.reduceat(ends, np.flatnonzero(new_run))
    return out


def _membership(bounds: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether each time ``t`` lies inside one of the normalized intervals ``bounds``."""
    idx = np.searchsorted(bounds[:, 0], t, side="right") - 1
    inside = idx >= 0
    inside[inside] = t[inside] < bounds[idx[inside], 1]
    return inside


class Timeline:
    """Immutable union of time intervals in seconds.

    Built from any segments or ``(start, end)`` pairs; overlapping and touching intervals
    are merged and empty ones dropped. Set operations return new timelines.
    """

    __slots__ = ("_bounds",)

    def __init__(self, segments: Iterable[Segment | tuple[float, float]] = ()) -> None:
        pairs = [(s.start, s.end) if isinstance(s, Segment) else tuple(s) for s in segments]
        self._bounds = Timeline.from_array(np.asarray(pairs, dtype=np.float64))._bounds

    @classmethod
    def from_array(cls, bounds: NDArray[np.float64]) -> Timeline:
        """From a (n, 2) array of ``[start, end]`` rows (any order, may overlap)."""
        arr = np.asarray(bounds, dtype=np.float64).reshape(-1, 2)
        if not np.all(np.isfinite(arr)):
            raise ValueError("timeline times must be finite")
        out = cls.__new__(cls)
        out._bounds = _normalize(arr)
        out._bounds.setflags(write=False)
        return out

    @property
    def bounds(self) -> NDArray[np.float64]:
        """Read-only (n, 2) array of ``[start, end]`` rows, sorted and disjoint."""
        return self._bounds

    def __iter__(self) -> Iterator[Segment]:
        return (Segment(float(a), float(b)) for a, b in self._bounds)

    def __len__(self) -> int:
        return len(self._bounds)

    def __bool__(self) -> bool:
        return len(self._bounds) > 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeline) and np.array_equal(self._bounds, other._bounds)

    def __hash__(self) -> int:
        return hash(self._bounds.tobytes())

    def __repr__(self) -> str:
        inner = ", ".join(f"[{a:g}, {b:g}]" for a, b in self._bounds[:5])
        more = ", ..." if len(self._bounds) > 5 else ""
        return f"Timeline({inner}{more})"

    def duration(self) -> float:
        return float(np.sum(self._bounds[:, 1] - self._bounds[:, 0]))

    def extent(self) -> Segment | None:
        """The smallest segment covering the timeline, None when empty."""
        if not self:
            return None
        return Segment(float(self._bounds[0, 0]), float(self._bounds[-1, 1]))

    def contains(self, t: float) -> bool:
        return bool(_membership(self._bounds, np.array([t], dtype=np.float64))[0])

    def covers(self, times: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether each of ``times`` (any shape) lies inside an interval (start included,
        end excluded, as `contains`)."""
        return _membership(self._bounds, np.asarray(times, dtype=np.float64))

    def union(self, other: Timeline) -> Timeline:
        return Timeline.from_array(np.vstack([self._bounds, other._bounds]))

    def _combine(self, other: Timeline, keep_other: bool) -> Timeline:
        cuts = np.unique(np.concatenate([self._bounds.ravel(), other._bounds.ravel()]))
        if len(cuts) < 2:
            return Timeline()
        mids = 0.5 * (cuts[:-1] + cuts[1:])
        keep = _membership(self._bounds, mids) & (
            _membership(other._bounds, mids) == keep_other
        )
        return Timeline.from_array(np.stack([cuts[:-1][keep], cuts[1:][keep]], axis=1))

    def intersection(self, other: Timeline) -> Timeline:
        return self._combine(other, keep_other=True)

    def difference(self, other: Timeline) -> Timeline:
        return self._combine(other, keep_other=False)

    def crop(self, segment: Segment) -> Timeline:
        return self.intersection(Timeline([segment]))

    def gaps(self, within: Segment | None = None) -> Timeline:
        """Time inside ``within`` (default: the extent) not covered by the timeline."""
        within = within if within is not None else self.extent()
        if within is None:
            return Timeline()
        return Timeline([within]).difference(self)
