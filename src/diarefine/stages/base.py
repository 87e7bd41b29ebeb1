"""What flows between the pipeline stages: typed results with their shapes written down.

Stage chain (one typed call each)::

    waveform (num_samples,) float32 at 16 kHz
      -> Segmenter        -> ChunkScores      (num_chunks, num_frames, local_speakers)
      -> Embedder         -> ChunkEmbeddings  (num_chunks, local_speakers, dimension)
      -> Clusterer        -> labels           (num_active,)  [on the active embeddings]
      -> assignment       -> (num_chunks, local_speakers) global speaker or -1
      -> Reconstructor    -> FrameScores      (num_frames_total, num_speakers) + count
      -> PostProcessor    -> Annotation (overlap allowed) and an exclusive one
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation

#: ``hook(step_name, artifact)``: observes every intermediate result; also drives progress
#: (``hook("progress/<stage>", (done, total))``).
Hook = Callable[[str, object], None]


def no_hook(name: str, artifact: object) -> None:
    """The default hook: ignore everything."""


@dataclass(frozen=True)
class FrameGrid:
    """Frames ``j`` covering ``[start + j*step, start + j*step + duration)`` seconds."""

    start: float
    step: float
    duration: float

    def center(self, index: NDArray | int) -> NDArray[np.float64]:
        return self.start + np.asarray(index, dtype=np.float64) * self.step + self.duration / 2

    def closest_frame(self, t: NDArray | float) -> NDArray[np.int64]:
        """Index of the frame whose center is closest to ``t``."""
        q = (np.asarray(t, dtype=np.float64) - self.start - self.duration / 2) / self.step
        return np.rint(q).astype(np.int64)


@dataclass(frozen=True)
class SpeakerConstraints:
    """``num_speakers`` fixes the count; otherwise it lies in [min_speakers, max_speakers]."""

    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int | None = None

    def __post_init__(self) -> None:
        if self.num_speakers is not None:
            if self.num_speakers < 1:
                raise ValueError(f"num_speakers must be >= 1, got {self.num_speakers}")
            object.__setattr__(self, "min_speakers", self.num_speakers)
            object.__setattr__(self, "max_speakers", self.num_speakers)
        if self.min_speakers < 1:
            raise ValueError(f"min_speakers must be >= 1, got {self.min_speakers}")
        if self.max_speakers is not None and self.max_speakers < self.min_speakers:
            raise ValueError(f"max_speakers ({self.max_speakers}) < min_speakers "
                             f"({self.min_speakers})")

    def clip(self, k: int, available: int) -> int:
        """A cluster count allowed by the constraints and by ``available`` items."""
        upper = available if self.max_speakers is None else min(self.max_speakers, available)
        return int(max(min(k, upper), min(self.min_speakers, available)))


@dataclass(frozen=True)
class ChunkScores:
    """Local speaker activity of overlapping chunks.

    ``data``: (num_chunks, num_frames, local_speakers) in [0, 1] (hard 0/1 after powerset
    decoding). Chunk ``c`` starts at ``c * chunk_step`` s; its frames follow ``frames``.
    """

    data: NDArray[np.float32]
    chunk_step: float
    chunk_duration: float
    frames: FrameGrid

    @property
    def num_chunks(self) -> int:
        return int(self.data.shape[0])


@dataclass(frozen=True)
class ChunkEmbeddings:
    """``data``: (num_chunks, local_speakers, dimension); ``active``: (num_chunks,
    local_speakers) whether the local speaker talks long enough to be embedded."""

    data: NDArray[np.float32]
    active: NDArray[np.bool_]


@dataclass(frozen=True)
class FrameScores:
    """Global speaker activations ``data`` (num_frames, num_speakers) and the estimated
    number of simultaneous speakers ``count`` (num_frames,) on ``frames``."""

    data: NDArray[np.float32]
    count: NDArray[np.int64]
    frames: FrameGrid


@dataclass(frozen=True)
class DiarizeOutput:
    """Result of the pipeline on one recording."""

    diarization: Annotation  # overlapping speech allowed
    exclusive: Annotation  # at most one speaker at a time
    speaker_embeddings: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    duration: float = 0.0
