"""``diarefine refine AUDIO... --rttm HYP -o OUTDIR``: refine the boundaries of any
system's RTTM (:mod:`diarefine.stages.refinement.external`)."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from diarefine.batch import collect_inputs, run_batch
from diarefine.config import PipelineConfig, RefinerConfig
from diarefine.engines.options import OutputFolder, batch_jobs, engine_options


@dataclass
class _Refined:
    diarization: object


class RefineRunner:
    """(uri, audio) -> the RTTM's turns of uri, refined. Built once per worker."""

    def __init__(self, config: PipelineConfig, hypotheses: dict, device: str) -> None:
        from diarefine.stages.pipeline import DiarizationPipeline

        self.pipeline = DiarizationPipeline.from_pretrained(config, device)
        self.hypotheses = hypotheses

    def __call__(self, uri: str, audio: Path) -> _Refined:
        from diarefine.errors import DiarefineError
        from diarefine.io.audio import SAMPLE_RATE, load_audio
        from diarefine.stages.refinement.external import rttm_context

        if uri not in self.hypotheses:
            raise DiarefineError(f"the RTTM has no turns for {uri!r}")
        hypothesis = self.hypotheses[uri]
        refiner = self.pipeline.refiner
        if not hypothesis.turns or refiner.name == "none":
            return _Refined(hypothesis)
        waveform = load_audio(audio, SAMPLE_RATE)
        if len(waveform) < SAMPLE_RATE // 2:
            raise DiarefineError(f"{audio}: shorter than 0.5 s")
        context = rttm_context(self.pipeline, waveform, hypothesis) \
            if refiner.needs_context else None
        return _Refined(refiner(hypothesis, context))


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--rttm", "rttm", required=True, type=click.Path(exists=True, path_type=Path),
              help="The system output: an RTTM file or a folder of *.rttm.")
@click.option("-o", "--output", "outdir", required=True,
              type=OutputFolder(), help="Folder (or URI: s3://..., docs/ray.md) for "
                                        "<uri>.rttm.")
@click.option("--refiner", default=None, help="none, shift, mlp, transformer, diffusion, "
              "contrastive, transformer-activity, or a checkpoint/table path [default: the "
              "config's, else transformer-activity].")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="TOML file (models, reassignment, [refiner]).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--overwrite", is_flag=True, help="Redo recordings whose output exists.")
@engine_options
def refine(inputs: tuple[str, ...], rttm: Path, outdir: Path | str, refiner: str | None,
           config_path: Path | None, device: str, overwrite: bool, jobs: int | None,
           engine: str, address: str | None) -> None:
    """Refine the turn boundaries of another system's RTTM for each AUDIO file (files,
    folders or wav.scp; uri = file stem) into OUTDIR/<uri>.rttm, computing the features
    and speaker centroids from the audio and the RTTM's own turns."""
    from diarefine.io.rttm import load_rttms
    from diarefine.stages.refinement import build_refiner

    jobs = batch_jobs(engine, jobs, address)
    config = PipelineConfig.from_toml(config_path) if config_path else PipelineConfig()
    if refiner is not None:
        config = config.replace(refiner=RefinerConfig(refiner, config.refiner.abstain))
    build_refiner(config.refiner.name, config.refiner.abstain)  # a bad name fails here
    hypotheses = load_rttms(rttm)
    items = collect_inputs(inputs)
    report = run_batch(items, outdir, functools.partial(RefineRunner, config, hypotheses,
                                                        device),
                       overwrite, jobs, lambda uri, err: click.echo(
                           f"FAILED {uri}: {err}" if err else f"refined {uri}", err=True),
                       engine=engine, address=address, device=device)
    click.echo(report.summary().replace("diarized", "refined"), err=True)
    if report.failed:
        sys.exit(1)
