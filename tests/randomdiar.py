"""Random reference/hypothesis pairs for conformance and property tests."""

from __future__ import annotations

import numpy as np

from diarefine.core.annotation import Annotation, Turn
from diarefine.core.timeline import Timeline


def random_annotation(
    rng: np.random.Generator, uri: str, num_speakers: int, duration: float,
    mean_turn: float = 2.0, prefix: str = "spk",
) -> Annotation:
    """Turns of ``num_speakers`` speakers on [0, duration), times in whole milliseconds.

    Each speaker alternates exponential pauses and turns, so speakers overlap freely;
    a speaker's own turns never overlap (they may touch).
    """
    turns = []
    for k in range(num_speakers):
        t = float(rng.uniform(0, duration / 4))
        while t < duration:
            length = float(rng.exponential(mean_turn)) + 0.01
            start, end = round(t, 3), round(min(t + length, duration), 3)
            if end > start:
                turns.append(Turn(start, end, f"{prefix}{k}"))
            gap = float(rng.exponential(mean_turn * num_speakers))
            if rng.random() < 0.1:
                gap = 0.0  # touching turns of the same speaker
            t = end + gap
    return Annotation(uri, tuple(turns))


def perturb(rng: np.random.Generator, reference: Annotation, num_speakers: int,
            jitter: float = 0.3, prefix: str = "sys") -> Annotation:
    """A plausible system output: boundaries jittered, labels shuffled and some merged,
    some turns dropped, some spurious turns added."""
    labels = {s: f"{prefix}{rng.integers(num_speakers)}" for s in reference.speakers}
    turns = []
    for t in reference.turns:
        if rng.random() < 0.1:
            continue
        start = max(0.0, round(t.start + float(rng.normal(0, jitter)), 3))
        end = round(t.end + float(rng.normal(0, jitter)), 3)
        if end > start:
            turns.append(Turn(start, end, labels[t.speaker]))
    extent = reference.extent()
    horizon = extent.end if extent else 10.0
    for _ in range(rng.integers(0, 4)):
        start = round(float(rng.uniform(0, horizon)), 3)
        turns.append(Turn(start, round(start + float(rng.exponential(1.0)) + 0.01, 3),
                          f"{prefix}{rng.integers(num_speakers)}"))
    return Annotation(reference.uri, tuple(turns)).merge_overlaps()[0]


def random_uem(rng: np.random.Generator, duration: float) -> Timeline:
    """One to three disjoint regions inside [0, duration], in whole milliseconds."""
    cuts = np.sort(np.round(rng.uniform(0, duration, size=2 * rng.integers(1, 4)), 3))
    return Timeline([(a, b) for a, b in cuts.reshape(-1, 2) if b - a > 0.5])
