"""``diarefine train-refiner CONFIG --train DATA.h5... --select DATA.h5... -o OUT``: one
refiner variant trained on the pipeline's real errors (:mod:`diarefine.train.loop`)."""

from __future__ import annotations

import json
from pathlib import Path

import click


class DataInput(click.ParamType):
    """An existing local file (a Path), or a file given by URI (a str)."""

    name = "FILE|URI"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> object:
        from diarefine.io.remote import is_uri

        if is_uri(str(value)):
            return str(value)
        return click.Path(exists=True, dir_okay=False, path_type=Path).convert(
            value, param, ctx)


@click.command("train-refiner")
@click.argument("config")
@click.option("--train", "train_files", multiple=True, type=DataInput(),
              help="refiner-data HDF5 file(s) or shard index(es) (FOLDER/index.json, also "
                   "by URI) to learn from (repeat the option).")
@click.option("--select", "select_files", multiple=True, required=True, type=DataInput(),
              help="refiner-data HDF5 file(s) or shard index(es) of the selection sets "
                   "(epoch, threshold).")
@click.option("--guard", "guard_sources", multiple=True, metavar="SOURCE",
              help="A source of the training data (an input set, e.g. ami-train) that the "
                   "activity edits must not make worse either (repeat the option).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Checkpoint to write (.safetensors, with a .json beside it).")
def train_refiner(config: str, train_files: tuple[Path | str, ...],
                  select_files: tuple[Path | str, ...], guard_sources: tuple[str, ...],
                  output: Path) -> None:
    """Train the refiner CONFIG (a variant name, e.g. mlp or transformer-activity, or a TOML
    file) and choose its abstention threshold (and, with an activity head, its activity
    edits) on the selection sets (no source of them, nor a --guard source, made worse by
    the edits); recordings and speakers must not be shared
    between the training and the selection files. CONFIG "shift" fits the constant-shift
    baseline on the selection files alone and writes a .json table."""
    from diarefine.errors import DiarefineError
    from diarefine.io.atomic import atomic_write_text
    from diarefine.train.dataset import read_refiner_data

    if config == "shift":
        from diarefine.train.baselines import fit_shift

        if output.suffix != ".json":
            raise click.BadParameter("the shift table must end in .json", param_hint="--output")
        table = fit_shift(read_refiner_data(select_files), log=lambda m: click.echo(m, err=True))
        atomic_write_text(output, table.to_json() + "\n")
        click.echo(f"{output}: {len(table.shifts)} shift(s)", err=True)
        return
    if not train_files:
        raise click.UsageError("--train is required for a learned refiner")
    from diarefine.models.refiners.checkpoint import save_refiner
    from diarefine.models.refiners.common import has_activity
    from diarefine.train.dataset import check_disjoint
    from diarefine.train.loop import (
        TrainConfig,
        choose_activity_settings,
        choose_threshold,
        source_draws,
    )
    from diarefine.train.loop import train_refiner as train

    if output.suffix != ".safetensors":
        raise click.BadParameter("must end in .safetensors", param_hint="--output")
    cfg = TrainConfig.load(config)
    train_data, select_data = read_refiner_data(train_files), read_refiner_data(select_files)
    # checked before training: an unknown source is refused now, not after it
    guard = train_data.of_sources(guard_sources) if guard_sources else None
    if cfg.source_weights:
        source_draws(train_data, cfg.source_weights)
    problems = check_disjoint(train_data, select_data)
    if problems:
        raise DiarefineError("training and selection data overlap: " + "; ".join(problems))
    click.echo(f"train: {len(train_data)} boundaries ({int(train_data.matched.sum())} matched) "
               f"of {len(train_data.recordings)} recordings; select: {len(select_data)}",
               err=True)
    model = train(cfg, train_data, select_data, log=lambda m: click.echo(m, err=True))
    threshold, curve = choose_threshold(model, select_data)
    for t, der in curve:
        click.echo(f"  abstain below {t:8.3f}: selection DER {der:.2f} %", err=True)
    activity = None
    if has_activity(model):
        settings, tried = choose_activity_settings(model, select_data, threshold, guard)
        for tried_settings, pooled, per_source in tried:
            sources = ", ".join(f"{k} {v:.2f}" for k, v in per_source.items())
            click.echo(f"  activity {tried_settings}: selection DER {pooled:.2f} % ({sources})",
                       err=True)
        activity = settings.to_dict()
        click.echo(f"activity edits: {activity if settings.active else 'none'}", err=True)
    provenance = {"train": [str(p) for p in train_files], "select": [str(p) for p in select_files],
                  "guard": list(guard_sources),
                  "train_recordings": len(train_data.recordings),
                  "train_boundaries": len(train_data), "config": cfg.__dict__,
                  "selection_curve": curve}
    save_refiner(model, cfg.variant, cfg.model, output, threshold, json.loads(
        json.dumps(provenance, default=str)), activity)
    click.echo(f"{output}: {cfg.variant}, abstain below {threshold:.3f}", err=True)
