"""The one training loop of every refiner variant (PyTorch Lightning), then the choice of
its abstention threshold on the selection sets.

    model = train_refiner(config, train_data, select_data)

Each epoch the model is scored on the selection set (mean absolute error of the matched
boundaries' corrections); the weights of the best epoch are kept. The threshold is then
chosen on the selection set by DER at collar 0 of the refined outputs
(`choose_threshold`), and for a model with an activity head the activity edits' settings
(`choose_activity_settings`). Nothing here reads a held-out set.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import numpy as np
import torch

from diarefine.errors import DiarefineError
from diarefine.models.refiners import VARIANTS, WindowSpec
from diarefine.models.refiners.common import has_activity, predict_with_activity
from diarefine.models.refiners.common import predict as predict_windows
from diarefine.stages.refinement.activity import ActivitySettings
from diarefine.train.dataset import RefinerData
from diarefine.train.evaluate import der_by_source, der_of, refined_outputs
from diarefine.train.losses import LOSSES

CONFIGS = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class TrainConfig:
    variant: str
    model: dict[str, Any] = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    #: with an activity head: the loss weight of the frames the output misses (the
    #: reference speaker speaks, the output is silent) against 1 for the others
    activity_missed_weight: float = 1.0
    #: each boundary of these sources (refiner-data input sets, e.g. "ami-train") is
    #: drawn this many times per epoch instead of once
    source_weights: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, name_or_path: str | Path) -> TrainConfig:
        """A variant's shipped config by name ("mlp") or a TOML file."""
        path = Path(name_or_path)
        if not path.suffix:
            path = CONFIGS / f"{name_or_path}.toml"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DiarefineError(f"{path}: cannot read the refiner config ({exc})") from None
        if data.get("variant") not in VARIANTS:
            raise DiarefineError(f"{path}: variant must be one of {sorted(VARIANTS)}")
        train = data.get("train", {})
        unknown = set(train) - {"epochs", "batch_size", "lr", "weight_decay", "seed",
                                "activity_missed_weight", "source_weights"}
        if unknown:
            raise DiarefineError(f"{path}: [train] unknown key(s) {sorted(unknown)}")
        model = dict(data.get("model", {}))
        import inspect

        declared = set(inspect.signature(VARIANTS[data["variant"]]).parameters) - {"spec"}
        if set(model) - declared:
            raise DiarefineError(f"{path}: [model] unknown key(s) {sorted(set(model) - declared)} "
                                 f"for {data['variant']}; its parameters: {sorted(declared)}")
        bad = [k for k, v in train.items() if k != "source_weights" and (
               not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0 and k != "seed")]
        if bad:
            raise DiarefineError(f"{path}: [train] {bad[0]} must be a positive number, got "
                                 f"{train[bad[0]]!r}")
        weights = train.get("source_weights", {})
        if not isinstance(weights, dict) or any(
                type(v) is not int or v < 1 for v in weights.values()):
            raise DiarefineError(f"{path}: [train] source_weights must map source names to "
                                 f"whole numbers >= 1, got {weights!r}")
        return cls(data["variant"], model, **train)


def tensors(data: RefinerData, activity: bool = False, missed_weight: float = 1.0
            ) -> tuple[torch.Tensor, ...]:
    """The training batches' columns (`diarefine.train.losses`); with ``activity`` the
    activity head's targets and their mask, or with ``missed_weight`` other than 1 frame
    weights (0 outside the mask, ``missed_weight`` where the output misses speech, 1
    elsewhere: `activity_weights`)."""
    out = (torch.from_numpy(data.frames), torch.from_numpy(data.static),
           torch.from_numpy(data.offset), torch.from_numpy(data.matched))
    if not activity:
        return out
    from diarefine.train.activity import activity_targets, activity_weights

    target, mask = activity_targets(data, data.frames.shape[1])
    if missed_weight == 1.0:  # the plain masked mean
        return (*out, torch.from_numpy(target), torch.from_numpy(mask))
    weights = activity_weights(data, target, mask, missed_weight)
    return (*out, torch.from_numpy(target), torch.from_numpy(weights))


def source_draws(data: RefinerData, weights: dict[str, int]) -> np.ndarray:
    """The rows of one epoch: each boundary once, those of a source in ``weights`` that
    many times (an unknown source is refused)."""
    unknown = sorted(set(weights) - set(data.sources))
    if unknown:
        raise DiarefineError(f"[train] source_weights: no source {unknown} in the training "
                             f"data; its sources: {list(data.sources)}")
    per_recording = np.array([weights.get(r.source, 1) for r in data.recordings])
    return np.repeat(np.arange(len(data)), per_recording[data.recording])


def build_model(config: TrainConfig, data: RefinerData) -> torch.nn.Module:
    spec = WindowSpec(data.frames.shape[1], data.frames.shape[2], 0.02, data.static.shape[1])
    return VARIANTS[config.variant](spec=spec, **config.model)


def predict(model: torch.nn.Module, data: RefinerData, batch: int = 512
            ) -> tuple[np.ndarray, np.ndarray]:
    """(corrections (n,) in seconds, confidences (n,)) in eval mode."""
    return predict_windows(model, data.frames, data.static, batch)


