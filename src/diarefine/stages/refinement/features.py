"""What a refiner sees around each boundary (numpy only).

A `RefinementContext` holds one recording's tracks, each on its own frame grid:

* ``activity`` (T, S): the pipeline's global speaker activations (after reassignment),
  and ``count_probs`` (T, 3): the segmentation's probability of 0, 1 and 2+ simultaneous
  speakers averaged over chunks, both on the segmentation's grid (about 17 ms);
* ``similarity`` (N, S): cosine between each ~1 s window embedding (CAM++ trunk, single-
  speaker frames, every 0.1 s) and each speaker's reference direction, at ``window_times``;
* ``acoustic`` (F, 5): log energy and 4 log-mel band energies, z-scored over the
  recording, on a 20 ms grid; ``centroids`` (S, D): the speakers' unit embeddings.

`boundary_features` samples them, around each boundary, on one grid of ``RATE`` (20 ms):
``NUM_FRAMES`` frames with frame ``HALF`` exactly at the boundary, plus the system's own
output of the two speakers involved. The boundary's speaker is A; B is the other speaker
most active in the window (none: zeros, ``has_b`` 0).

Frame channels (``CHANNELS``), shape (n, NUM_FRAMES, len(CHANNELS)); static vector
(n, 2 D + 7): centroid A, centroid B, cos(A, B), onset/offset, change/overlap/edge, has_b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation
from diarefine.core.frames import FrameGrid
from diarefine.core.timeline import Timeline
from diarefine.metrics.boundary_matching import DIRECTIONS, KINDS
from diarefine.stages.refinement.edits import Boundaries

RATE = 0.02  # seconds per window frame
HALF = 100  # frames each side: a 4 s window
NUM_FRAMES = 2 * HALF
CHANNELS = ("act_a", "act_b", "act_rest", "p0", "p1", "p2", "sim_a", "sim_b", "sim_valid",
            "sys_a", "sys_b", "energy", "band1", "band2", "band3", "band4", "inside")


@dataclass(frozen=True)
class RefinementContext:
    """One recording's tracks (module docstring). ``speakers`` names the columns."""

    speakers: tuple[str, ...]
    activity: NDArray[np.float32]
    count_probs: NDArray[np.float32]
    grid: FrameGrid
    window_times: NDArray[np.float64]
    similarity: NDArray[np.float32]
    acoustic: NDArray[np.float32]
    centroids: NDArray[np.float32]
    duration: float

    @property
    def embedding_dim(self) -> int:
        return int(self.centroids.shape[1])


def acoustic_tracks(fbank: NDArray[np.float32], fbank_step: float = 0.01) -> NDArray[np.float32]:
    """(T, 80) log-mel fbank every ``fbank_step`` -> (F, 5) on the ``RATE`` grid: log
    energy and 4 band energies (20 mel bins each), each z-scored over the recording."""
    if len(fbank) == 0:
        return np.zeros((0, 5), dtype=np.float32)
    fb = np.asarray(fbank, dtype=np.float64)
    peak = fb.max(axis=1, keepdims=True)
    energy = (peak[:, 0] + np.log(np.exp(fb - peak).mean(axis=1)))[:, None]
    bands = fb.reshape(len(fb), 4, -1).mean(axis=2)
    tracks = np.concatenate([energy, bands], axis=1)
    per = max(1, int(round(RATE / fbank_step)))
    usable = len(tracks) // per * per or len(tracks)
    tracks = tracks[:usable].reshape(-1, per, 5).mean(axis=1) if usable % per == 0 else tracks
    tracks = (tracks - tracks.mean(axis=0)) / np.maximum(tracks.std(axis=0), 1e-3)
    return tracks.astype(np.float32)


def _sample(track: NDArray, centres: NDArray[np.float64], times: NDArray[np.float64]
            ) -> NDArray[np.float64]:
    """Linear interpolation of ``track`` (T, C) given at ``centres`` (T,) at ``times``
    (n, W) -> (n, W, C); 0 outside the track."""
    out = np.zeros((*times.shape, track.shape[1]))
    if len(centres) == 0:
        return out
    flat = times.ravel()
    inside = (flat >= centres[0]) & (flat <= centres[-1])
    for c in range(track.shape[1]):
        values = np.interp(flat, centres, track[:, c]) * inside
        out[..., c] = values.reshape(times.shape)
    return out


