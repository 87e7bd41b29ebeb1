"""The turn-taking model: who speaks when in a simulated conversation.

A conversation of target length ``D`` with speakers ``S_1..S_K`` is planned turn by turn
(all times in seconds, ``LN(m, s)`` is log-normal with median ``m`` and log-std ``s``,
truncated to the stated interval):

* **Participation.** Weights ``w ~ Dirichlet(alpha * 1_K)`` (``participation_alpha`` = 2:
  usually one or two dominant speakers, as in meetings). The first ``K`` turns visit every
  speaker once in random order (everyone is heard); afterwards the next main speaker is
  drawn with probability proportional to ``w`` among the speakers other than the current
  one (the floor always changes hands; a speaker who keeps the floor is one long turn).
* **Turn length** (speech time of a floor-holding turn): ``LN(turn_median=2.5,
  turn_sigma=0.8)`` in ``[turn_min=0.5, turn_max=15]``. The last turn is shortened so the
  conversation ends near ``D``.
* **Turn material.** A turn reads its speaker's Silero VAD speech regions in order (see
  :class:`Cursor`), chaining as many as needed; when a region is longer than needed it is
  cut at the quietest 20 ms window within ±0.25 s of the wanted length. Between two chained
  regions that followed each other in the source utterance the natural pause is kept
  (capped at ``pause_max=1.0``); other chained regions are separated by ``LN(0.3, 0.5)`` in
  ``[0.1, pause_max]``. These pauses are *not* speech: the RTTM only marks the regions.
* **Transitions.** The next turn starts after the previous one's end either with a pause
  ``LN(gap_median=0.5, gap_sigma=1.0)`` in ``[0.05, gap_max=5]`` or, with probability
  ``p``, overlapping it by ``LN(overlap_median x c, overlap_sigma=0.6)`` (median 0.5) in
  ``[0.1, min(overlap_max=2 x c, half the previous turn, 0.8 x the new turn)]``.
* **Backchannels.** During a main turn of speech length ``L`` a Poisson number of mean
  ``backchannel_rate x L x b`` (rate 0.08 / s) of short pieces ``U(0.2, 1.0)`` s from other
  speakers (drawn by ``w``) is placed uniformly inside the turn's span, overlapping it.
* **Overlap control.** With ``r*`` the target overlap ratio and ``r`` the ratio achieved so
  far by the plan, ``e = (r* - r) / r*``; ``p = clip(0.4 + 4 e, 0.02, 0.95)``,
  ``b = clip(1 + 5 e, 0.1, 3)`` and ``c = clip(1 + 5 e, 0.5, 3)``. This feedback makes the
  achieved ratio track ``r*`` (over 40 conversations of 2-5 min: target 0.05 -> 0.054,
  0.12 -> 0.118, 0.20 -> 0.183; 0.30 -> 0.255, where the cap of half the previous turn
  binds). With ``r* = 0`` there are no overlapped transitions and no backchannels. The
  *overlap ratio* is overlapped speech time (two or more speakers talking) over total
  speech time (at least one).
* **No self-overlap.** A speaker never restarts less than ``min_self_gap=0.15`` s after
  their previous speech (a backchannel that cannot fit is dropped).

Same-speaker speech separated by at most ``merge_pause=0.1`` s is one RTTM turn (the
VAD itself never splits at pauses shorter than its 0.1 s ``min_silence``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation
from diarefine.io.audio import SAMPLE_RATE

CUT_FRAME = 320  # 20 ms at 16 kHz
CUT_HOP = 80  # 5 ms
CUT_WINDOW = 0.25  # s either side of the wanted cut


@dataclass(frozen=True)
class TurnTakingConfig:
    """Parameters of the turn-taking model (seconds); see the module docstring."""

    participation_alpha: float = 2.0
    turn_median: float = 2.5
    turn_sigma: float = 0.8
    turn_min: float = 0.5
    turn_max: float = 15.0
    gap_median: float = 0.5
    gap_sigma: float = 1.0
    gap_max: float = 5.0
    overlap_median: float = 0.5
    overlap_sigma: float = 0.6
    overlap_max: float = 2.0
    backchannel_rate: float = 0.08
    backchannel_min: float = 0.2
    backchannel_max: float = 1.0
    pause_median: float = 0.3
    pause_sigma: float = 0.5
    pause_max: float = 1.0
    min_self_gap: float = 0.15
    merge_pause: float = 0.1


@dataclass(frozen=True)
class Piece:
    """One speech region of a source utterance. ``audio`` shape (num_samples,) at 16 kHz.

    ``pause_after``: silence (samples) before the next region of the same utterance, or
    None for the utterance's last region.
    """

    speaker: str
    source: str
    start: int
    audio: NDArray[np.float32]
    pause_after: int | None


@dataclass(frozen=True)
class Placed:
    """``length`` samples of ``pieces[speaker][piece]`` from ``offset``, played from
    conversation sample ``start``. ``kind`` is ``"turn"`` or ``"backchannel"``."""

    speaker: str
    start: int
    piece: int
    offset: int
    length: int
    kind: str

    @property
    def end(self) -> int:
        return self.start + self.length


def lognormal(rng: np.random.Generator, median: float, sigma: float, lo: float,
              hi: float) -> float:
    """``median * exp(sigma * z)`` clipped to ``[lo, hi]``."""
    return float(np.clip(median * np.exp(sigma * rng.standard_normal()), lo, hi))


def quietest_cut(audio: NDArray[np.float32], wanted: int, lo: int, hi: int) -> int:
    """Start of the quietest 20 ms window (5 ms hop) near ``wanted``, within ``[lo, hi]``."""
    a = max(lo, wanted - int(CUT_WINDOW * SAMPLE_RATE))
    b = min(hi, wanted + int(CUT_WINDOW * SAMPLE_RATE))
    if b - a < CUT_FRAME:
        return int(np.clip(wanted, lo, hi))
    power = np.concatenate([[0.0], np.cumsum(audio[a:b].astype(np.float64) ** 2)])
    starts = np.arange(0, b - a - CUT_FRAME + 1, CUT_HOP)
    return a + int(starts[np.argmin(power[starts + CUT_FRAME] - power[starts])])


class Cursor:
    """Reads one speaker's pieces in order from a random start, cutting where needed.

    Reuse: after the last piece the cursor starts again at the first (a speaker with one
    source utterance repeats its phrases in long conversations).
    """

    def __init__(self, pieces: Sequence[Piece], start: int) -> None:
        self.pieces, self.index, self.offset = pieces, start % len(pieces), 0

    def take(self, wanted: int, single: bool = False) -> list[tuple[int, int, int, int | None]]:
        """Chunks ``(piece, offset, length, pause_after)`` totalling about ``wanted``
        samples; ``single`` takes at most one chunk. ``pause_after`` is the natural pause
        to the next chunk when the two follow each other in the source, else None."""
        chunks: list[tuple[int, int, int, int | None]] = []
        remaining, slack = wanted, int(0.3 * SAMPLE_RATE)
        while remaining > 0:
            piece = self.pieces[self.index]
            available = len(piece.audio) - self.offset
            if available <= remaining + slack or available < 2 * slack:
                natural = piece.pause_after if self.index + 1 < len(self.pieces) else None
                chunks.append((self.index, self.offset, available, natural))
                remaining -= available
                self.index, self.offset = (self.index + 1) % len(self.pieces), 0
            else:
                cut = quietest_cut(piece.audio, self.offset + remaining,
                                   self.offset + slack // 2, len(piece.audio) - slack)
                chunks.append((self.index, self.offset, cut - self.offset, None))
                self.offset, remaining = cut, 0
            if single:
                break
        return chunks


class _Planner:
    """State of one plan; see :func:`plan_conversation`."""

    def __init__(self, rng: np.random.Generator, material: Mapping[str, Sequence[Piece]],
                 speakers: Sequence[str], cfg: TurnTakingConfig, target: float) -> None:
        self.rng, self.cfg, self.target = rng, cfg, target
        self.speakers = list(speakers)
        self.weights = rng.dirichlet(np.full(len(speakers), cfg.participation_alpha))
        self.cursors = {s: Cursor(material[s], int(rng.integers(len(material[s]))))
                        for s in speakers}
        self.placed: list[Placed] = []
        self.last_end = {s: -(10 ** 9) for s in speakers}

    def sec(self, seconds: float) -> int:
        return int(round(seconds * SAMPLE_RATE))

    def ratio(self) -> float:
        ann = Annotation.from_tuples("plan", ((p.start, p.end, p.speaker) for p in self.placed))
        speech = ann.speech().duration()
        return ann.overlap().duration() / speech if speech > 0 else 0.0

    def control(self) -> tuple[float, float, float]:
        """(probability of an overlapped transition, backchannel rate factor, overlap
        length factor) from the relative overlap deficit ``e``."""
        if self.target <= 0:
            return 0.0, 0.0, 1.0
        e = (self.target - self.ratio()) / self.target
        return (float(np.clip(0.4 + 4 * e, 0.02, 0.95)), float(np.clip(1 + 5 * e, 0.1, 3.0)),
                float(np.clip(1 + 5 * e, 0.5, 3.0)))

    def pick(self, exclude: str | None) -> str:
        others = [i for i, s in enumerate(self.speakers) if s != exclude] or [0]
        w = self.weights[others] / self.weights[others].sum()
        return self.speakers[others[int(self.rng.choice(len(others), p=w))]]

    def place_turn(self, speaker: str, start: int, length: int) -> int:
        """Place a main turn from ``start``; returns its end sample."""
        cfg, pos = self.cfg, start
        chunks = self.cursors[speaker].take(length)
        for k, (piece, offset, size, natural) in enumerate(chunks):
            self.placed.append(Placed(speaker, pos, piece, offset, size, "turn"))
            pos += size
            if k + 1 < len(chunks):
                pause = natural if natural is not None else self.sec(lognormal(
                    self.rng, cfg.pause_median, cfg.pause_sigma, 0.1, cfg.pause_max))
                pos += min(pause, self.sec(cfg.pause_max))
        self.last_end[speaker] = pos
        return pos

    def place_backchannels(self, main: str, start: int, end: int, factor: float) -> None:
        cfg = self.cfg
        if len(self.speakers) < 2 or factor <= 0:
            return
        count = self.rng.poisson(cfg.backchannel_rate * factor * (end - start) / SAMPLE_RATE)
        for _ in range(int(count)):
            who = self.pick(main)
            length = self.sec(self.rng.uniform(cfg.backchannel_min, cfg.backchannel_max))
            lo = max(start + self.sec(0.3), self.last_end[who] + self.sec(cfg.min_self_gap))
            hi = end - self.sec(0.3) - length
            if hi <= lo:
                continue
            at = int(self.rng.integers(lo, hi))
            piece, offset, size, _ = self.cursors[who].take(length, single=True)[0]
            self.placed.append(Placed(who, at, piece, offset, size, "backchannel"))
            self.last_end[who] = at + size

    def next_start(self, speaker: str, prev_end: int, prev_len: int, length: int,
                   p_overlap: float, scale: float) -> int:
        cfg = self.cfg
        if self.rng.random() < p_overlap:
            hi = min(cfg.overlap_max * scale, 0.5 * prev_len / SAMPLE_RATE,
                     0.8 * length / SAMPLE_RATE)
            start = prev_end - self.sec(lognormal(self.rng, cfg.overlap_median * scale,
                                                  cfg.overlap_sigma, 0.1, max(hi, 0.1)))
        else:
            start = prev_end + self.sec(lognormal(self.rng, cfg.gap_median, cfg.gap_sigma,
                                                  0.05, cfg.gap_max))
        return max(start, self.last_end[speaker] + self.sec(cfg.min_self_gap))


def plan_conversation(
    rng: np.random.Generator, material: Mapping[str, Sequence[Piece]],
    speakers: Sequence[str], duration: float, target_overlap: float,
    cfg: TurnTakingConfig | None = None, lead_in: float = 0.5,
) -> list[Placed]:
    """Placements of a conversation of about ``duration`` seconds (module docstring).

    ``material[speaker]`` lists that speaker's pieces in reading order (non-empty).
    The result is sorted by start sample.
    """
    cfg = cfg or TurnTakingConfig()
    plan = _Planner(rng, material, speakers, cfg, target_overlap)
    order = [speakers[i] for i in rng.permutation(len(speakers))]
    end_target = plan.sec(duration)
    t, prev, prev_len, turn = plan.sec(lead_in), None, 0, 0
    while t < end_target:
        speaker = order[turn] if turn < len(order) else plan.pick(prev)
        length = lognormal(rng, cfg.turn_median, cfg.turn_sigma, cfg.turn_min, cfg.turn_max)
        length = plan.sec(max(cfg.turn_min, min(length, (end_target - t) / SAMPLE_RATE)))
        p_overlap, factor, scale = plan.control()
        start = t if prev is None else plan.next_start(speaker, t, prev_len, length,
                                                       p_overlap, scale)
        end = plan.place_turn(speaker, start, length)
        plan.place_backchannels(speaker, start, end, factor)
        t, prev, prev_len, turn = max(t, end), speaker, length, turn + 1
    return sorted(plan.placed, key=lambda p: (p.start, p.speaker))
