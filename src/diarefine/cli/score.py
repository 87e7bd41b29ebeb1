"""``diarefine score REF HYP``: DER and friends, per file and overall."""

from __future__ import annotations

import json
from pathlib import Path

import click

from diarefine.io.atomic import atomic_write_text
from diarefine.io.rttm import load_rttms
from diarefine.io.uem import read_uem
from diarefine.metrics.score import ScoreSettings, score_corpus
from diarefine.report.table import score_table


@click.command()
@click.argument("ref", type=click.Path(exists=True, path_type=Path))
@click.argument("hyp", type=click.Path(exists=True, path_type=Path))
@click.option("--uem", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Scoring regions (UEM file). Default: md-eval's, first to last reference time.")
@click.option("--collar", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="No-score collar in seconds on EACH side of reference boundaries (md-eval -c).")
@click.option("--skip-overlap", is_flag=True,
              help="Score only single-speaker reference time (md-eval -1).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write {overall, files} as JSON (rates as fractions, times in seconds).")
def score(ref: Path, hyp: Path, uem: Path | None, collar: float, skip_overlap: bool,
          json_out: Path | None) -> None:
    """Score system RTTM(s) HYP against reference RTTM(s) REF (files or directories)."""
    report = score_corpus(load_rttms(ref), load_rttms(hyp), read_uem(uem) if uem else None,
                          ScoreSettings(collar=collar, skip_overlap=skip_overlap))
    click.echo(score_table(report))
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(report.as_dict(), indent=2) + "\n")