def covered(spans: dict[str, Timeline], speaker: str | None, times: NDArray[np.float64]
            ) -> NDArray[np.float64]:
    """1 where ``speaker`` has a turn at ``times``, else 0; ``spans``: each speaker's
    timeline (`speaker_spans`)."""
    if speaker is None or speaker not in spans:
        return np.zeros(np.shape(times))
    return spans[speaker].covers(times).astype(np.float64)


def speaker_spans(annotation: Annotation) -> dict[str, Timeline]:
    return {speaker: annotation.speaker_timeline(speaker) for speaker in annotation.speakers}


def boundary_features(context: RefinementContext, bounds: Boundaries,
                      annotation: Annotation | None = None
                      ) -> tuple[NDArray[np.float32], NDArray[np.float32], list[str | None]]:
    """Frames (n, NUM_FRAMES, C), static (n, 2D + 7) and each boundary's B speaker."""
    n, dim = len(bounds), context.embedding_dim
    annotation = annotation if annotation is not None else bounds.turns
    offsets = (np.arange(NUM_FRAMES) - HALF) * RATE
    times = bounds.times[:, None] + offsets[None, :]  # (n, W)
    column = {s: k for k, s in enumerate(context.speakers)}
    act = _sample(context.activity, context.grid.centers(len(context.activity)), times)
    counts = _sample(context.count_probs, context.grid.centers(len(context.count_probs)), times)
    sims = _sample(context.similarity, context.window_times, times)
    has_sim = _sample(np.ones((len(context.window_times), 1)), context.window_times, times)
    acoustic = _sample(context.acoustic, RATE * (np.arange(len(context.acoustic)) + 0.5),
                       times)
    frames = np.zeros((n, NUM_FRAMES, len(CHANNELS)), dtype=np.float32)
    static = np.zeros((n, 2 * dim + 7), dtype=np.float32)
    partners: list[str | None] = []
    spans = speaker_spans(annotation)
    for i in range(n):
        a = column.get(bounds.speakers[i])
        others = [k for k in range(act.shape[2]) if k != a]
        b = max(others, key=lambda k: act[i, :, k].mean()) if others else None
        if b is not None and act[i, :, b].max() <= 0:
            b = None
        rest = [k for k in others if k != b]
        frames[i, :, 0] = act[i, :, a] if a is not None else 0.0
        frames[i, :, 1] = act[i, :, b] if b is not None else 0.0
        frames[i, :, 2] = act[i][:, rest].max(axis=1) if rest else 0.0
        frames[i, :, 3:6] = counts[i, :, :3]
        frames[i, :, 6] = sims[i, :, a] if a is not None else 0.0
        frames[i, :, 7] = sims[i, :, b] if b is not None else 0.0
        frames[i, :, 8] = has_sim[i, :, 0]
        partner = context.speakers[b] if b is not None else None
        frames[i, :, 9] = covered(spans, bounds.speakers[i], times[i])
        frames[i, :, 10] = covered(spans, partner, times[i])
        frames[i, :, 11:16] = acoustic[i]
        frames[i, :, 16] = (times[i] >= 0) & (times[i] <= context.duration)
        partners.append(partner)
        static[i] = _static(context, a, b, bounds.directions[i], bounds.kinds[i])
    return frames, static, partners


def _static(context: RefinementContext, a: int | None, b: int | None, direction: str,
            kind: str) -> NDArray[np.float32]:
    dim = context.embedding_dim
    ca = context.centroids[a] if a is not None else np.zeros(dim, dtype=np.float32)
    cb = context.centroids[b] if b is not None else np.zeros(dim, dtype=np.float32)
    flags = [float(ca @ cb), float(direction == DIRECTIONS[1])]
    flags += [float(kind == k) for k in KINDS] + [float(b is not None)]
    # onset flag and offset flag both present: (onset, offset)
    flags.insert(1, float(direction == DIRECTIONS[0]))
    return np.concatenate([ca, cb, np.asarray(flags, dtype=np.float32)]).astype(np.float32)
