"""Self-describing refiner checkpoints: safetensors weights whose metadata hold the format,
the variant, its constructor arguments, the window it reads, the abstention threshold and
(a model with an activity head) the activity edits' settings; beside them a JSON file of
the same plus the training data's provenance. Loading never unpickles."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import torch

from diarefine.errors import DiarefineError
from diarefine.models.refiners import VARIANTS
from diarefine.models.refiners.common import WindowSpec

FORMAT = "diarefine-refiner/1"


class CheckpointError(DiarefineError):
    """A refiner checkpoint that cannot be read or does not fit its module."""


class LoadedRefiner(NamedTuple):
    model: torch.nn.Module
    variant: str
    abstain: float
    spec: WindowSpec
    #: the activity edits' settings (`ActivitySettings` fields), None without them
    activity: dict[str, float] | None


def save_refiner(model: torch.nn.Module, variant: str, arguments: dict[str, Any],
                 path: str | Path, abstain: float, provenance: dict[str, Any],
                 activity: dict[str, float] | None = None) -> None:
    """Write ``path`` (.safetensors) and ``path`` with suffix .json, atomically."""
    from safetensors.torch import save

    from diarefine.io.atomic import atomic_open, atomic_write_text

    path = Path(path)
    spec = model.spec  # type: ignore[attr-defined]
    meta = {"format": FORMAT, "variant": variant, "arguments": json.dumps(arguments),
            "window": json.dumps(asdict(spec)), "abstain": repr(float(abstain))}
    if activity is not None:
        meta["activity"] = json.dumps(activity)
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    with atomic_open(path, "wb") as handle:
        handle.write(save(state, metadata=meta))
    atomic_write_text(path.with_suffix(".json"), json.dumps(
        {**{k: v for k, v in meta.items() if k not in ("arguments", "window", "activity")},
         "arguments": arguments, "window": asdict(spec), "abstain": float(abstain),
         **({"activity": activity} if activity is not None else {}),
         "provenance": provenance}, indent=1) + "\n")


def load_refiner(path: str | Path) -> LoadedRefiner:
    """The module (in eval mode), variant, abstention threshold, window and activity
    settings of a checkpoint."""
    from diarefine.models.pretrained import read_safetensors

    meta, state = read_safetensors(Path(path), "refiner checkpoint", CheckpointError)
    if meta.get("format") != FORMAT or meta.get("variant") not in VARIANTS:
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint of one of {sorted(VARIANTS)}")
    try:
        spec = WindowSpec(**json.loads(meta["window"]))
        model = VARIANTS[meta["variant"]](spec=spec, **json.loads(meta["arguments"]))
        model.load_state_dict(state, strict=True)
        activity = json.loads(meta["activity"]) if "activity" in meta else None
        if activity is not None and not (isinstance(activity, dict) and all(
                isinstance(v, (int, float)) for v in activity.values())):
            raise ValueError("activity settings must map names to numbers")
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: does not fit its {meta.get('variant')} module "
                              f"({' '.join(str(exc).split())[:300]})") from None
    return LoadedRefiner(model.eval(), meta["variant"], float(meta["abstain"]), spec, activity)
