"""DER broken down by how many speakers talk at once: where the missed speech sits.

Over the scored region (the same UEM, collar and overlap rules as the DER), every
elementary interval has ``N_ref`` reference and ``N_sys`` system speakers talking. The
breakdown gives the scored time of every (``N_ref``, ``N_sys``) pair and, by ``N_ref``,
the DER components with md-eval's per-interval formulas (see :mod:`diarefine.metrics.der`),
so the rows sum exactly to the file's DER components. Counts above ``max_count`` share
the last row/column.

A system that never outputs more than two speakers at once can never recover
``sum over N_ref > 2 of (N_ref - 2) * time`` of miss: :attr:`CountBreakdown.beyond`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.metrics.der import DerResult, diarization_error, interval_counts
from diarefine.metrics.mapping import mapping_indices
from diarefine.metrics.score import ScoreSettings, paired_files

MAX_COUNT = 4


@dataclass(frozen=True)
class CountBreakdown:
    """``seconds[i, j]``: scored time with ``i`` reference and ``j`` system speakers.
    ``scored``, ``miss``, ``false_alarm``, ``confusion`` (by reference count ``i``):
    speaker-seconds, as in the DER. ``beyond[k]``: miss that no system outputting at
    most ``k`` speakers at once can avoid. Shapes: (M+1, M+1) and (M+1,)."""

    seconds: NDArray[np.float64]
    scored: NDArray[np.float64]
    miss: NDArray[np.float64]
    false_alarm: NDArray[np.float64]
    confusion: NDArray[np.float64]
    beyond: NDArray[np.float64]

    @classmethod
    def empty(cls, max_count: int = MAX_COUNT) -> CountBreakdown:
        m = max_count + 1
        return cls(np.zeros((m, m)), *(np.zeros(m) for _ in range(5)))

    def __add__(self, other: CountBreakdown) -> CountBreakdown:
        return CountBreakdown(*(a + b for a, b in zip(self._arrays(), other._arrays())))

    def as_dict(self) -> dict[str, Any]:
        """Lists, times in seconds; ``seconds[i][j]``: i reference, j system speakers."""
        return {f.name: getattr(self, f.name).tolist() for f in fields(self)}

    def _arrays(self) -> tuple[NDArray[np.float64], ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


def breakdown_of(result: DerResult, max_count: int = MAX_COUNT) -> CountBreakdown:
    """The breakdown of a file already scored by :func:`diarization_error`."""
    sweep = result.sweep
    d = sweep.durations * sweep.inside(result.regions.scored)
    cols = mapping_indices(result.mapping, sweep.ref_speakers, sweep.hyp_speakers)
    n_ref, n_sys, n_map = interval_counts(sweep, *cols)
    m = max_count + 1
    row, col = np.minimum(n_ref, max_count), np.minimum(n_sys, max_count)
    seconds = np.zeros((m, m))
    np.add.at(seconds, (row, col), d)

    def by_row(values: NDArray) -> NDArray[np.float64]:
        return np.bincount(row, weights=d * values, minlength=m)[:m]

    beyond = np.array([float(d @ np.maximum(n_ref - k, 0)) for k in range(m)])
    return CountBreakdown(seconds, by_row(n_ref), by_row(np.maximum(n_ref - n_sys, 0)),
                          by_row(np.maximum(n_sys - n_ref, 0)),
                          by_row(np.minimum(n_ref, n_sys) - n_map), beyond)


def count_breakdown(reference: Annotation, hypothesis: Annotation,
                    uem: Timeline | None = None, collar: float = 0.0,
                    skip_overlap: bool = False, max_count: int = MAX_COUNT) -> CountBreakdown:
    """Breakdown of one file (md-eval's regions, mapping and formulas)."""
    return breakdown_of(diarization_error(reference, hypothesis, uem, collar, skip_overlap),
                        max_count)


def corpus_breakdown(references: Mapping[str, Annotation],
                     hypotheses: Mapping[str, Annotation],
                     uem: Mapping[str, Timeline] | None = None,
                     settings: ScoreSettings = ScoreSettings(),
                     max_count: int = MAX_COUNT) -> CountBreakdown:
    """Sum of the breakdowns of every reference file, paired as ``score_corpus`` pairs."""
    total = CountBreakdown.empty(max_count)
    for reference, hypothesis, region in paired_files(references, hypotheses, uem):
        total = total + count_breakdown(reference, hypothesis, region, settings.collar,
                                        settings.skip_overlap, max_count)
    return total


def count_text(b: CountBreakdown) -> str:
    """Plain-text table: one row per number of reference speakers; the seconds with each
    number of system speakers, then the errors in % of all scored speaker time."""
    total = float(b.scored.sum())
    m = len(b.scored)
    names = [str(i) for i in range(m - 1)] + [f"{m - 1}+"]

    def pct(x: float) -> str:
        return f"{100 * x / total:6.2f}" if total > 0 else "     -"

    lines = ["seconds with N ref (rows) and N sys (columns) speakers; errors in % of "
             "scored speaker time",
             "ref\\sys " + " ".join(f"{n:>7s}" for n in names)
             + " | scored   miss     FA   conf"]
    for i in range(m):
        cells = " ".join(f"{b.seconds[i, j]:7.1f}" for j in range(m))
        lines.append(f"{names[i]:>8s} {cells} | {pct(b.scored[i])} {pct(b.miss[i])} "
                     f"{pct(b.false_alarm[i])} {pct(b.confusion[i])}")
    lines.append(f"{'all':>8s} {' ' * (8 * m - 1)} | {pct(total)} {pct(b.miss.sum())} "
                 f"{pct(b.false_alarm.sum())} {pct(b.confusion.sum())}")
    if m > 3:
        lines.append("miss that no system outputting at most 1 / 2 / 3 speakers at once "
                     f"can avoid: {pct(b.beyond[1]).strip()} / {pct(b.beyond[2]).strip()}"
                     f" / {pct(b.beyond[3]).strip()} %")
    return "\n".join(lines)
