"""``diarefine boundaries`` and ``diarefine collar-sweep``: where the error sits.

Thin commands over :func:`diarefine.metrics.boundaries.analyze_boundaries` and
:func:`diarefine.metrics.collar_sweep.collar_sweep`; this module only reads the files,
prints tables and writes JSON and pictures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import click

from diarefine.io.atomic import atomic_write_text
from diarefine.io.rttm import load_rttms
from diarefine.io.uem import read_uem
from diarefine.metrics.boundaries import (
    BoundaryReport,
    BoundarySettings,
    BoundaryStats,
    analyze_boundaries,
)
from diarefine.metrics.boundary_zones import ZoneBreakdown
from diarefine.metrics.collar_sweep import DEFAULT_COLLARS, CollarSweepReport
from diarefine.metrics.collar_sweep import collar_sweep as sweep_collars

_UEM = click.option("--uem", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                    help="Scoring regions (UEM file). Default: md-eval's, first to last "
                         "reference time.")
_JSON = click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
                     help="Also write the full result as JSON (NaN as null).")


def _cell(value: float, fmt: str = "{:.1f}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else fmt.format(value)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], total: bool = False) -> str:
    """Columns padded to their widest cell, the first left-aligned; with ``total`` the
    last row is set apart by a rule."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    rule = "-" * len(line(header))
    body = [line(r) for r in rows]
    if total and body:
        body.insert(len(body) - 1, rule)
    return "\n".join([line(header), rule, *body])


def _stats_row(name: str, s: BoundaryStats) -> list[str]:
    return [name, str(s.reference), str(s.system), str(s.matched), str(s.missed),
            str(s.spurious), _cell(s.mean_abs_ms, "{:.0f}"), _cell(s.median_abs_ms, "{:.0f}"),
            _cell(s.p90_abs_ms, "{:.0f}"), _cell(s.bias_ms, "{:+.0f}"),
            *(_cell(100 * v) for v in s.within.values())]


def _stats_header(s: BoundaryStats, first: str) -> list[str]:
    return [first, "Ref", "Sys", "Match", "Miss", "Spur", "Mean ms", "Med ms", "P90 ms",
            "Bias ms", *(f"<={x}ms%" for x in s.within)]


def _zone_table(zones: ZoneBreakdown) -> str:
    total, total_time = zones.total, zones.total_time
    rows, cumulative = [], 0.0
    for z in zones.zones:
        c = z.components
        points = 100 * c.errors / total.scored if total.scored > 0 else math.nan
        cumulative += points
        rows.append([z.name, _cell(100 * z.time / total_time if total_time else math.nan),
                     _cell(100 * c.scored / total.scored if total.scored else math.nan),
                     f"{c.miss:.2f}", f"{c.false_alarm:.2f}", f"{c.confusion:.2f}",
                     _cell(points, "{:.2f}"), _cell(cumulative, "{:.2f}")])
    rows.append(["total", "100.0", "100.0", f"{total.miss:.2f}", f"{total.false_alarm:.2f}",
                 f"{total.confusion:.2f}", _cell(100 * total.der, "{:.2f}"), ""])
    header = ["Distance to ref boundary", "Time%", "Scored%", "Miss s", "FA s", "Conf s",
              "DER pts", "Cum pts"]
    return table(header, rows, total=True)


def boundary_text(report: BoundaryReport) -> str:
    """The tables ``diarefine boundaries`` prints."""
    s = report.settings
    per_file = [_stats_row(uri, f.stats) for uri, f in sorted(report.files.items())]
    per_file.append(_stats_row("OVERALL", report.overall))
    split = [_stats_row(k, v) for k, v in {**report.by_kind, **report.by_direction}.items()]
    split.append(_stats_row("all", report.overall))
    return "\n\n".join([
        "Boundary errors per file (errors: system - reference; <=X: % of matched)\n"
        + table(_stats_header(report.overall, "File"), per_file, total=True),
        "By kind (reference kind; spurious by system kind) and by direction\n"
        + table(_stats_header(report.overall, "Group"), split, total=True),
        "DER near reference boundaries (collar 0, overlap scored; points of overall DER)\n"
        + _zone_table(report.zones),
        f"tolerance {s.tolerance:g} s; same-speaker gaps <= {s.join_gap:g} s joined; change "
        f"= other speaker within +-{s.change_gap:g} s; kind "
        f"{'constrains' if s.match_kind else 'does not constrain'} matching; speakers mapped "
        "as DER (md-eval)",
    ])