def selection_mae(model: torch.nn.Module, data: RefinerData) -> float:
    offset, _ = predict(model, data)
    rows = data.matched
    return float(np.mean(np.abs(data.offset[rows] - offset[rows]))) if rows.any() else 0.0


def train_refiner(config: TrainConfig, train: RefinerData, select: RefinerData,
                  log: Any = print) -> torch.nn.Module:
    """Train ``config.variant`` on ``train``; the weights of the epoch with the lowest
    selection-set MAE are returned (eval mode)."""
    import logging

    import lightning as L

    # Lightning's start-up banner (accelerators, tips) is not this command's output
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    L.seed_everything(config.seed, workers=True, verbose=False)
    model = build_model(config, train)
    task = _Task(model, config)
    columns = tensors(train, has_activity(model), config.activity_missed_weight)
    if config.source_weights:
        draws = torch.from_numpy(source_draws(train, config.source_weights))
        columns = tuple(c[draws] for c in columns)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(*columns),
        batch_size=config.batch_size,
        shuffle=True, generator=torch.Generator().manual_seed(config.seed))
    keeper = _KeepBest(select, log)
    trainer = L.Trainer(max_epochs=config.epochs, accelerator="cpu", devices=1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, deterministic=True, callbacks=[keeper])
    trainer.fit(task, loader)
    model.load_state_dict(keeper.best_state)
    log(f"best epoch {keeper.best_epoch}: selection MAE {1000 * keeper.best:.1f} ms")
    return model.eval()


def below(values: np.ndarray, threshold: float) -> float:
    """A threshold that the same ``values`` pass (``>=``) as ``threshold``, halfway to the
    next lower value (1 below the lowest when none is lower)."""
    lower = values[values < threshold]
    return float((threshold + lower.max()) / 2) if lower.size else threshold - 1.0


def choose_threshold(model: torch.nn.Module, select: RefinerData,
                     quantiles: int = 20) -> tuple[float, list[tuple[float, float]]]:
    """The abstention threshold with the lowest selection-set DER (collar 0) among the
    confidence quantiles (and +inf: abstain always); ties go to the higher threshold.
    Each quantile is moved halfway down to the next lower selection confidence
    (`below`): the same boundaries pass it, and no selection boundary sits exactly on the
    threshold, where rounding differences between two batchings would flip it.
    Returns it and the (threshold, DER) curve."""
    offset, confidence = predict(model, select)
    candidates = sorted({below(confidence, float(np.quantile(confidence, q)))
                         for q in np.linspace(0, 1, quantiles, endpoint=False)})
    curve = []
    for threshold in [*candidates, float("inf")]:
        moves = np.where(confidence >= threshold, offset, np.nan)
        curve.append((threshold, der_of(select, refined_outputs(select, moves))))
    best = min(curve, key=lambda c: (round(c[1], 6), -c[0]))
    return best[0], curve


def choose_activity_settings(model: torch.nn.Module, select: RefinerData, abstain: float,
                             guard: RefinerData | None = None
                             ) -> tuple[ActivitySettings, list]:
    """The activity edits' settings (`diarefine.train.activity.choose_activity`) on top
    of the boundary moves made with the abstention threshold ``abstain``: ranked by the
    pooled DER of ``select``; no source of ``select`` nor of ``guard`` may get worse."""
    from diarefine.train.activity import choose_activity

    sets = [select] if guard is None else [select, guard]
    if guard is not None and set(guard.sources) & set(select.sources):
        raise DiarefineError(f"guard source(s) {sorted(set(guard.sources) & set(select.sources))}"
                             " are selection sources already")
    predicted = []
    for data in sets:
        offset, confidence, probs = predict_with_activity(model, data.frames, data.static)
        predicted.append((np.where(confidence >= abstain, offset, np.nan), probs))

    def score(settings: ActivitySettings) -> tuple[float, dict[str, float]]:
        pooled, per_source = 0.0, {}
        for k, (data, (moves, probs)) in enumerate(zip(sets, predicted)):
            der, parts = der_by_source(
                data, refined_outputs(data, moves, activity=(probs, settings)))
            pooled = der if k == 0 else pooled
            per_source.update(parts)
        return pooled, per_source

    return choose_activity(score)


class _Task:  # built lazily: lightning is imported only when training
    def __new__(cls, model: torch.nn.Module, config: TrainConfig) -> Any:
        import lightning as L

        class Task(L.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def training_step(self, batch: Any, _: int) -> torch.Tensor:
                loss, _parts = LOSSES[config.variant](self.model, tuple(batch))
                return loss

            def configure_optimizers(self) -> Any:
                opt = torch.optim.AdamW(self.model.parameters(), lr=config.lr,
                                        weight_decay=config.weight_decay)
                sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs)
                return [opt], [sched]

        return Task()


class _KeepBest:
    def __new__(cls, select: RefinerData, log: Any) -> Any:
        import lightning as L

        class KeepBest(L.Callback):
            best, best_epoch, best_state = float("inf"), -1, None

            def on_train_epoch_end(self, trainer: Any, task: Any) -> None:
                mae = selection_mae(task.model, select)
                task.model.train()
                if mae < self.best:
                    self.best, self.best_epoch = mae, trainer.current_epoch
                    self.best_state = copy.deepcopy(task.model.state_dict())
                log(f"epoch {trainer.current_epoch}: selection MAE {1000 * mae:.1f} ms")

        return KeepBest()
