"""``diarefine refiner-data INPUT... -o DATA.h5|FOLDER``: refiner training data from the
pipeline's own errors (:mod:`diarefine.train.refiner_data`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from diarefine.config import PipelineConfig
from diarefine.engines.options import OutputFolder, batch_jobs, engine_options

ONE_FILE = (".h5", ".hdf5")


@click.command("refiner-data")
@click.argument("inputs", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=OutputFolder(files=True),
              help="An HDF5 file to write (atomically), or a folder (or a URI: s3://..., "
                   "docs/ray.md) for one HDF5 shard per recording and index.json (any "
                   "--jobs or --engine; resumable).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="TOML file of the pipeline whose errors are learned.")
@click.option("--overwrite", is_flag=True, help="Redo the shards already in the folder.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@engine_options
def refiner_data(inputs: tuple[Path, ...], output: Path | str, config_path: Path | None,
                 overwrite: bool, quiet: bool, jobs: int | None, engine: str,
                 address: str | None) -> None:
    """Diarize every recording of INPUT (manifests, or folders written by `diarefine
    simulate`) and store each system boundary with its features and its real target.
    Train on a shard folder by giving train-refiner its FOLDER/index.json."""
    jobs = batch_jobs(engine, jobs, address)
    config = PipelineConfig.from_toml(config_path) if config_path else PipelineConfig()
    if not str(output).lower().endswith(ONE_FILE):
        _shards(inputs, output, config, quiet, overwrite, jobs=jobs, engine=engine,
                address=address)
        return
    if isinstance(output, str) or engine != "local" or jobs != 1:
        raise click.UsageError("one HDF5 file is written by one process, locally: give -o "
                               "a folder for shards (--jobs, --engine ray, a URI)")
    from diarefine.train.refiner_data import build_refiner_data

    def progress(uri: str, done: int, total: int) -> None:
        if not quiet:
            click.echo(f"[{done}/{total}] {uri}", err=True)

    count = build_refiner_data(inputs, output, config, progress)
    click.echo(f"{output}: {count} boundaries", err=True)
    if count == 0:
        sys.exit(1)


def _shards(inputs: tuple[Path, ...], folder: Path | str, config: PipelineConfig, quiet: bool,
            overwrite: bool, **engine: object) -> None:
    from diarefine.train.refiner_data import INDEX, build_refiner_shards

    done = [0]

    def on_item(uri: str, error: str | None) -> None:
        done[0] += 1
        if error is not None:
            click.echo(f"FAILED {uri}: {error}", err=True)
        elif not quiet:
            click.echo(f"[{done[0]}] {uri}", err=True)

    report, count = build_refiner_shards(inputs, folder, config, on_item, overwrite, **engine)
    click.echo(report.summary().replace("diarized", "made"), err=True)
    click.echo(f"{folder}/{INDEX}: {count} boundaries", err=True)
    if report.failed or count == 0:
        sys.exit(1)
