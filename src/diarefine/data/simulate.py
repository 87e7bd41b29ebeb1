"""One simulated conversation: draw its parameters, plan its turns, render its audio.

Per conversation, from ``numpy.random.default_rng([seed, index])`` in this order:
number of speakers ``K ~ U{min..max}``; the speakers, ``K`` distinct ones drawn uniformly
from the split's pool; the target length ``D ~ U(duration)``; each speaker's level
offset ``~ U(-level_db, +level_db)`` dB around ``reference_dbfs`` (every speaker's
material is first normalised to ``reference_dbfs`` RMS over its speech regions); a lead-in
silence ``~ U(0.3, 1.0)`` s; the turn plan (:mod:`diarefine.data.turns`); when reverberation
is on, ``RT60 ~ U(rt60)`` for the room and, per speaker, ``DRR ~ U(drr)`` dB
(:mod:`diarefine.data.room`); when noise is on, ``SNR ~ U(snr)`` dB and the noise.

Rendering: each placed chunk gets 5 ms raised-cosine fades (inside Silero's 30 ms
padding at natural region edges; at cut points they hide the cut), is scaled and added at
its place. The file ends ``tail`` = 0.5 s after the last speech. The mix is scaled down
if its peak exceeds 0.9 and written as 16-bit PCM.

The reference holds exactly the placed speech chunks (same-speaker gaps of at
most ``merge_pause`` bridged), times in samples / 16000. The UEM is the whole file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation
from diarefine.data.room import NOISE_KINDS, add_at_snr, make_noise, reverberate, synthetic_rir
from diarefine.data.turns import Piece, Placed, TurnTakingConfig, plan_conversation
from diarefine.io.audio import SAMPLE_RATE

FADE = 80  # samples: 5 ms


@dataclass(frozen=True)
class SimulationConfig:
    """What a simulated conversation looks like (seconds, dB); ranges are ``(lo, hi)``.

    Defaults resemble meetings and interviews: 2-4 speakers, 2-4 minutes, 12 % of the
    speech overlapped, levels within ±3 dB, a pink noise floor 25-40 dB below the speech
    (no digital silence between turns), no reverberation (``rt60`` None). ``snr_db`` None
    turns the noise off.
    """

    duration: tuple[float, float] = (120.0, 240.0)
    speakers: tuple[int, int] = (2, 4)
    overlap: float = 0.12
    level_db: float = 3.0
    reference_dbfs: float = -26.0
    rt60: tuple[float, float] | None = None
    drr_db: tuple[float, float] = (0.0, 8.0)
    snr_db: tuple[float, float] | None = (25.0, 40.0)
    noise: str = "pink"
    tail: float = 0.5
    turns: TurnTakingConfig = field(default_factory=TurnTakingConfig)

    def __post_init__(self) -> None:
        ranges = {"duration": self.duration, "speakers": self.speakers, "drr_db": self.drr_db,
                  "rt60": self.rt60 or (1.0, 1.0), "snr_db": self.snr_db or (0.0, 0.0)}
        bad = [k for k, (lo, hi) in ranges.items() if hi < lo]
        if bad:
            raise ValueError(f"ranges with MIN above MAX: {', '.join(bad)}")
        if self.duration[0] <= 0 or self.speakers[0] < 1 or (self.rt60 and self.rt60[0] <= 0):
            raise ValueError("durations, RT60 and speaker counts must be positive")
        if not 0 <= self.overlap < 1 or self.level_db < 0:
            raise ValueError("overlap must be in [0, 1) and level_db non-negative")
        if self.noise not in NOISE_KINDS:
            raise ValueError(f"unknown noise {self.noise!r}; expected one of {NOISE_KINDS}")

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


@dataclass(frozen=True)
class Conversation:
    """A rendered conversation. ``audio`` shape (num_samples,) float32 at 16 kHz."""

    uri: str
    audio: NDArray[np.float32]
    reference: Annotation
    speakers: tuple[str, ...]
    sources: tuple[str, ...]
    params: Mapping[str, Any]

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def _fade(chunk: NDArray[np.float32]) -> NDArray[np.float32]:
    n = min(FADE, len(chunk) // 2)
    if n == 0:
        return chunk
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
    chunk = chunk.copy()
    chunk[:n] *= ramp
    chunk[len(chunk) - n:] *= ramp[::-1]
    return chunk


def speaker_gain(pieces: Sequence[Piece], dbfs: float) -> float:
    """Gain bringing the RMS of a speaker's speech regions to ``dbfs``."""
    energy = sum(float(np.sum(p.audio.astype(np.float64) ** 2)) for p in pieces)
    count = sum(len(p.audio) for p in pieces)
    rms = np.sqrt(energy / count) if count else 0.0
    return float(10.0 ** (dbfs / 20.0) / rms) if rms > 0 else 1.0


