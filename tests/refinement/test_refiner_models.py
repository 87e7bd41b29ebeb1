"""Every refiner variant: shapes, gradients, the gate (it fits 32 real examples), and
checkpoints that round-trip through safetensors without unpickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from diarefine.models.refiners import VARIANTS, WindowSpec
from diarefine.models.refiners.checkpoint import CheckpointError, load_refiner, save_refiner
from diarefine.train.losses import LOSSES

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "refiner32.npz"


def real_examples() -> tuple[torch.Tensor, ...]:
    data = np.load(FIXTURE)
    return (torch.from_numpy(data["frames"].astype(np.float32)),
            torch.from_numpy(data["static"].astype(np.float32)),
            torch.from_numpy(data["offset"].astype(np.float32)),
            torch.from_numpy(data["matched"]))


def spec_of(frames: torch.Tensor, static: torch.Tensor) -> WindowSpec:
    return WindowSpec(frames.shape[1], frames.shape[2], 0.02, static.shape[1])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_forward_and_backward_shapes(variant: str) -> None:
    frames, static, offset, matched = real_examples()
    model = VARIANTS[variant](spec=spec_of(frames, static))
    out = model(frames[:5], static[:5])
    assert out.offset.shape == out.confidence.shape == out.keep.shape == (5,)
    assert float(out.offset.detach().abs().max()) <= 0.5
    loss, parts = LOSSES[variant](model, (frames[:5], static[:5], offset[:5], matched[:5]))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    assert all(np.isfinite(v) for v in parts.values())


#: Full-batch Adam steps and learning rate of the gate: a denoiser learns the data's
#: distribution, not one value per input, so it needs more steps to collapse onto them.
GATE = {"diffusion": (1000, 2e-3)}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_gate_each_variant_fits_32_real_examples_to_25_ms(variant: str) -> None:
    frames, static, offset, matched = real_examples()
    assert matched.all() and len(offset) == 32
    torch.manual_seed(0)
    model = VARIANTS[variant](spec=spec_of(frames, static), dropout=0.0)
    steps, lr = GATE.get(variant, (400, 1e-3))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss, _ = LOSSES[variant](model, (frames, static, offset, matched))
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.inference_mode():
        mae = float((model(frames, static).offset - offset).abs().mean())
    before = float(offset.abs().mean())
    assert before > 0.05  # the examples are real errors, not zeros
    assert mae < 0.025, f"{variant}: MAE {1000 * mae:.1f} ms after fitting"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_checkpoints_round_trip_without_unpickling(variant: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    frames, static, _, _ = real_examples()
    torch.manual_seed(1)
    model = VARIANTS[variant](spec=spec_of(frames, static)).eval()
    path = tmp_path / f"{variant}.safetensors"
    save_refiner(model, variant, {}, path, abstain=1.5, provenance={"train": ["x.h5"]})
    assert path.with_suffix(".json").is_file()
    assert path.stat().st_size < 5 * 2**20  # small enough to commit

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    loaded, name, abstain, spec, activity = load_refiner(path)
    assert (name, abstain, spec, activity) == (variant, 1.5, model.spec, None)
    with torch.inference_mode():
        a, b = model(frames, static), loaded(frames, static)
    torch.testing.assert_close(a.offset, b.offset)
    torch.testing.assert_close(a.confidence, b.confidence)


def activity_examples() -> tuple[torch.Tensor, ...]:
    """The 32 examples with the activity head's targets and mask."""
    data = np.load(FIXTURE)
    return (*real_examples(), torch.from_numpy(data["activity"].astype(np.float32)),
            torch.from_numpy(data["activity_mask"]))


def test_the_activity_head_shapes_and_its_loss() -> None:
    batch = activity_examples()
    frames, static = batch[:2]
    torch.manual_seed(0)
    model = VARIANTS["transformer"](spec=spec_of(frames, static), activity=True)
    probs = model.activity(frames[:5], static[:5]).detach()
    assert probs.shape == (5, 200, 2) and float(probs.min()) >= 0 and float(probs.max()) <= 1
    model.eval()
    with torch.inference_mode():  # one pass gives what the two calls give
        out, both = model.forward_with_activity(frames[:5], static[:5])
        torch.testing.assert_close(both, model.activity(frames[:5], static[:5]))
        torch.testing.assert_close(out.offset, model(frames[:5], static[:5]).offset)
    model.train()
    loss, parts = LOSSES["transformer"](model, tuple(b[:5] for b in batch))
    assert set(parts) == {"locate", "keep", "activity"}
    loss.backward()
    assert model.activity_head.weight.grad is not None
    assert float(model.activity_head.weight.grad.abs().sum()) > 0
    # the targets are real: about a third of the masked frames are speech
    assert 0.1 < float(batch[4][batch[5]].mean()) < 0.9
    with pytest.raises(ValueError, match="activity targets"):
        LOSSES["transformer"](model, tuple(b[:5] for b in batch[:4]))
    plain = VARIANTS["transformer"](spec=spec_of(frames, static))
    with pytest.raises(ValueError, match="no activity head"):
        plain.activity(frames[:2], static[:2])


