"""Bad input found before the work and reported whole (issue: every bad input refused
before the work starts, with its reason)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diarefine.batch import BatchItem, run_batch
from diarefine.errors import DiarefineError


def test_a_failing_recording_keeps_its_whole_reason_on_one_line(tmp_path: Path) -> None:
    def runner(uri: str, audio: Path) -> object:
        raise RuntimeError("Exception from src/inference/src/cpp/core.cpp:112:\n"
                           "[ GENERAL_ERROR ] Check 'ok' failed:\n  permission denied")

    report = run_batch([BatchItem("a", tmp_path / "a.wav")], tmp_path / "out", lambda: runner)
    assert report.failed == {"a": "RuntimeError: Exception from src/inference/src/cpp/"
                                  "core.cpp:112: [ GENERAL_ERROR ] Check 'ok' failed: "
                                  "permission denied"}


def test_nothing_is_computed_when_the_output_folder_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    built: list[int] = []
    with pytest.raises(DiarefineError, match="cannot write outputs there"):
        run_batch([BatchItem("a", tmp_path / "a.wav")], tmp_path / "file" / "out",
                  lambda: built.append(1))  # type: ignore[arg-type, func-returns-value]
    assert built == []


@pytest.mark.parametrize(("text", "message"), [
    ('variant = "mlp"\n[model]\nwidth = 3\n', "[model] unknown key(s) ['width'] for mlp"),
    ('variant = "mlp"\n[train]\nepochs = 0\n', "[train] epochs must be a positive number"),
    ('variant = "mlp"\n[train]\nlr = "x"\n', "[train] lr must be a positive number, got 'x'"),
    ('variant = "wavenet"\n', "variant must be one of"),
    ('variant = "mlp"\n[train]\nepoch = 3\n', "[train] unknown key(s) ['epoch']"),
    ('variant = "transformer"\n[train]\nactivity_missed_weight = -2\n',
     "[train] activity_missed_weight must be a positive number"),
    ('variant = "mlp"\n[train]\nsource_weights = { ami-train = 2.5 }\n',
     "[train] source_weights must map source names to whole numbers >= 1"),
    ('variant = "mlp"\n[train]\nsource_weights = 3\n',
     "[train] source_weights must map source names to whole numbers >= 1"),
])
def test_a_refiner_training_config_is_checked_when_loaded(tmp_path: Path, text: str,
                                                          message: str) -> None:
    pytest.importorskip("torch")
    from diarefine.train.loop import TrainConfig

    path = tmp_path / "variant.toml"
    path.write_text(text)
    with pytest.raises(DiarefineError) as info:
        TrainConfig.load(path)
    assert str(info.value).startswith(str(path)) and message in str(info.value)


def test_the_shipped_training_configs_load() -> None:
    pytest.importorskip("torch")
    from diarefine.train.loop import TrainConfig

    for name in ("mlp", "transformer", "diffusion", "contrastive"):
        assert TrainConfig.load(name).variant == name
    activity = TrainConfig.load("transformer-activity")
    assert activity.variant == "transformer" and activity.model["activity"] is True
    assert activity.activity_missed_weight == 1.0 and activity.source_weights == {}
    experiments = Path(__file__).resolve().parents[1] / "experiments" / "configs"
    ami20 = TrainConfig.load(experiments / "transformer-activity-ami20.toml")
    assert ami20.source_weights == {"ami-train": 20}
    assert (ami20.model, ami20.epochs, ami20.lr) == (activity.model, activity.epochs, activity.lr)