def reference_of(uri: str, plan: Sequence[Placed], merge_pause: float) -> Annotation:
    """Tight reference: the placed chunks, same-speaker gaps < ``merge_pause`` bridged."""
    turns = ((p.start / SAMPLE_RATE, p.end / SAMPLE_RATE, p.speaker) for p in plan)
    return Annotation.from_tuples(uri, turns).support(max_gap=merge_pause)


def render(plan: Sequence[Placed], material: Mapping[str, Sequence[Piece]],
           gains: Mapping[str, float], num_samples: int,
           rirs: Mapping[str, NDArray[np.float32]] | None = None) -> NDArray[np.float32]:
    """Mix of the placed chunks. Shape (num_samples,). With ``rirs``, each speaker's
    track is convolved with its own impulse response before mixing."""
    tracks: dict[str, NDArray[np.float32]] = {}
    for p in plan:
        key = p.speaker if rirs else ""
        track = tracks.setdefault(key, np.zeros(num_samples, dtype=np.float32))
        piece = material[p.speaker][p.piece]
        chunk = _fade(piece.audio[p.offset: p.offset + p.length]) * np.float32(gains[p.speaker])
        track[p.start: p.start + len(chunk)] += chunk
    mix = np.zeros(num_samples, dtype=np.float32)
    for key in sorted(tracks):
        mix += reverberate(tracks[key], rirs[key]) if rirs else tracks[key]
    return mix


def speech_mask(reference: Annotation, num_samples: int) -> NDArray[np.bool_]:
    """True on samples inside a reference turn. Shape (num_samples,)."""
    mask = np.zeros(num_samples, dtype=bool)
    for seg in reference.speech():
        mask[int(round(seg.start * SAMPLE_RATE)): int(round(seg.end * SAMPLE_RATE))] = True
    return mask


def simulate_conversation(
    uri: str, rng: np.random.Generator, pool: Sequence[str],
    material: Mapping[str, Sequence[Piece]], config: SimulationConfig,
) -> Conversation:
    """Draw, plan and render one conversation from the speakers of ``pool`` (see module)."""
    lo, hi = config.speakers
    k = int(rng.integers(lo, hi + 1))
    speakers = sorted(str(s) for s in rng.choice(np.array(sorted(pool)), size=k, replace=False))
    duration = float(rng.uniform(*config.duration))
    offsets = rng.uniform(-config.level_db, config.level_db, size=k)
    gains = {s: speaker_gain(material[s], config.reference_dbfs + float(off))
             for s, off in zip(speakers, offsets)}
    lead_in = float(rng.uniform(0.3, 1.0))
    plan = plan_conversation(rng, material, speakers, duration, config.overlap,
                             config.turns, lead_in)
    num_samples = max(p.end for p in plan) + int(round(config.tail * SAMPLE_RATE))
    reference = reference_of(uri, plan, config.turns.merge_pause)
    params: dict[str, Any] = {
        "target_duration": round(duration, 3),
        "level_db": {s: round(float(o), 2) for s, o in zip(speakers, offsets)}}
    rirs = None
    if config.rt60 is not None:
        rt60 = float(rng.uniform(*config.rt60))
        drrs = rng.uniform(*config.drr_db, size=k)
        rirs = {s: synthetic_rir(rng, rt60, float(d)) for s, d in zip(speakers, drrs)}
        params.update(rt60=round(rt60, 3), drr_db={s: round(float(d), 2)
                                                   for s, d in zip(speakers, drrs)})
    audio = render(plan, material, gains, num_samples, rirs)
    if config.snr_db is not None:
        snr = float(rng.uniform(*config.snr_db))
        others = [p.audio for s in sorted(pool) if s not in speakers for p in material[s]]
        noise = make_noise(rng, config.noise, num_samples, others)
        audio = add_at_snr(audio, noise, speech_mask(reference, num_samples), snr)
        params.update(snr_db=round(snr, 2), noise=config.noise)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 0.9:
        audio = (audio * np.float32(0.9 / peak)).astype(np.float32)
    sources = sorted({material[p.speaker][p.piece].source for p in plan})
    return Conversation(uri, audio, reference, tuple(speakers), tuple(sources), params)