def sweep_text(report: CollarSweepReport) -> str:
    rows = []
    for collar, c in zip(report.collars, report.overall):
        rate = [_cell(100 * v / c.scored if c.scored > 0 else math.nan, "{:.2f}")
                for v in (c.miss, c.false_alarm, c.confusion)]
        rows.append([f"{collar:g}", _cell(100 * c.der, "{:.2f}"), *rate, f"{c.scored:.2f}",
                     f"{c.miss:.2f}", f"{c.false_alarm:.2f}", f"{c.confusion:.2f}"])
    header = ["Collar s", "DER%", "Miss%", "FA%", "Conf%", "Scored s", "Miss s", "FA s",
              "Conf s"]
    overlap = "skipped (md-eval -1)" if report.skip_overlap else "scored"
    return (table(header, rows) + f"\n{len(report.files)} files; collar per side "
            f"(md-eval -c); overlap {overlap}")


def parse_collars(text: str) -> tuple[float, ...]:
    """``0,0.1,0.25`` or ``START:STOP:STEP`` (STOP included)."""
    try:
        if ":" in text:
            start, stop, step = (float(v) for v in text.split(":"))
            if step <= 0:
                raise ValueError
            count = int(math.floor((stop - start) / step + 1e-9)) + 1
            return tuple(round(start + k * step, 9) for k in range(max(count, 0)))
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected 0,0.1,0.25 or START:STOP:STEP") from None


@click.command()
@click.argument("ref", type=click.Path(exists=True, path_type=Path))
@click.argument("hyp", type=click.Path(exists=True, path_type=Path))
@_UEM
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="Largest |system - reference| time (s) at which two boundaries match.")
@click.option("--join-gap", type=click.FloatRange(min=0), default=0.1, show_default=True,
              help="Join turns of one speaker separated by at most this many seconds.")
@click.option("--change-gap", type=click.FloatRange(min=0), default=0.25, show_default=True,
              help="A boundary is a speaker change when another speaker starts/stops "
                   "within this many seconds.")
@click.option("--match-kind", is_flag=True, help="Match only boundaries of the same kind.")
@_JSON
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write an error histogram and per-file timelines (PNG) here.")
def boundaries(ref: Path, hyp: Path, uem: Path | None, tolerance: float, join_gap: float,
               change_gap: float, match_kind: bool, json_out: Path | None,
               plot_dir: Path | None) -> None:
    """Boundary errors of system RTTM(s) HYP against reference RTTM(s) REF."""
    references, hypotheses = load_rttms(ref), load_rttms(hyp)
    settings = BoundarySettings(tolerance, join_gap, change_gap, match_kind)
    report = analyze_boundaries(references, hypotheses, read_uem(uem) if uem else None,
                                settings)
    click.echo(boundary_text(report))
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(report.as_dict(), indent=1) + "\n")
    if plot_dir is not None:
        from diarefine.report.plots import plot_boundaries

        written = plot_boundaries(report, references, hypotheses, plot_dir)
        click.echo(f"{len(written)} pictures written to {plot_dir}")


@click.command("collar-sweep")
@click.argument("ref", type=click.Path(exists=True, path_type=Path))
@click.argument("hyp", type=click.Path(exists=True, path_type=Path))
@_UEM
@click.option("--collars", default=",".join(f"{c:g}" for c in DEFAULT_COLLARS),
              show_default=True, help="Collars (s, per side): 0,0.1,0.25 or START:STOP:STEP.")
@click.option("--skip-overlap", is_flag=True,
              help="Score only single-speaker reference time (md-eval -1).")
@_JSON
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the DER-against-collar curve (PNG) here.")
def collar_sweep_command(ref: Path, hyp: Path, uem: Path | None, collars: str,
                         skip_overlap: bool, json_out: Path | None,
                         plot_file: Path | None) -> None:
    """DER and its components at each collar, in one pass (equals score --collar c)."""
    report = sweep_collars(load_rttms(ref), load_rttms(hyp), read_uem(uem) if uem else None,
                          parse_collars(collars), skip_overlap)
    click.echo(sweep_text(report))
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(report.as_dict(), indent=1) + "\n")
    if plot_file is not None:
        from diarefine.report.plots import plot_collar_curve

        click.echo(f"curve written to {plot_collar_curve(report, plot_file)}")


collar_sweep = collar_sweep_command  # the name the command registry points to
