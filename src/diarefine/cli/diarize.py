"""``diarefine diarize INPUT... -o OUTDIR``: audio in, one RTTM per recording out."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click
from tqdm import tqdm

from diarefine.batch import Outputs, collect_inputs, run_batch, settings_digest
from diarefine.config import PipelineConfig, RefinerConfig
from diarefine.engines.options import OutputFolder, batch_jobs, engine_options


class _Progress:
    """One bar over files; the current file's stage progress shown as its postfix."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.bar = tqdm(total=total, unit="file", disable=quiet, file=sys.stderr,
                        dynamic_ncols=True)

    def hook(self, name: str, artifact: object) -> None:
        if name.startswith("progress/") and isinstance(artifact, tuple):
            done, total = artifact
            self.bar.set_postfix_str(f"{name.split('/', 1)[1]} {100 * done / max(total, 1):.0f}%")

    def item(self, uri: str, error: str | None) -> None:
        self.bar.update(1)
        if error is not None:
            self.bar.write(f"FAILED {uri}: {error}", file=sys.stderr)


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "outdir", required=True,
              type=OutputFolder(), help="Folder (or URI: s3://..., docs/ray.md) for "
                                        "<uri>.rttm.")
@click.option("--num-speakers", type=click.IntRange(min=1), help="Exact number of speakers.")
@click.option("--min-speakers", type=click.IntRange(min=1), help="At least this many.")
@click.option("--max-speakers", type=click.IntRange(min=1), help="At most this many.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N].")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="TOML file overriding the tuned defaults.")
@click.option("--refiner", default=None,
              help="Boundary refiner: none, shift, mlp, transformer, diffusion, contrastive, "
                   "transformer-activity, or a checkpoint/table path [default: the config's, "
                   "else transformer-activity].")
@click.option("--exclusive", is_flag=True,
              help="Also write OUTDIR/<uri>.exclusive.rttm (one speaker at a time).")
@click.option("--embeddings", is_flag=True,
              help="Also write OUTDIR/<uri>.embeddings.npz (each speaker's centroid).")
@click.option("--confidence", is_flag=True,
              help="Also write OUTDIR/<uri>.turns.json: each turn with its confidence (the "
                   "mean activation of its speaker over the turn, 0-1).")
@click.option("--overwrite", is_flag=True, help="Redo recordings whose RTTM already exists.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@engine_options
def diarize(inputs: tuple[str, ...], outdir: Path | str, num_speakers: int | None,
            min_speakers: int | None, max_speakers: int | None, device: str,
            config_path: Path | None, refiner: str | None, exclusive: bool, embeddings: bool,
            confidence: bool, overwrite: bool, quiet: bool, jobs: int | None, engine: str,
            address: str | None) -> None:
    """Diarize audio files, folders of audio, or Kaldi wav.scp lists into OUTDIR/<uri>.rttm.

    Finished recordings are skipped on a rerun (unless --overwrite); a recording that fails
    is reported and the others go on; the exit status is 1 if any failed.
    """
    from diarefine.runner import PipelineRunner
    from diarefine.stages.pipeline import check_device
    from diarefine.stages.refinement import build_refiner

    jobs = batch_jobs(engine, jobs, address)
    if engine == "local" or not device.startswith("cuda"):
        check_device(device)  # on Ray the workers' GPUs count, not the driver's
    check_speaker_counts(num_speakers, min_speakers, max_speakers)
    config = PipelineConfig.from_toml(config_path) if config_path else PipelineConfig()
    if refiner is not None:
        config = config.replace(refiner=RefinerConfig(refiner, config.refiner.abstain))
    build_refiner(config.refiner.name, config.refiner.abstain)  # a bad name fails here
    items = collect_inputs(inputs)
    progress = _Progress(len(items), quiet)
    factory = functools.partial(
        PipelineRunner, config, device, num_speakers, min_speakers, max_speakers,
        progress.hook if jobs == 1 and engine == "local" else _no_hook)
    outputs = Outputs(exclusive, embeddings, settings_digest(
        config, speakers=[num_speakers, min_speakers, max_speakers]), confidence)
    report = run_batch(items, outdir, factory, overwrite, jobs, progress.item, outputs,
                       engine=engine, address=address, device=device)
    progress.bar.close()
    click.echo(report.summary(), err=True)
    if report.failed:
        sys.exit(1)


def check_speaker_counts(num: int | None, low: int | None, high: int | None) -> None:
    """The speaker-count options together, before any file is read."""
    if num is not None and ((low is not None and low != num) or
                            (high is not None and high != num)):
        raise click.UsageError(f"--num-speakers {num} contradicts --min-speakers/--max-speakers "
                               f"({low}, {high}): give one or the other")
    if low is not None and high is not None and low > high:
        raise click.UsageError(f"--min-speakers {low} is above --max-speakers {high}")


def _no_hook(name: str, artifact: object) -> None:
    """Worker processes do not report stage progress."""
