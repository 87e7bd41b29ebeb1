"""PNG pictures of boundary errors and collar curves.

matplotlib is the optional extra ``plot`` (``pip install 'diarefine[plot]'``); it is
imported inside the functions, so importing this module never needs it, and a missing
matplotlib ends with a clear :class:`~diarefine.errors.DiarefineError`. Figures are drawn
on matplotlib's Agg canvas directly: no pyplot, no GUI backend, no global state touched
in the caller's process. Files are written atomically.

* :func:`plot_error_histogram`: signed boundary errors (system - reference, ms), stacked
  by reference boundary kind.
* :func:`plot_file_timeline`: one recording, each reference speaker's row with its
  mapped system speaker's row just below, unmapped system speakers at the bottom; the
  time DER counts as error shaded across all rows (miss red, false alarm orange,
  confusion purple) and detailed in an "errors" row; matched boundaries joined by a line
  from the reference row to the system row, missed and spurious ones marked with a cross.
* :func:`plot_collar_curve`: DER and its components against the collar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.errors import DiarefineError
from diarefine.io.atomic import atomic_open
from diarefine.metrics.boundary_matching import KINDS, MATCHED, MISSED, SPURIOUS, BoundaryPair
from diarefine.metrics.boundary_zones import error_intervals

if TYPE_CHECKING:
    from diarefine.metrics.boundaries import BoundaryReport, FileBoundaries
    from diarefine.metrics.collar_sweep import CollarSweepReport

ERROR_COLORS = {"miss": "tab:red", "false_alarm": "tab:orange", "confusion": "tab:purple"}
KIND_COLORS = {"change": "tab:blue", "overlap": "tab:green", "edge": "tab:gray"}


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure on an Agg canvas."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise DiarefineError("plots need matplotlib: pip install 'diarefine[plot]'") from exc
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> Path:
    with atomic_open(path, "wb", encoding=None) as handle:
        figure.savefig(handle, format="png", dpi=100)
    return path


def plot_error_histogram(pairs: Sequence[BoundaryPair], path: str | Path,
                         tolerance: float = 0.5, bin_ms: float = 20.0,
                         title: str = "Boundary errors") -> Path:
    """Histogram of the signed errors of the matched ``pairs``, stacked by kind."""
    matched = [p for p in pairs if p.status == MATCHED]
    errors = {k: [1000 * float(p.error or 0) for p in matched if p.ref_kind == k] for k in KINDS}
    limit = 1000 * tolerance
    bins = np.arange(-limit, limit + bin_ms, bin_ms) - bin_ms / 2
    figure = _figure(8, 4.5)
    ax = figure.subplots()
    ax.hist([errors[k] for k in KINDS], bins=bins, stacked=True,
            color=[KIND_COLORS[k] for k in KINDS],
            label=[f"{k} ({len(errors[k])})" for k in KINDS])
    ax.axvline(0, color="black", linewidth=0.8)
    values = np.concatenate([np.asarray(v, dtype=float) for v in errors.values()])
    summary = f"{len(values)} matched, {sum(p.status == MISSED for p in pairs)} missed, " \
              f"{sum(p.status == SPURIOUS for p in pairs)} spurious"
    if len(values):
        ax.axvline(float(values.mean()), color="black", linestyle="--", linewidth=0.8,
                   label=f"bias {values.mean():+.0f} ms")
        summary += f"; |error| mean {np.abs(values).mean():.0f} ms, " \
                   f"median {np.median(np.abs(values)):.0f} ms"
    ax.set_title(f"{title}\n{summary}", fontsize=10)
    ax.set_xlabel("signed error, system - reference (ms); > 0: system late")
    ax.set_ylabel("boundaries")
    ax.legend(fontsize=8)
    return _save(figure, Path(path))


def _rows(reference: Annotation, hypothesis: Annotation,
          mapping: Mapping[str, str]) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """Row labels top-down, and the row of each reference / system speaker."""
    labels: list[str] = []
    ref_row: dict[str, int] = {}
    sys_row: dict[str, int] = {}
    for speaker in reference.speakers:
        ref_row[speaker] = len(labels)
        labels.append(f"ref {speaker}")
        if speaker in mapping:
            sys_row[mapping[speaker]] = len(labels)
            labels.append(f"sys {mapping[speaker]}")
    for speaker in hypothesis.speakers:
        if speaker not in sys_row:
            sys_row[speaker] = len(labels)
            labels.append(f"sys {speaker} (unmapped)")
    return labels, ref_row, sys_row


def _draw_turns(ax: Any, annotation: Annotation, rows: Mapping[str, int], y: Any,
                color: str) -> None:
    for speaker, row in rows.items():
        spans = [(t.start, t.duration) for t in annotation.turns if t.speaker == speaker]
        ax.broken_barh(spans, (y(row) - 0.35, 0.7), facecolors=color)


def _draw_errors(ax: Any, reference: Annotation, hypothesis: Annotation,
                 analysis: FileBoundaries, num_rows: int) -> None:
    errors = error_intervals(reference, hypothesis, analysis.mapping, analysis.evaluated)
    widths = errors.ends - errors.starts
    for lane, (name, color) in enumerate(ERROR_COLORS.items()):
        keep = getattr(errors, name) > 0
        spans = list(zip(errors.starts[keep], widths[keep]))
        ax.broken_barh(spans, (-0.5, num_rows + 1), facecolors=color, alpha=0.12)
        ax.broken_barh(spans, (-1.45 + 0.3 * lane, 0.28), facecolors=color, label=name)


def _draw_pairs(ax: Any, pairs: Sequence[BoundaryPair], ref_y: Mapping[str, float],
                sys_y: Mapping[str, float]) -> None:
    from matplotlib.collections import LineCollection

    lines = [[(float(p.ref_time or 0.0), ref_y[str(p.ref_speaker)]),
              (float(p.sys_time or 0.0), sys_y[str(p.sys_speaker)])]
             for p in pairs if p.status == MATCHED]
    ax.add_collection(LineCollection(lines, colors="black", linewidths=1.0))
    for status, times, ys, color in (
        (MISSED, [p.ref_time for p in pairs if p.status == MISSED],
         [ref_y[str(p.ref_speaker)] for p in pairs if p.status == MISSED], "tab:red"),
        (SPURIOUS, [p.sys_time for p in pairs if p.status == SPURIOUS],
         [sys_y[str(p.sys_speaker)] for p in pairs if p.status == SPURIOUS], "tab:orange"),
    ):
        ax.scatter(times, ys, marker="x", color=color, zorder=3, label=f"{status} boundary")


def plot_file_timeline(reference: Annotation, hypothesis: Annotation,
                       analysis: FileBoundaries, path: str | Path) -> Path:
    """Reference and system turns of one file, mapped speakers on adjacent rows, with
    the error regions shaded (see the module docstring)."""
    labels, ref_row, sys_row = _rows(reference, hypothesis, analysis.mapping)
    n = len(labels)

    def y(row: int) -> float:
        return float(n - 1 - row)

    extent = reference.extent() or hypothesis.extent()
    span = (extent.end - extent.start) if extent else 1.0
    figure = _figure(min(max(8.0, span / 2.5), 50.0), max(3.0, 1.2 + 0.45 * (n + 1.5)))
    ax = figure.subplots()
    _draw_errors(ax, reference, hypothesis, analysis, n)
    if extent:
        outside = Timeline([(extent.start - 0.5, extent.end + 0.5)]).difference(analysis.evaluated)
        ax.broken_barh([(a, b - a) for a, b in outside.bounds], (-1.6, n + 1.2),
                       facecolors="0.85", label="not evaluated")
    _draw_turns(ax, reference, ref_row, y, "tab:blue")
    _draw_turns(ax, hypothesis, sys_row, y, "tab:cyan")
    _draw_pairs(ax, analysis.pairs, {s: y(r) for s, r in ref_row.items()},
                {s: y(r) for s, r in sys_row.items()})
    ax.set_yticks([y(r) for r in range(n)] + [-1.0], labels + ["errors"])
    ax.set_ylim(-1.6, n - 0.4)
    if extent:
        ax.set_xlim(extent.start - 0.5, extent.end + 0.5)
    ax.set_xlabel("time (s)")
    s = analysis.stats
    ax.set_title(f"{analysis.uri}: {s.matched} matched, {s.missed} missed, {s.spurious} "
                 f"spurious boundaries; DER {100 * analysis.zones.total.der:.1f} % "
                 "(collar 0, overlap scored)", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return _save(figure, Path(path))


def plot_collar_curve(report: CollarSweepReport, path: str | Path) -> Path:
    """DER, miss, false alarm and confusion (% of scored time) against the collar."""
    x = np.array(report.collars)
    figure = _figure(7, 4.5)
    ax = figure.subplots()
    series = {"DER": [c.der for c in report.overall]}
    for name, key in (("miss", "miss"), ("false alarm", "false_alarm"),
                      ("confusion", "confusion")):
        series[name] = [getattr(c, key) / c.scored if c.scored > 0 else np.nan
                        for c in report.overall]
    colors = {"DER": "black", "miss": ERROR_COLORS["miss"],
              "false alarm": ERROR_COLORS["false_alarm"], "confusion": ERROR_COLORS["confusion"]}
    for name, values in series.items():
        ax.plot(x, 100 * np.asarray(values, dtype=float), marker="o", label=name,
                color=colors[name], linewidth=2 if name == "DER" else 1)
    overlap = "overlap skipped (md-eval -1)" if report.skip_overlap else "overlap scored"
    ax.set_title(f"DER against collar ({len(report.files)} files, {overlap})", fontsize=10)
    ax.set_xlabel("collar on each side of reference boundaries (s, md-eval -c)")
    ax.set_ylabel("% of scored speaker time")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(figure, Path(path))


def safe_name(uri: str) -> str:
    """A file name made from a uri (anything but letters, digits, ``.-_`` becomes ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", uri) or "_"


def plot_boundaries(report: BoundaryReport, references: Mapping[str, Annotation],
                    hypotheses: Mapping[str, Annotation], directory: str | Path) -> list[Path]:
    """``boundary_errors.png`` and one ``timeline_<uri>.png`` per file in ``directory``."""
    directory = Path(directory)
    written = [plot_error_histogram(report.pairs(), directory / "boundary_errors.png",
                                    report.settings.tolerance)]
    for uri, analysis in sorted(report.files.items()):
        hypothesis = hypotheses.get(uri, Annotation(uri, (), references[uri].channel))
        written.append(plot_file_timeline(references[uri], hypothesis, analysis,
                                          directory / f"timeline_{safe_name(uri)}.png"))
    return written
