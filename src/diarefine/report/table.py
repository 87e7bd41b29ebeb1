"""Plain-text tables of scores: rates in percent, times in seconds."""

from __future__ import annotations

from collections.abc import Sequence

from diarefine.metrics.score import ScoreReport, Scores, with_rates

COLUMNS = (
    ("DER%", "der", 100.0), ("Miss%", "miss_rate", 100.0), ("FA%", "false_alarm_rate", 100.0),
    ("Conf%", "confusion_rate", 100.0), ("Scored s", "scored", 1.0), ("Miss s", "miss", 1.0),
    ("FA s", "false_alarm", 1.0), ("Conf s", "confusion", 1.0), ("JER%", "jer", 100.0),
    ("B3-P", "b3_precision", 1.0), ("B3-R", "b3_recall", 1.0), ("B3-F1", "b3_f1", 1.0),
    ("MI", "mi", 1.0), ("NMI", "nmi", 1.0),
)


def _row(name: str, scores: Scores) -> list[str]:
    values = with_rates(scores.as_dict())
    cells = [name]
    for _, key, scale in COLUMNS:
        value = values[key]
        cells.append("-" if value is None else f"{value * scale:.2f}")
    return cells


def format_rows(header: Sequence[str], rows: Sequence[Sequence[str]],
                total: bool = True) -> str:
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


def score_table(report: ScoreReport) -> str:
    header = ["File", *(name for name, _, _ in COLUMNS)]
    rows = [_row(uri, f.scores) for uri, f in sorted(report.files.items())]
    rows.append(_row("OVERALL", report.overall))
    s = report.settings
    footer = (f"collar {s.collar:g} s per side, overlap {'skipped' if s.skip_overlap else 'scored'}"
              f"; JER/B3/MI/NMI on {s.step * 1000:g} ms frames without collar")
    return format_rows(header, rows) + "\n" + footer
