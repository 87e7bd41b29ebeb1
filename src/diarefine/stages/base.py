"""What flows between the pipeline stages: typed results with their shapes written down.

Stage chain (one typed call each)::

    waveform (num_samples,) float32 at 16 kHz
      -> Segmenter        -> ChunkScores      (num_chunks, num_frames, local_speakers)
      -> Embedder         -> ChunkEmbeddings  (num_chunks, local_speakers, dimension)
                             (+ WindowEmbeddings (num_windows, dimension), same trunk pass)
      -> Clusterer        -> labels           (num_active,)  [on the active embeddings]
      -> assignment       -> (num_chunks, local_speakers) global speaker or -1
      -> Reconstructor    -> FrameScores      (num_frames_total, num_speakers) + count
      -> reassign         -> FrameScores      [single-speaker frames, by the windows]
      -> PostProcessor    -> Annotation (overlap allowed) and an exclusive one
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation
from diarefine.core.frames import FrameGrid

#: ``hook(step_name, artifact)``: observes every intermediate result; also drives progress
#: (``hook("progress/<stage>", (done, total))``).
Hook = Callable[[str, object], None]


def no_hook(name: str, artifact: object) -> None:
    """The default hook: ignore everything."""


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

    ``data``: (num_chunks, num_frames, local_speakers) in [0, 1]: 0/1 after hard powerset
    decoding, each speaker's probability after soft decoding. A local speaker is active in
    a frame when its value exceeds ``threshold``. Chunk ``c`` starts at ``c * chunk_step``
    seconds; its frames follow ``frames``. ``count_probs`` (num_chunks, num_frames, M + 1),
    when the model gives it: the probability that 0, 1, ... M local speakers talk at once.
    """

    data: NDArray[np.float32]
    chunk_step: float
    chunk_duration: float
    frames: FrameGrid
    threshold: float = 0.5
    count_probs: NDArray[np.float32] | None = None

    @property
    def active(self) -> NDArray[np.bool_]:
        """(num_chunks, num_frames, local_speakers) booleans."""
        return self.data > self.threshold

    @property
    def num_chunks(self) -> int:
        return int(self.data.shape[0])


@dataclass(frozen=True)
class ChunkEmbeddings:
    """``data``: (num_chunks, local_speakers, dimension). ``present`` (num_chunks,
    local_speakers): the local speaker talks in the chunk; ``reliable``: long enough for
    its embedding to help build the clusters."""

    data: NDArray[np.float32]
    present: NDArray[np.bool_]
    reliable: NDArray[np.bool_]


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
    #: Per turn of ``diarization`` (same order): the mean activation of its speaker over
    #: the turn's frames, in [0, 1] (how sure the pipeline was the speaker talks there).
    turn_confidence: tuple[float, ...] = ()
