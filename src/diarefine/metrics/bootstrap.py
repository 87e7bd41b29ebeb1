"""How sure a pooled DER is: bootstrap intervals over recordings.

A corpus DER pools errors over files (``sum error / sum scored``), and a small corpus
(the 15 recordings of the AMI excerpts + sample) is dominated by a few of them. Resampling
the files with replacement, ``draws`` times, and pooling each resample gives the spread
of the DER one would see on another corpus drawn like this one; the interval is the
central ``level`` of that spread (percentile bootstrap, Efron & Tibshirani 1993, ch. 13).
For two systems on the same files, :func:`bootstrap_difference` resamples the files
once for both (paired), which is what tells whether one system is better on such files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from diarefine.metrics.score import ScoreReport


@dataclass(frozen=True)
class Interval:
    value: float  # on the files as they are
    low: float
    high: float
    level: float
    draws: int

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high,
                "level": self.level, "draws": self.draws}

    def __str__(self) -> str:
        return (f"{100 * self.value:.2f} % ({100 * self.level:g} % interval "
                f"{100 * self.low:.2f}-{100 * self.high:.2f}, {self.draws} draws)")


def file_errors(report: ScoreReport) -> tuple[list[float], list[float]]:
    """Per file of ``report``, sorted by uri: DER errors (miss + false alarm + confusion)
    and scored time, in seconds; what the functions below resample."""
    der = [report.files[uri].scores.der for uri in sorted(report.files)]
    return [d.miss + d.false_alarm + d.confusion for d in der], [d.scored for d in der]


def _resamples(n: int, draws: int, seed: int) -> np.ndarray:
    """(draws, n) counts: how often each file is drawn in each resample."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(draws, n))
    counts = np.zeros((draws, n))
    np.add.at(counts, (np.arange(draws)[:, None], picks), 1)
    return counts


def _checked(errors: Sequence[float], scored: Sequence[float], level: float,
             draws: int) -> tuple[np.ndarray, np.ndarray]:
    e, s = np.asarray(errors, dtype=float), np.asarray(scored, dtype=float)
    if e.shape != s.shape or e.ndim != 1 or len(e) == 0:
        raise ValueError("errors and scored need one value per file, the same files")
    if (s < 0).any() or s.sum() <= 0:
        raise ValueError("scored times must be non-negative and not all zero")
    if not 0 < level < 1 or draws < 1:
        raise ValueError("level must be in (0, 1) and draws at least 1")
    return e, s


def _pooled(counts: np.ndarray, e: np.ndarray, s: np.ndarray) -> np.ndarray:
    total = counts @ s
    # a resample of files with nothing scored has no DER; it is left out
    return (counts @ e)[total > 0] / total[total > 0]


def _interval(value: float, samples: np.ndarray, level: float, draws: int) -> Interval:
    tail = (1 - level) / 2
    low, high = np.quantile(samples, [tail, 1 - tail])
    return Interval(value, float(low), float(high), level, draws)


def bootstrap_der(errors: Sequence[float], scored: Sequence[float], level: float = 0.95,
                  draws: int = 10_000, seed: int = 0) -> Interval:
    """Percentile interval of the pooled DER; ``errors`` (miss + false alarm + confusion)
    and ``scored`` in seconds, one value per file."""
    e, s = _checked(errors, scored, level, draws)
    samples = _pooled(_resamples(len(e), draws, seed), e, s)
    return _interval(float(e.sum() / s.sum()), samples, level, draws)


def bootstrap_difference(errors_a: Sequence[float], errors_b: Sequence[float],
                         scored: Sequence[float], level: float = 0.95, draws: int = 10_000,
                         seed: int = 0) -> Interval:
    """Percentile interval of pooled DER(a) - DER(b) on the same files, resampled in pairs."""
    a, s = _checked(errors_a, scored, level, draws)
    b, _ = _checked(errors_b, scored, level, draws)  # so b has a's shape too
    counts = _resamples(len(s), draws, seed)
    samples = _pooled(counts, a - b, s)
    return _interval(float((a - b).sum() / s.sum()), samples, level, draws)
