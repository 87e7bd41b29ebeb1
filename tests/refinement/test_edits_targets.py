"""Boundaries a refiner may move, their targets from a reference, the oracle, and the
rules every refinement follows: exact hand-made cases and properties."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diarefine.core import Annotation, Timeline
from diarefine.metrics import diarization_error
from diarefine.stages.refinement import ShiftRefiner, build_refiner
from diarefine.stages.refinement.base import RefinerError
from diarefine.stages.refinement.edits import apply_moves, boundaries_of, change_links
from diarefine.stages.refinement.oracle import boundary_targets, oracle_refine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from randomdiar import perturb, random_annotation  # noqa: E402

# Reference: A 0-5, B 5-9, A 12-15. System (labels x, y): A's onset 0.2 late, the change
# 0.3 late, B's offset 0.4 early, A's last turn 0.1 early at both ends, and a spurious
# turn of y at 20-21 (no reference boundary within 0.5 s).
REF = [(0.0, 5.0, "A"), (5.0, 9.0, "B"), (12.0, 15.0, "A")]
SYS = [(0.2, 5.3, "x"), (5.3, 8.6, "y"), (11.9, 14.9, "x"), (20.0, 21.0, "y")]


def ann(turns: list[tuple[float, float, str]], uri: str = "f") -> Annotation:
    return Annotation.from_tuples(uri, turns)


def test_boundaries_are_aligned_with_the_joined_turns_and_have_kinds() -> None:
    b = boundaries_of(ann(SYS))
    assert [t for t in b.times] == [0.2, 5.3, 5.3, 8.6, 11.9, 14.9, 20.0, 21.0]
    assert b.directions == ("onset", "offset") * 4
    assert b.speakers == ("x", "x", "y", "y", "x", "x", "y", "y")
    assert b.kinds == ("edge", "change", "change", "edge", "edge", "edge", "edge", "edge")
    assert change_links(b) == [(1, 2)]


def test_turns_closer_than_the_join_gap_make_no_boundary() -> None:
    b = boundaries_of(ann([(0, 1, "x"), (1.05, 2, "x"), (3, 4, "x")]))
    assert list(b.times) == [0, 2, 3, 4]


def test_targets_are_the_exact_signed_corrections_and_spurious_flags() -> None:
    t = boundary_targets(ann(REF), ann(SYS), uem=Timeline([(0, 25)]))
    expected = [-0.2, -0.3, -0.3, 0.4, 0.1, 0.1, np.nan, np.nan]
    np.testing.assert_allclose(t.offset, expected, atol=1e-9)
    assert list(t.matched) == [True] * 6 + [False] * 2
    assert t.ref_kinds[:6] == ("edge", "change", "change", "edge", "edge", "edge")
    assert t.in_region.all()
    outside = boundary_targets(ann(REF), ann(SYS), uem=Timeline([(0, 16)]))
    assert list(outside.in_region) == [True] * 6 + [False] * 2


def test_a_boundary_beyond_the_tolerance_is_spurious() -> None:
    t = boundary_targets(ann([(0, 5, "A")]), ann([(0.6, 5.5, "x")]), tolerance=0.5)
    assert list(t.matched) == [False, True]
    assert t.offset[1] == pytest.approx(-0.5)


def test_the_oracle_moves_every_matched_boundary_onto_the_reference() -> None:
    refined = oracle_refine(ann(REF), ann(SYS), uem=Timeline([(0, 25)]))
    assert [(t.start, t.end, t.speaker) for t in refined.turns] == [
        (0.0, 5.0, "x"), (5.0, 9.0, "y"), (12.0, 15.0, "x"), (20.0, 21.0, "y")]
    before = diarization_error(ann(REF), ann(SYS), Timeline([(0, 25)])).components
    after = diarization_error(ann(REF), refined, Timeline([(0, 25)])).components
    assert after.miss == after.confusion == 0.0
    assert after.false_alarm == pytest.approx(1.0)  # only the spurious turn is left
    assert before.der > after.der


def test_a_change_point_moves_as_one() -> None:
    b = boundaries_of(ann([(0, 5.0, "x"), (5.2, 9, "y")]))
    links = change_links(b)
    assert links == [(1, 2)]
    # moves asked for both edges: both get their mean; the gap keeps its 0.2 s
    out = apply_moves(b, {1: -0.1, 2: -0.3}, links)
    assert [(t.start, t.end) for t in out.turns] == [(0, pytest.approx(4.8)),
                                                     (pytest.approx(5.0), 9)]
    # one edge asked: the other follows
    out = apply_moves(b, {2: 0.1}, links)
    assert [(t.start, t.end) for t in out.turns] == [(0, pytest.approx(5.1)),
                                                     (pytest.approx(5.3), 9)]
    # not linked: only the asked edge moves
    out = apply_moves(b, {2: 0.1})
    assert [(t.start, t.end) for t in out.turns] == [(0, 5.0), (pytest.approx(5.3), 9)]


def test_no_turn_inverts_and_deletions_happen_only_when_asked() -> None:
    b = boundaries_of(ann([(0, 1.0, "x"), (3, 3.2, "y")]))
    out = apply_moves(b, {2: 0.5})  # y's onset past its offset: y's turn kept as it was
    assert [(t.start, t.end, t.speaker) for t in out.turns] == [(0, 1, "x"), (3, 3.2, "y")]
    out = apply_moves(b, {}, deletions=[1])
    assert [(t.start, t.end, t.speaker) for t in out.turns] == [(0, 1, "x")]
    # onsets never go below 0
    out = apply_moves(b, {0: -0.3})
    assert out.turns[0].start == 0.0


def test_turns_of_one_speaker_that_come_to_overlap_are_joined() -> None:
    b = boundaries_of(ann([(0, 1.0, "x"), (1.3, 2, "x")]))
    out = apply_moves(b, {1: 0.4})
    assert [(t.start, t.end) for t in out.turns] == [(0, 2)]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.0, 3.0))
def test_refined_output_never_has_a_turn_that_ends_before_it_starts(seed: int,
                                                                  scale: float) -> None:
    rng = np.random.default_rng(seed)
    hyp = random_annotation(rng, "f", 3, 60.0, mean_turn=1.0)
    b = boundaries_of(hyp)
    moves = {i: float(rng.normal(0, scale)) for i in range(len(b))}
    deletions = [i for i in range(len(b.turns.turns)) if rng.random() < 0.1]
    for out in (apply_moves(b, moves, change_links(b), deletions),
                apply_moves(b, moves)):
        assert all(t.end > t.start for t in out.turns)
        assert all(t.start >= 0 for t in out.turns)
        for speaker in out.speakers:  # one speaker's turns never overlap
            mine = [t for t in out.turns if t.speaker == speaker]
            assert all(a.end < c.start for a, c in zip(mine, mine[1:]))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_oracle_never_raises_the_boundary_error(seed: int) -> None:
    from diarefine.metrics.boundaries import analyze_file

    rng = np.random.default_rng(seed)
    ref = random_annotation(rng, "f", 3, 60.0)
    hyp = perturb(rng, ref, 3, jitter=0.2)
    before = analyze_file(ref, hyp).stats
    after = analyze_file(ref, oracle_refine(ref, hyp)).stats
    if before.matched:
        assert after.mean_abs_ms <= before.mean_abs_ms + 1e-6


def test_the_shift_refiner_moves_by_kind_and_direction_and_round_trips(tmp_path: Path
                                                                       ) -> None:
    table = ShiftRefiner({("edge", "onset"): 0.05, ("change", "offset"): -0.1})
    out = table(ann(SYS))
    # edges: onsets +0.05; the change point moves as one by the mean of -0.1 and 0
    assert [(round(t.start, 6), round(t.end, 6)) for t in out.turns] == [
        (0.25, 5.25), (5.25, 8.6), (11.95, 14.9), (20.05, 21.0)]
    path = tmp_path / "shift.json"
    path.write_text(table.to_json())
    assert build_refiner(str(path)).shifts == table.shifts  # type: ignore[attr-defined]
    path.write_text('{"shifts": {"edge/sideways": 0.1}}')
    with pytest.raises(RefinerError, match="unknown kind/direction"):
        build_refiner(str(path))


def test_refiner_none_is_the_identity_and_unknown_names_are_refused() -> None:
    hyp = ann(SYS)
    assert build_refiner("none")(hyp, None) is hyp
    with pytest.raises(RefinerError, match="unknown refiner 'wobble'"):
        build_refiner("wobble")


def test_the_exclusive_output_of_a_refined_diarization_gives_overlaps_to_the_most_active(
        ) -> None:
    from diarefine.core.frames import FrameGrid
    from diarefine.stages.base import FrameScores
    from diarefine.stages.pipeline import exclusive_of

    refined = ann([(0, 5, "A"), (4, 8, "B"), (7.5, 9, "A")])
    data = np.zeros((600, 2), np.float32)
    data[:, 0], data[:, 1] = 0.6, 0.4
    data[375:, 1] = 0.9  # from 7.5 s B is the more active
    scores = FrameScores(data, np.ones(600, np.int64), FrameGrid(0.0, 0.02, 0.02))
    out = exclusive_of(refined, scores, ["A", "B"])
    assert [(t.start, t.end, t.speaker) for t in out.turns] == [
        (0.0, 5.0, "A"), (5.0, 8.0, "B"), (8.0, 9.0, "A")]


def test_turn_confidence_is_the_mean_activation_of_the_turns_speaker() -> None:
    from diarefine.core.frames import FrameGrid
    from diarefine.stages.base import FrameScores
    from diarefine.stages.pipeline import turn_confidence

    data = np.zeros((100, 2), np.float32)
    data[:50, 0] = 0.8
    data[50:, 0] = 0.2
    data[:, 1] = 0.5
    scores = FrameScores(data, np.ones(100, np.int64), FrameGrid(0.0, 0.1, 0.1))  # centres .05+
    turns = ann([(0.0, 5.0, "A"), (4.0, 6.0, "A2"), (2.0, 3.0, "B"), (7.02, 7.04, "A")])
    got = turn_confidence(turns.rename({"A2": "A"}), scores, ["A", "B"])
    # sorted turns: A 0-5 (0.8), B 2-3 (0.5), A 4-6 (half 0.8, half 0.2), A 7.02-7.04 (nearest)
    assert got == (0.8, 0.5, 0.5, 0.2)
