"""``diarefine score REF HYP``: DER and friends, per file and overall."""

from __future__ import annotations

import json
from pathlib import Path

import click

from diarefine.io.atomic import atomic_write_text
from diarefine.io.rttm import load_rttms
from diarefine.io.uem import read_uem
from diarefine.metrics.bootstrap import bootstrap_der, bootstrap_difference, file_errors
from diarefine.metrics.score import ScoreSettings, score_corpus
from diarefine.metrics.speaker_count import corpus_breakdown, count_text
from diarefine.report.table import score_table


def references_of_manifest(path: Path) -> tuple[dict, dict | None]:
    """References and scoring regions of a manifest's recordings (those with an RTTM)."""
    from diarefine.data.manifest import load_references, load_scoring_regions, read_manifest
    from diarefine.errors import DiarefineError

    recordings = [rec for rec in read_manifest(path) if rec.rttm is not None]
    if not recordings:
        raise DiarefineError(f"{path}: no recording with a reference RTTM")
    regions = {uri: region for uri, region in load_scoring_regions(recordings).items()
               if region is not None}
    return load_references(recordings), regions or None


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
@click.option("--by-count", is_flag=True,
              help="Also break the DER down by the number of reference speakers talking at "
                   "once (and the time with each number of system speakers).")
@click.option("--bootstrap", is_flag=True,
              help="Also a 95 % bootstrap interval over the files of the overall DER.")
@click.option("--compare", type=click.Path(exists=True, path_type=Path),
              help="Another system's RTTM(s): the DER difference HYP - COMPARE, with a 95 % "
                   "paired bootstrap interval over the files.")
def score(ref: Path, hyp: Path, uem: Path | None, collar: float, skip_overlap: bool,
          json_out: Path | None, by_count: bool, bootstrap: bool, compare: Path | None
          ) -> None:
    """Score system RTTM(s) HYP against reference RTTM(s) REF (files or directories). REF
    may also be a JSONL manifest of `diarefine prepare`: its recordings' RTTMs are the
    references and their UEMs the scoring regions (unless --uem is given)."""
    if ref.suffix == ".jsonl":
        refs, manifest_uems = references_of_manifest(ref)
    else:
        refs, manifest_uems = load_rttms(ref), None
    hyps = load_rttms(hyp)
    uems = read_uem(uem) if uem else manifest_uems
    settings = ScoreSettings(collar=collar, skip_overlap=skip_overlap)
    report = score_corpus(refs, hyps, uems, settings)
    click.echo(score_table(report))
    out = report.as_dict()
    if by_count:
        breakdown = corpus_breakdown(refs, hyps, uems, settings)
        click.echo("\n" + count_text(breakdown))
        out["by_count"] = breakdown.as_dict()
    if bootstrap:
        got = bootstrap_der(*file_errors(report))
        click.echo(f"\nDER {got}, resampling the {len(report.files)} files")
        out["der_interval"] = got.as_dict()
    if compare is not None:
        other = score_corpus(refs, load_rttms(compare), uems, settings)
        # both scored on the same references, so the same files in the same order
        errors, scored = file_errors(report)
        got = bootstrap_difference(errors, file_errors(other)[0], scored)
        click.echo(f"\nDER of {hyp} minus that of {compare}: {100 * got.value:+.2f} points, "
                   f"95 % paired bootstrap interval {100 * got.low:+.2f} to "
                   f"{100 * got.high:+.2f} ({got.draws} resamples of the "
                   f"{len(report.files)} files)")
        out["der_difference"] = got.as_dict()
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(out, indent=2) + "\n")
