"""The activity edits (add and cut speech around boundaries), their targets from a
reference, and the choice of their thresholds: hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from diarefine.core.annotation import Annotation, Turn
from diarefine.core.timeline import Timeline
from diarefine.stages.refinement.activity import (
    ActivitySettings,
    activity_edits,
    average_activity,
    runs,
)
from diarefine.stages.refinement.features import HALF, NUM_FRAMES, RATE


def ann(*turns: tuple[float, float, str]) -> Annotation:
    return Annotation("u", tuple(Turn(a, b, s) for a, b, s in turns))


def probs_for(windows: int = 1, a: float = 0.5, b: float = 0.5) -> np.ndarray:
    out = np.empty((windows, NUM_FRAMES, 2))
    out[..., 0], out[..., 1] = a, b
    return out


def hand_over(at: float = 4.0) -> np.ndarray:
    """One window centred on a hand-over from A to B at ``at``, agreeing with it."""
    p = probs_for(a=0.1, b=0.1)
    p[0, :HALF, 0] = 0.9
    p[0, HALF:, 1] = 0.9
    return p


def frame(t: float, centre: float) -> int:
    """The window frame at time ``t`` of a window centred at ``centre``."""
    return HALF + int(round((t - centre) / RATE))


def bounds_of(annotation: Annotation, speaker: str) -> list[tuple[float, float]]:
    return [(round(a, 6), round(b, 6)) for a, b in annotation.speaker_timeline(speaker).bounds]


def test_runs_keeps_only_long_enough_runs() -> None:
    mask = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1], dtype=bool)
    assert runs(mask, 1) == [(0, 2), (3, 6), (8, 9)]
    assert runs(mask, 3) == [(3, 6)]
    assert runs(np.zeros(4, bool), 1) == []


def test_a_bridged_pause_is_cut_and_missed_overlap_added() -> None:
    # A speaks 0-4 s; the window sits on A's offset at 4.0 s (cell c = 200 + k - HALF)
    system = ann((0.0, 4.0, "A"), (4.0, 6.0, "B"))
    p = hand_over(4.0)  # agrees with the system everywhere ...
    assert activity_edits(system, np.array([4.0]), ["A"], ["B"], p,
                          ActivitySettings(add=0.8, cut=0.2)) == system
    p[0, frame(3.2, 4.0):frame(3.6, 4.0), 0] = 0.05  # ... but A pauses 3.2-3.6
    p[0, frame(3.4, 4.0):frame(3.7, 4.0), 1] = 0.95  # and B talks over A 3.4-3.7
    out = activity_edits(system, np.array([4.0]), ["A"], ["B"], p,
                         ActivitySettings(add=0.8, cut=0.2, min_run=0.1))
    # cells 160..179 cut: [159.5, 179.5) * 20 ms; B added on cells 170..184
    assert bounds_of(out, "A") == [(0.0, 3.19), (3.59, 4.0)]
    assert bounds_of(out, "B") == [(3.39, 3.69), (4.0, 6.0)]


def test_short_disagreements_and_frames_beyond_reach_are_left_alone() -> None:
    system = ann((0.0, 4.0, "A"))
    p = hand_over(4.0)
    p[0, HALF:, 1] = 0.1  # B is silent in the system and in the window
    p[0, frame(3.2, 4.0):frame(3.28, 4.0), 0] = 0.0  # 80 ms: below min_run 0.1 s
    p[0, frame(2.0, 4.0):frame(2.9, 4.0), 1] = 1.0  # B before 2.99: outside ±1 s
    out = activity_edits(system, np.array([4.0]), ["A"], ["B"], p,
                         ActivitySettings(add=0.8, cut=0.2, min_run=0.1))
    assert out == system
    # with the edits switched off nothing is even computed
    off = ActivitySettings()
    assert not off.active
    assert activity_edits(system, np.array([4.0]), ["A"], ["B"], np.zeros((1, 200, 2)),
                          off) is system


def test_overlapping_windows_are_averaged() -> None:
    system = ann((0.0, 2.0, "A"), (2.0, 2.2, "B"))
    p = probs_for(windows=2, a=0.9, b=0.0)
    p[0, :, 1] = 0.98  # the first window (A's offset) says B speaks everywhere
    times = np.array([2.0, 2.2])  # the second is B's offset, A its partner
    mean, count = average_activity(times, ["A", "B"], ["B", "A"], p)["B"]
    assert count[100] == 2 and count[55] == 1  # 2.0 s is in both windows, 1.1 s in one
    assert mean[100] == pytest.approx((0.98 + 0.9) / 2)  # column 1 of one, column 0 of the other
    assert mean[55] == pytest.approx(0.98)
    cautious = activity_edits(system, times, ["A", "B"], ["B", "A"], p,
                              ActivitySettings(add=0.99, cut=-1.0))
    assert cautious == system
    # B is added where only the first window reaches (cells 50-59: 0.99-1.19 s)
    eager = activity_edits(system, times, ["A", "B"], ["B", "A"], p,
                           ActivitySettings(add=0.97, cut=-1.0))
    assert bounds_of(eager, "B") == [(0.99, 1.19), (2.0, 2.2)]


def test_nothing_is_added_after_the_end() -> None:
    system = ann((0.0, 4.0, "A"))
    p = probs_for(a=0.9, b=1.0)
    out = activity_edits(system, np.array([4.0]), ["A"], ["B"], p,
                         ActivitySettings(add=0.8, cut=0.2), end=4.5)
    assert bounds_of(out, "B") == [(2.99, 4.5)]
    assert bounds_of(out, "A") == [(0.0, 4.5)]  # A's 0.9 after 4 s adds it too, to the end
    assert all(t.end > t.start for t in out.turns)


def test_a_spurious_turn_is_deleted() -> None:
    system = ann((0.0, 1.0, "A"), (1.5, 1.8, "C"), (2.0, 3.0, "A"))
    p = probs_for(a=0.0, b=0.9)  # A: the boundary's speaker is C, at its onset 1.5
    out = activity_edits(system, np.array([1.5]), ["C"], ["A"], p,
                         ActivitySettings(add=2.0, cut=0.2))
    assert "C" not in out.speakers
    assert bounds_of(out, "A") == bounds_of(system, "A")


def test_targets_follow_the_mapped_reference_and_mask_what_is_unknown() -> None:
    from diarefine.train.activity import activity_targets
    from diarefine.train.dataset import RecordingRow, RefinerData

    reference = ann((0.0, 3.0, "r1"), (2.5, 6.0, "r2"))
    system = ann((0.0, 3.2, "s1"), (3.2, 6.0, "s2"), (7.0, 7.5, "s3"))
    uem = Timeline([(0.0, 8.0)])
    row = RecordingRow("u", "set", ("r1", "r2"), system, reference, uem)
    # boundaries_of(system): 0 s1 onset 0.0, 1 s1 offset 3.2, 2 s2 onset 3.2, ...
    data = RefinerData(np.zeros((3, 200, 17), np.float32), np.zeros((3, 391), np.float32),
                       np.zeros(3, np.float32), np.ones(3, bool), np.array([3.2, 3.2, 7.0]),
                       np.array([1, 2, 4]), np.zeros(3, np.int64), (row,), ("set",),
                       np.array(["s2", "s1", ""], dtype=object))
    target, mask = activity_targets(data)
    t = 3.2 + (np.arange(200) - 100) * RATE
    np.testing.assert_array_equal(target[0, :, 0], (t >= 0) & (t < 3.0))  # s1 -> r1
    np.testing.assert_array_equal(target[0, :, 1], (t >= 2.5) & (t < 6.0))  # s2 -> r2
    np.testing.assert_array_equal(target[1, :, 0], target[0, :, 1])
    np.testing.assert_array_equal(mask[0, :, 0], (t >= 0) & (t < 8.0))
    # s3 is unmapped: it should be silent; the third window has no B
    t3 = 7.0 + (np.arange(200) - 100) * RATE
    np.testing.assert_array_equal(mask[2, :, 0], t3 < 8.0)
    assert not target[2].any() and not mask[2, :, 1].any()


def test_the_choice_keeps_no_edit_unless_every_source_gains() -> None:
    from diarefine.train.activity import choose_activity

    def score(s: ActivitySettings) -> tuple[float, dict[str, float]]:
        if not s.active:
            return 20.0, {"sim": 19.0, "ami": 25.0}
        if (s.add, s.cut, s.min_run) == (0.9, 0.1, 0.3):
            return 18.0, {"sim": 17.0, "ami": 24.9}  # better everywhere
        if s.add == 0.5:
            return 17.0, {"sim": 16.0, "ami": 26.0}  # pooled best, but AMI worse
        return 20.0, {"sim": 19.0, "ami": 25.0}  # a tie with no edit

    best, tried = choose_activity(score)
    assert (best.add, best.cut, best.min_run) == (0.9, 0.1, 0.3)
    assert len(tried) == 1 + 6 * 6 * 2 - 2

    flat = choose_activity(lambda s: (20.0, {"sim": 19.0}))[0]
    assert not flat.active


def test_missed_frames_can_weigh_more_in_the_activity_loss() -> None:
    torch = pytest.importorskip("torch")
    from diarefine.stages.refinement.features import CHANNELS
    from diarefine.train.activity import activity_weights
    from diarefine.train.dataset import RefinerData
    from diarefine.train.losses import activity_loss

    frames = np.zeros((1, 4, len(CHANNELS)), np.float32)
    frames[0, :2, CHANNELS.index("sys_a")] = 1.0  # the output: A speaks in frames 0-1
    data = RefinerData(frames, np.zeros((1, 391), np.float32), np.zeros(1, np.float32),
                       np.ones(1, bool), np.zeros(1), np.zeros(1, np.int64),
                       np.zeros(1, np.int64), (), ())
    target = np.array([[[1, 0], [0, 0], [1, 1], [1, 0]]], np.float32)
    mask = np.array([[[1, 1], [1, 1], [1, 0], [0, 0]]], bool)
    weights = activity_weights(data, target, mask, missed_weight=4.0)
    # frame 2: A missed (the output is silent, the reference speaks) -> 4; B there masked;
    # frame 3 masked; frames 0-1 and B's known frames 1
    np.testing.assert_array_equal(weights[0], [[1, 1], [1, 1], [4, 0], [0, 0]])
    logits = torch.tensor([[[2.0, -1.0], [0.5, 0.0], [-1.0, 3.0], [0.0, 0.0]]])
    t = torch.from_numpy(target)
    each = torch.nn.functional.binary_cross_entropy_with_logits(logits, t, reduction="none")
    expected = (each[0, 0].sum() + each[0, 1].sum() + 4 * each[0, 2, 0]) / 8  # weights sum
    torch.testing.assert_close(activity_loss(logits, t, torch.from_numpy(weights)), expected)
    # weights of 1 / 0 give the plain masked mean, as the boolean mask does
    torch.testing.assert_close(activity_loss(logits, t, torch.from_numpy(mask.astype(np.float32))),
                               activity_loss(logits, t, torch.from_numpy(mask)))
    torch.testing.assert_close(activity_loss(logits, t, torch.from_numpy(mask)),
                               each[torch.from_numpy(mask)].mean())


def test_the_activity_oracle_copies_the_mapped_reference_around_boundaries() -> None:
    from diarefine.stages.refinement.oracle import activity_oracle

    reference = ann((0.0, 5.0, "r1"), (4.0, 8.0, "r2"), (20.0, 22.0, "r3"))
    system = ann((0.0, 6.0, "s1"), (6.0, 8.0, "s2"), (9.5, 9.8, "s3"))
    # boundaries: s1 0 / 6, s2 6 / 8, s3 9.5 / 9.8 -> windows (reach 1 s): 0-1 (from 0),
    # 5-9 (6, 8), 8.5-10.8 (9.5, 9.8): one region 5-10.8; s3 is unmapped (r3 is missed)
    out = activity_oracle(reference, system, reach=1.0)
    assert bounds_of(out, "s1") == [(0.0, 5.0)]  # 0-1 and 5-6 from r1 (0-5), 1-5 kept
    assert bounds_of(out, "s2") == [(5.0, 8.0)]  # r2 inside 5-10.8, s2 outside it: none
    assert "s3" not in out.speakers  # unmapped: silent inside the windows
    assert "r3" not in out.speakers and not any(t.start >= 20 for t in out.turns)
    from diarefine.metrics.der import diarization_error

    assert diarization_error(reference, out).components.der < \
        diarization_error(reference, system).components.der


def test_a_threshold_is_moved_off_the_values_without_changing_who_passes() -> None:
    pytest.importorskip("torch")
    from diarefine.train.loop import below

    values = np.array([0.1, 0.3, 0.3, 0.7])
    assert below(values, 0.3) == pytest.approx(0.2)
    assert below(values, 0.7) == pytest.approx(0.5)
    assert below(values, 0.1) == pytest.approx(-0.9)
    for t in (0.1, 0.3, 0.7):
        np.testing.assert_array_equal(values >= below(values, t), values >= t)
        assert below(values, t) not in values
