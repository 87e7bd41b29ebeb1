"""Text tables of the boundary analysis and of the collar sweep."""

from __future__ import annotations

import math

from diarefine.metrics.boundaries import BoundaryReport, BoundaryStats
from diarefine.metrics.boundary_zones import ZoneBreakdown
from diarefine.metrics.collar_sweep import CollarSweepReport
from diarefine.report.table import format_rows


def _cell(value: float, fmt: str = "{:.1f}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else fmt.format(value)


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
    return format_rows(header, rows, total=True)


def boundary_text(report: BoundaryReport) -> str:
    """The tables ``diarefine boundaries`` prints."""
    s = report.settings
    per_file = [_stats_row(uri, f.stats) for uri, f in sorted(report.files.items())]
    per_file.append(_stats_row("OVERALL", report.overall))
    split = [_stats_row(k, v) for k, v in {**report.by_kind, **report.by_direction}.items()]
    split.append(_stats_row("all", report.overall))
    return "\n\n".join([
        "Boundary errors per file (errors: system - reference; <=X: % of matched)\n"
        + format_rows(_stats_header(report.overall, "File"), per_file, total=True),
        "By kind (reference kind; spurious by system kind) and by direction\n"
        + format_rows(_stats_header(report.overall, "Group"), split, total=True),
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
    return (format_rows(header, rows, total=False) + f"\n{len(report.files)} files; "
            f"collar per side (md-eval -c); overlap {overlap}")
