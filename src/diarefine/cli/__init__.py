"""The ``diarefine`` command: thin click commands over importable library functions.

Subcommands are imported only when run, so ``diarefine score`` never imports torch.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import click

from diarefine import __version__
from diarefine.errors import DiarefineError

#: command name -> "module:function" of its click command
COMMANDS = {
    "score": "diarefine.cli.score:score",
    "diarize": "diarefine.cli.diarize:diarize",
    "simulate": "diarefine.cli.simulate:simulate",
    "prepare": "diarefine.cli.prepare:prepare",
    "boundaries": "diarefine.cli.boundaries:boundaries",
    "collar-sweep": "diarefine.cli.boundaries:collar_sweep",
    "refiner-data": "diarefine.cli.refiner_data:refiner_data",
    "train-refiner": "diarefine.cli.train_refiner:train_refiner",
    "refine": "diarefine.cli.refine:refine",
    "benchmark": "diarefine.cli.benchmark:benchmark",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # command not built yet
                return None
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None:
                rows.append((name, command.get_short_help_str(limit=70)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    click.echo(f"warning: {message}", err=True)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="diarefine")
def cli() -> None:
    """Speaker diarization with honest boundary measurement."""


def main() -> None:
    """Entry point: bad input ends with a one-line reason and exit status 2."""
    warnings.showwarning = _show_warning
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (DiarefineError, OSError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
