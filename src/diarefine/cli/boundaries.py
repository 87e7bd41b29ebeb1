"""``diarefine boundaries`` and ``diarefine collar-sweep``: where the error sits.

Thin commands over :func:`diarefine.metrics.boundaries.analyze_boundaries` and
:func:`diarefine.metrics.collar_sweep.collar_sweep`; the tables are built in
:mod:`diarefine.report.boundary_tables`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from diarefine.io.atomic import atomic_write_text
from diarefine.io.rttm import load_rttms
from diarefine.io.uem import read_uem
from diarefine.metrics.boundaries import BoundarySettings, analyze_boundaries
from diarefine.metrics.collar_sweep import DEFAULT_COLLARS
from diarefine.metrics.collar_sweep import collar_sweep as sweep_collars
from diarefine.report.boundary_tables import boundary_text, sweep_text

_UEM = click.option("--uem", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                    help="Scoring regions (UEM file). Default: md-eval's, first to last "
                         "reference time.")
_JSON = click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
                     help="Also write the full result as JSON (NaN as null).")


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
