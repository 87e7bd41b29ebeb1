"""``diarefine benchmark MANIFEST... -o OUTDIR``: diarize a corpus, score it, report it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from diarefine.config import PipelineConfig, RefinerConfig
from diarefine.engines.options import OutputFolder, batch_jobs, engine_options
from diarefine.metrics.score import ScoreSettings


def summary_text(report: dict) -> str:
    """The protocol, then the overall figures, as a paper's benchmark table states them."""
    from diarefine.bench.protocol import protocol_text

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.2f}"

    o, run = report["overall"], report["run"]
    lines = [protocol_text(report["protocol"]), ""]
    lines.append(f"{'system':<24}{'DER %':>8}{'95 % interval':>16}{'miss':>7}{'FA':>7}"
                 f"{'conf':>7}{'JER %':>8}")

    def row(name: str, s: dict) -> str:
        ci = s.get("der_interval")
        interval = f"{pct(ci['low'])}-{pct(ci['high'])}" if ci else "-"
        interval = f" {interval}"
        return (f"{name:<24}{pct(s['der']):>8}{interval:>16}{pct(s['miss_rate']):>7}"
                f"{pct(s['false_alarm_rate']):>7}{pct(s['confusion_rate']):>7}{pct(s['jer']):>8}")

    lines.append(row("this run", o))
    if "refinement" in report:
        lines.append(row("before refinement", report["refinement"]["unrefined"]))
    if report.get("oracle"):
        lines.append(row("oracle (moved bounds)", report["oracle"]))
    if report.get("oracle_activity"):
        lines.append(row("oracle (±1 s activity)", report["oracle_activity"]))
    d = report.get("refinement", {}).get("refined_minus_unrefined")
    if d:
        lines.append(f"refined - unrefined: {100 * d['value']:+.2f} points "
                     f"[{100 * d['low']:+.2f}, {100 * d['high']:+.2f}] (95 % paired bootstrap)")
    if "against" in report:
        a, d = report["against"], report["against"]["difference"]
        lines.append(f"this run - {a['other']}: {pct(a['der'])} vs {pct(a['der_other'])} % on "
                     f"{a['files']} recordings" + (
                         f", {100 * d['value']:+.2f} points [{100 * d['low']:+.2f}, "
                         f"{100 * d['high']:+.2f}] (95 % paired bootstrap)" if d else ""))
    s = report["speed"]
    if s["rtf"] is not None:
        lines.append(f"speed: real-time factor {s['rtf']:.4f} over {s['audio_seconds'] / 3600:.2f}"
                     f" h of audio ({s['audio_hours_per_hour']:.0f} audio hours per hour)")
    lines.append(f"{run['scored']} of {run['recordings']} recordings scored"
                 + (f"; {len(run['failed'])} not diarized" if run["failed"] else ""))
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines)


@click.command()
@click.argument("manifests", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", "outdir", required=True,
              type=OutputFolder(), help="Folder (or URI: s3://..., docs/ray.md) for "
              "rttm/<uri>.rttm, report.json and report.html.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="TOML file overriding the tuned defaults.")
@click.option("--refiner", default=None,
              help="none, shift, mlp, transformer, diffusion, contrastive, "
                   "transformer-activity, or a checkpoint/table path [default: the config's, "
                   "else transformer-activity]. With a refiner the report also scores the "
                   "output before refinement, paired.")
@click.option("--collar", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="No-score collar in seconds on EACH side of reference boundaries (md-eval -c).")
@click.option("--skip-overlap", is_flag=True,
              help="Score only single-speaker reference time (md-eval -1).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N].")
@click.option("--against", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Another benchmark's OUTDIR: compare the two runs file by file, with the "
                   "paired bootstrap interval of the DER difference.")
@click.option("--worst", type=click.IntRange(min=0), default=5, show_default=True,
              help="Recordings with a timeline (and audio player) in the page, worst DER first.")
@click.option("--report-audio", type=click.Choice(["embed", "link", "none"]), default="embed",
              show_default=True, help="The worst recordings' audio in the page: embedded "
              "(Ogg Opus), linked to the audio files, or left out.")
@click.option("--overwrite", is_flag=True, help="Diarize again recordings already done.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@engine_options
def benchmark(manifests: tuple[Path, ...], outdir: Path | str, config_path: Path | None,
              refiner: str | None, collar: float, skip_overlap: bool, device: str,
              against: Path | None, worst: int, report_audio: str, overwrite: bool,
              quiet: bool, jobs: int | None, engine: str, address: str | None) -> None:
    """Diarize every recording of the JSONL MANIFESTs (of `diarefine prepare`, or a folder
    written by `diarefine simulate`), score them against their references within their
    UEMs, and write OUTDIR/report.json (every figure and the protocol) and
    OUTDIR/report.html.

    Resumable: a rerun reuses the recordings already diarized with the same settings.
    A recording that fails is reported and left out of the scores; the exit status is 1.
    """
    from tqdm import tqdm

    from diarefine.bench import BenchmarkOptions, run_benchmark
    from diarefine.stages.pipeline import check_device
    from diarefine.stages.refinement import build_refiner

    jobs = batch_jobs(engine, jobs, address)
    if engine == "local":
        check_device(device)  # on Ray the workers' devices count, not this machine's
    config = PipelineConfig.from_toml(config_path) if config_path else PipelineConfig()
    if refiner is not None:
        config = config.replace(refiner=RefinerConfig(refiner, config.refiner.abstain))
    build_refiner(config.refiner.name, config.refiner.abstain)  # a bad name fails here
    options = BenchmarkOptions(config, ScoreSettings(collar, skip_overlap), jobs, device,
                               worst, report_audio, overwrite, against, engine, address)
    bar = tqdm(unit="file", disable=quiet, file=sys.stderr, dynamic_ncols=True)

    def item(uri: str, error: str | None) -> None:
        bar.update(1)
        if error is not None:
            bar.write(f"FAILED {uri}: {error}", file=sys.stderr)

    report = run_benchmark(list(manifests), outdir, options, item)
    bar.close()
    click.echo(summary_text(report))
    click.echo(f"\n{outdir}/report.json\n{outdir}/report.html")
    if report["run"]["failed"]:
        sys.exit(1)
