"""Domain types on numpy alone: segments, timelines, annotations, and the time policy."""

from diarefine.core.annotation import Annotation, Turn, TurnArrays
from diarefine.core.segment import Segment
from diarefine.core.timeline import Timeline

__all__ = ["Annotation", "Segment", "Timeline", "Turn", "TurnArrays"]
