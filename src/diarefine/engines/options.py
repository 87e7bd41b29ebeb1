"""The batch commands' shared options: ``--jobs``, ``--engine``, ``--address``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from diarefine.engines import ENGINES

F = TypeVar("F", bound=Callable)


def engine_options(command: F) -> F:
    """Add ``--jobs``, ``--engine`` and ``--address`` (keyword arguments ``jobs``,
    ``engine``, ``address``) to a click command; see `batch_jobs` for ``jobs``."""
    options = [
        click.option("--jobs", type=click.IntRange(min=1), default=None,
                     help="Recordings run in parallel: worker processes here [default: 1], "
                          "or the CPUs of the Ray started here [default: all]."),
        click.option("--engine", type=click.Choice(ENGINES), default="local",
                     show_default=True, help="local: this machine; ray: a Ray cluster, "
                     "one worker per CPU (per GPU with --device cuda); docs/ray.md."),
        click.option("--address", default=None, metavar="ADDR",
                     help="The Ray cluster to join (host:port, auto, ray://...) "
                          "[default: start Ray on this machine]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def batch_jobs(engine: str, jobs: int | None, address: str | None) -> int | None:
    """``jobs`` for `diarefine.batch.run_batch`: 1 by default on the local engine, every
    CPU on a Ray started here; refused with ``--address`` (the cluster has its own)."""
    if address is not None and engine != "ray":
        raise click.UsageError("--address is for --engine ray")
    if address is not None and jobs is not None:
        raise click.UsageError("--jobs sizes a Ray started here: with --address the "
                               "cluster's CPUs set the number of workers")
    if jobs is None and engine == "local":
        return 1
    return jobs


class OutputFolder(click.ParamType):
    """A local folder (a Path) or a folder given by URI (a str: ``s3://bucket/run``;
    `diarefine.io.remote`), where the batch commands write."""

    name = "FOLDER|URI"

    def __init__(self, files: bool = False) -> None:
        self.files = files  # a local file is accepted too

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> object:
        from pathlib import Path

        from diarefine.io.remote import is_uri

        if isinstance(value, Path) or not is_uri(str(value)):
            path = Path(str(value))
            if not self.files and path.exists() and not path.is_dir():
                self.fail(f"{path} is a file, not a folder", param, ctx)
            return path
        return str(value)