def test_gate_the_activity_head_fits_32_real_windows() -> None:
    """Frame by frame, A's and B's activity in the 32 windows: 95 % right after fitting
    (the system's own output is right on about 85 % of them), and the boundary still to
    25 ms."""
    batch = activity_examples()
    frames, static, offset, _, target, mask = batch
    torch.manual_seed(0)
    model = VARIANTS["transformer"](spec=spec_of(frames, static), dropout=0.0, activity=True)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(400):
        optimiser.zero_grad()
        loss, _ = LOSSES["transformer"](model, batch)
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.inference_mode():
        right = ((model.activity(frames, static) > 0.5) == (target > 0.5))[mask]
        mae = float((model(frames, static).offset - offset).abs().mean())
    from diarefine.stages.refinement.features import CHANNELS

    system = frames[:, :, [CHANNELS.index("sys_a"), CHANNELS.index("sys_b")]] > 0.5
    baseline = float((system == (target > 0.5))[mask].float().mean())
    assert baseline < 0.95  # fitting them is not copying the system's output
    assert float(right.float().mean()) > 0.95
    assert mae < 0.025


def test_activity_settings_round_trip_and_reach_the_pipeline_refiner(tmp_path: Path) -> None:
    from diarefine.stages.refinement.activity import ActivitySettings
    from diarefine.stages.refinement.learned import LearnedRefiner

    frames, static, _, _ = real_examples()
    model = VARIANTS["transformer"](spec=spec_of(frames, static), activity=True).eval()
    path = tmp_path / "act.safetensors"
    settings = ActivitySettings(add=0.7, cut=0.3, min_run=0.3)
    save_refiner(model, "transformer", {"activity": True}, path, abstain=0.2,
                 provenance={}, activity=settings.to_dict())
    assert load_refiner(path).activity == settings.to_dict()
    refiner = LearnedRefiner.load(path)
    assert refiner.activity == settings
    with torch.inference_mode():
        torch.testing.assert_close(refiner.model.activity(frames, static),
                                   model.activity(frames, static))
    # settings that are not numbers are refused
    save_refiner(model, "transformer", {"activity": True}, path, abstain=0.2,
                 provenance={}, activity={"add": "high"})  # type: ignore[dict-item]
    with pytest.raises(CheckpointError, match="activity settings"):
        load_refiner(path)


def test_a_file_that_is_not_a_refiner_checkpoint_is_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "something-else"})
    with pytest.raises(CheckpointError, match="not a diarefine-refiner/1 checkpoint"):
        load_refiner(path)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_refiner(tmp_path / "junk.safetensors")


def test_the_training_loop_keeps_the_best_epoch_and_lowers_the_error() -> None:
    """The one Lightning loop on the 32 real examples (train and selection alike here):
    the returned weights are those of the epoch with the lowest selection MAE."""
    pytest.importorskip("lightning")
    from diarefine.train.dataset import RefinerData
    from diarefine.train.loop import TrainConfig, selection_mae, train_refiner

    frames, static, offset, matched = (t.numpy() for t in real_examples())
    n = len(offset)
    data = RefinerData(frames, static, offset, matched, np.zeros(n), np.arange(n),
                       np.zeros(n, np.int64), (), ("fixture",))
    config = TrainConfig("mlp", {"dropout": 0.0}, epochs=30, batch_size=8, lr=2e-3)
    torch.manual_seed(0)
    untrained = VARIANTS["mlp"](spec=spec_of(torch.from_numpy(frames), torch.from_numpy(static)),
                                dropout=0.0)
    logged: list[str] = []
    model = train_refiner(config, data, data, log=logged.append)
    epochs = [float(m.split()[-2]) for m in logged if m.startswith("epoch")]
    assert len(epochs) == 30
    best = 1000 * selection_mae(model, data)
    assert best == pytest.approx(min(epochs), abs=0.05)
    assert best < 0.5 * 1000 * selection_mae(untrained, data)
    assert not model.training
