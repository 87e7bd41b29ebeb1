"""A time interval in seconds."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, order=True, slots=True)
class Segment:
    """The half-open interval ``[start, end)`` in seconds; ``start <= end``.

    A zero-length segment is allowed (RTTM allows zero durations); it covers no time.
    """

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"segment times must be finite, got [{self.start}, {self.end}]")
        if self.end < self.start:
            raise ValueError(f"segment ends before it starts: [{self.start}, {self.end}]")

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def middle(self) -> float:
        return 0.5 * (self.start + self.end)

    def __bool__(self) -> bool:
        return self.end > self.start

    def intersects(self, other: Segment) -> bool:
        """True when the two segments share a positive length of time."""
        return min(self.end, other.end) > max(self.start, other.start)

    def intersection(self, other: Segment) -> Segment | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Segment(start, end) if end > start else None

    def contains(self, t: float) -> bool:
        return self.start <= t < self.end

    def shifted(self, delta: float) -> Segment:
        return Segment(self.start + delta, self.end + delta)
