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
    loaded, name, abstain, spec = load_refiner(path)
    assert (name, abstain, spec) == (variant, 1.5, model.spec)
    with torch.inference_mode():
        a, b = model(frames, static), loaded(frames, static)
    torch.testing.assert_close(a.offset, b.offset)
    torch.testing.assert_close(a.confidence, b.confidence)


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
