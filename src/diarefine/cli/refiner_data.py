"""``diarefine refiner-data INPUT... -o DATA.h5``: refiner training data from the pipeline's
own errors (:mod:`diarefine.train.refiner_data`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from diarefine.config import PipelineConfig


@click.command("refiner-data")
@click.argument("inputs", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="HDF5 file to write (atomically).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="TOML file of the pipeline whose errors are learned.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
def refiner_data(inputs: tuple[Path, ...], output: Path, config_path: Path | None,
                 quiet: bool) -> None:
    """Diarize every recording of INPUT (manifests, or folders written by `diarefine
    simulate`) and store each system boundary with its features and its real target."""
    from diarefine.train.refiner_data import build_refiner_data

    config = PipelineConfig.from_toml(config_path) if config_path else PipelineConfig()

    def progress(uri: str, done: int, total: int) -> None:
        if not quiet:
            click.echo(f"[{done}/{total}] {uri}", err=True)

    count = build_refiner_data(inputs, output, config, progress)
    click.echo(f"{output}: {count} boundaries", err=True)
    if count == 0:
        sys.exit(1)
