"""Sources (the input sets of refiner data) in training: a subset by source, boundaries of
a source drawn more often, and a guard source that the activity edits must not make
worse. Hand-made data."""

from __future__ import annotations

import numpy as np
import pytest

from diarefine.core.annotation import Annotation, Turn
from diarefine.errors import DiarefineError
from diarefine.train.dataset import RecordingRow, RefinerData


def data_of(sources: list[str], recording: list[int]) -> RefinerData:
    rows = tuple(RecordingRow(f"u{k}", s, (f"spk{k}",),
                              Annotation(f"u{k}", (Turn(0.0, 1.0, "s"),)),
                              Annotation(f"u{k}", (Turn(0.0, 1.0, "r"),)), None)
                 for k, s in enumerate(sources))
    n = len(recording)
    return RefinerData(np.arange(n, dtype=np.float32)[:, None, None] * np.ones((1, 3, 2),
                                                                               np.float32),
                       np.zeros((n, 4), np.float32), np.arange(n, dtype=np.float32),
                       np.ones(n, bool), np.arange(n) / 10, np.arange(n),
                       np.array(recording, np.int64), rows, tuple(sorted(set(sources))),
                       np.array(["x"] * n, dtype=object))


def test_a_subset_by_source_keeps_its_recordings_and_renumbers_them() -> None:
    data = data_of(["a", "b", "a"], [0, 1, 2, 2, 0, 1])
    part = data.of_sources(["a"])
    assert [r.uri for r in part.recordings] == ["u0", "u2"] and part.sources == ("a",)
    np.testing.assert_array_equal(part.recording, [0, 1, 1, 0])
    np.testing.assert_array_equal(part.offset, [0, 2, 3, 4])  # the boundaries, in order
    np.testing.assert_array_equal(part.frames[:, 0, 0], [0, 2, 3, 4])
    assert list(part.partner) == ["x"] * 4  # type: ignore[arg-type]
    with pytest.raises(DiarefineError, match=r"no source \['c'\].*its sources: \['a', 'b'\]"):
        data.of_sources(["a", "c"])


def test_boundaries_of_a_weighted_source_are_drawn_that_many_times() -> None:
    pytest.importorskip("torch")
    from diarefine.train.loop import source_draws

    data = data_of(["a", "b", "a"], [0, 1, 2, 2, 0])
    np.testing.assert_array_equal(source_draws(data, {"b": 3}), [0, 1, 1, 1, 2, 3, 4])
    np.testing.assert_array_equal(source_draws(data, {"a": 2, "b": 1}),
                                  [0, 0, 1, 2, 2, 3, 3, 4, 4])
    with pytest.raises(DiarefineError, match=r"source_weights: no source \['z'\]"):
        source_draws(data, {"z": 2})


def test_a_guard_source_vetoes_edits_the_selection_sets_would_take(monkeypatch) -> None:
    pytest.importorskip("torch")
    from diarefine.train import loop

    select = data_of(["dev"], [0, 0])
    guard = data_of(["train-real"], [0])
    # no model: the predictions are fixed, each set's "output" is its name, and the DER of
    # a setting depends on the set: every edit helps the selection set, a cut the most,
    # and a cut hurts the guard
    monkeypatch.setattr(loop, "predict_with_activity",
                        lambda model, frames, static: (np.zeros(len(frames)),
                                                       np.ones(len(frames)),
                                                       np.zeros((len(frames), 3, 2))))
    monkeypatch.setattr(loop, "refined_outputs",
                        lambda data, moves, activity: (data.sources[0], activity[1]))

    def der_by_source(data, outputs):
        name, settings = outputs
        if name == "dev":
            der = 10.0 if not settings.active else 9.0 - (settings.cut >= 0)
            return der, {"dev": der}
        worse = settings.cut >= 0
        return 0.0, {"train-real": 30.0 + worse}  # a cut hurts the guard

    monkeypatch.setattr(loop, "der_by_source", der_by_source)
    free, _ = loop.choose_activity_settings(None, select, 0.0)  # type: ignore[arg-type]
    guarded, tried = loop.choose_activity_settings(None, select, 0.0, guard)  # type: ignore
    assert free.cut >= 0
    assert guarded.active and guarded.cut < 0 and guarded.add <= 1
    assert all(set(per_source) == {"dev", "train-real"} for _, _, per_source in tried)
    assert tried[0][1] == 10.0  # the pooled figure is the selection set's alone
    with pytest.raises(DiarefineError, match="selection sources already"):
        loop.choose_activity_settings(None, select, 0.0, select)  # type: ignore[arg-type]
