"""The ready progress hook: one bar per reporting stage, filled to its total."""

from __future__ import annotations

import io

from diarefine.progress import ProgressHook


def test_one_bar_per_stage_filled_to_the_total_and_steps_named() -> None:
    out = io.StringIO()
    with ProgressHook(file=out) as hook:
        hook("segmentation", object())
        for done in (4, 8, 12):
            hook("progress/segmentation", (done, 12))
        hook("progress/embedding", (3, 10))
        hook("progress/embedding", (10, 10))
        hook("progress/embedding", "not a pair")  # ignored, no crash
        bars = dict(hook.bars)
        assert {k: (b.n, b.total) for k, b in bars.items()} == {"segmentation": (12, 12),
                                                                "embedding": (10, 10)}
        assert hook.steps == ["segmentation"]
    assert hook.bars == {}
    text = out.getvalue()
    assert "segmentation" in text and "12/12" in text and "10/10" in text
