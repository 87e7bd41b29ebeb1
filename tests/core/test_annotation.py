"""Annotation: hand cases for every method, and brute force on a grid for the counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diarefine.core.annotation import Annotation, Turn
from diarefine.core.segment import Segment
from diarefine.core.time import EPSILON
from diarefine.core.timeline import Timeline


def ann(*turns: tuple[float, float, str], uri: str = "rec") -> Annotation:
    return Annotation.from_tuples(uri, turns)


def triples(a: Annotation) -> list[tuple[float, float, str]]:
    return [(t.start, t.end, t.speaker) for t in a.turns]


def pairs_of(tl: Timeline) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in tl.bounds]


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("start", "end"),
    [(2.0, 1.0), (float("nan"), 1.0), (0.0, float("nan")), (0.0, float("inf")),
     (-float("inf"), 0.0)],
)
def test_turn_validation(start: float, end: float) -> None:
    with pytest.raises(ValueError):
        Turn(start, end, "A")
    with pytest.raises(ValueError):
        Annotation.from_tuples("rec", [(0.0, 1.0, "B"), (start, end, "A")])


def test_turn_properties() -> None:
    t = Turn(1.0, 3.5, "A")
    assert t.segment == Segment(1.0, 3.5)
    assert t.duration == 2.5
    assert Turn(2.0, 2.0, "A").duration == 0.0  # zero length allowed


# ---------------------------------------------------------------- ordering and speakers


def test_turns_sorted_by_start_end_speaker() -> None:
    a = ann((5.0, 6.0, "A"), (0.0, 2.0, "B"), (0.0, 1.0, "C"), (0.0, 1.0, "A"), (3.0, 3.0, "B"))
    assert triples(a) == [(0.0, 1.0, "A"), (0.0, 1.0, "C"), (0.0, 2.0, "B"), (3.0, 3.0, "B"),
                          (5.0, 6.0, "A")]
    assert a.speakers == ("A", "B", "C")
    assert len(a) == 5 and bool(a)
    assert list(a) == list(a.turns)
    # the same turns in any order give an equal annotation
    assert a == ann((0.0, 1.0, "A"), (3.0, 3.0, "B"), (5.0, 6.0, "A"), (0.0, 1.0, "C"),
                    (0.0, 2.0, "B"))


def test_from_tuples_converts_types_and_keeps_channel() -> None:
    a = Annotation.from_tuples("rec", [(1, 2, 7)], channel="A")
    assert a.turns == (Turn(1.0, 2.0, "7"),)
    assert isinstance(a.turns[0].start, float) and isinstance(a.turns[0].speaker, str)
    assert a.channel == "A" and a.uri == "rec"
    assert Annotation("x").channel == "1"


def test_empty_annotation() -> None:
    a = Annotation("rec")
    assert len(a) == 0 and not a
    assert a.speakers == ()
    assert a.speech() == Timeline()
    assert a.overlap() == Timeline()
    assert a.extent() is None
    cuts, count = a.speaker_count()
    assert cuts.shape == (0,) and count.shape == (0,)
    arr = a.arrays()
    assert arr.starts.shape == arr.ends.shape == arr.speaker_index.shape == (0,)
    assert arr.speakers == ()
    assert a.merge_overlaps() == (a, 0)
    assert a.support(1.0) == a


def test_speaker_timeline_and_speech() -> None:
    a = ann((0.0, 2.0, "A"), (1.0, 3.0, "A"), (3.0, 4.0, "A"), (6.0, 7.0, "A"),
            (2.5, 5.0, "B"), (8.0, 8.0, "C"))
    assert pairs_of(a.speaker_timeline("A")) == [(0.0, 4.0), (6.0, 7.0)]
    assert pairs_of(a.speaker_timeline("B")) == [(2.5, 5.0)]
    assert a.speaker_timeline("C") == Timeline()  # zero-length turns cover no time
    assert a.speaker_timeline("nobody") == Timeline()
    assert pairs_of(a.speech()) == [(0.0, 5.0), (6.0, 7.0)]


# ---------------------------------------------------------------- counts and overlap


def test_speaker_count_by_hand() -> None:
    # A [0,4) + A [3,5) + B [2,6) + C [6,6)
    a = ann((0.0, 4.0, "A"), (2.0, 6.0, "B"), (3.0, 5.0, "A"), (6.0, 6.0, "C"))
    cuts, count = a.speaker_count()
    assert cuts.tolist() == [0.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # [0,2): A   [2,3): A B   [3,4): A A B -> 2 distinct   [4,5): A B   [5,6): B
    assert count.tolist() == [1, 2, 2, 2, 1]
    assert count.dtype == np.int64
    assert pairs_of(a.overlap()) == [(2.0, 5.0)]


def test_overlap_counts_distinct_speakers_only() -> None:
    # one speaker overlapping itself is not overlapped speech
    a = ann((0.0, 3.0, "A"), (1.0, 2.0, "A"), (2.5, 4.0, "A"))
    assert a.overlap() == Timeline()
    assert a.speaker_count()[1].tolist() == [1, 1, 1, 1, 1]
    # three speakers, with a gap in the middle
    b = ann((0.0, 2.0, "A"), (1.0, 3.0, "B"), (1.5, 2.5, "C"), (5.0, 6.0, "A"), (5.5, 7.0, "B"))
    cuts, count = b.speaker_count()
    assert cuts.tolist() == [0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 5.5, 6.0, 7.0]
    assert count.tolist() == [1, 2, 3, 2, 1, 0, 1, 2, 1]
    assert pairs_of(b.overlap()) == [(1.0, 2.5), (5.5, 6.0)]


def test_touching_turns_do_not_overlap() -> None:
    a = ann((0.0, 1.0, "A"), (1.0, 2.0, "B"), (2.0, 2.0, "A"))
    assert a.overlap() == Timeline()
    assert a.speaker_count()[1].tolist() == [1, 1]


def test_extent_includes_zero_length_turns() -> None:
    assert ann((1.0, 2.0, "A"), (5.0, 5.0, "B")).extent() == Segment(1.0, 5.0)
    assert ann((3.0, 3.0, "A")).extent() == Segment(3.0, 3.0)
    assert ann((3.0, 3.0, "A"), (0.5, 1.0, "B")).extent() == Segment(0.5, 3.0)
    # the extent is not the speech extent
    assert ann((3.0, 3.0, "A")).speech().extent() is None


def test_arrays() -> None:
    a = ann((2.0, 3.0, "bob"), (0.0, 1.5, "alice"), (1.0, 4.0, "bob"), (5.0, 5.0, "carol"))
    arr = a.arrays()
    assert arr.speakers == ("alice", "bob", "carol")
    assert arr.starts.tolist() == [0.0, 1.0, 2.0, 5.0]
    assert arr.ends.tolist() == [1.5, 4.0, 3.0, 5.0]
    assert arr.speaker_index.tolist() == [0, 1, 1, 2]
    assert arr.starts.dtype == np.float64 and arr.speaker_index.dtype == np.int64
    for t, s, e, k in zip(a.turns, arr.starts, arr.ends, arr.speaker_index):
        assert (t.start, t.end, t.speaker) == (s, e, arr.speakers[k])
    assert a.arrays() is arr  # cached
    # the cache does not take part in equality
    assert a == ann((2.0, 3.0, "bob"), (0.0, 1.5, "alice"), (1.0, 4.0, "bob"),
                    (5.0, 5.0, "carol"))


# ---------------------------------------------------------------- transformations


def test_rename_with_mapping_and_callable() -> None:
    a = ann((0.0, 1.0, "b"), (0.0, 1.0, "a"), (2.0, 3.0, "c"))
    r = a.rename({"b": "z"})  # "a" and "c" missing from the mapping: kept
    assert triples(r) == [(0.0, 1.0, "a"), (0.0, 1.0, "z"), (2.0, 3.0, "c")]  # re-sorted
    assert r.speakers == ("a", "c", "z")
    assert r.uri == a.uri and r.channel == a.channel
    u = a.rename(str.upper)
    assert triples(u) == [(0.0, 1.0, "A"), (0.0, 1.0, "B"), (2.0, 3.0, "C")]
    # two labels renamed into one
    m = a.rename({"a": "x", "b": "x"})
    assert m.speakers == ("c", "x")
    assert triples(m) == [(0.0, 1.0, "x"), (0.0, 1.0, "x"), (2.0, 3.0, "c")]
    assert triples(a) == [(0.0, 1.0, "a"), (0.0, 1.0, "b"), (2.0, 3.0, "c")]  # unchanged


def test_crop() -> None:
    a = Annotation.from_tuples(
        "rec", [(0.0, 10.0, "A"), (3.0, 4.0, "B"), (6.0, 6.0, "C"), (8.0, 9.0, "B")], channel="2")
    region = Timeline([(2.0, 5.0), (7.0, 8.0)])
    c = a.crop(region)
    assert triples(c) == [(2.0, 5.0, "A"), (3.0, 4.0, "B"), (7.0, 8.0, "A")]
    # B [8, 9) only touches the region: dropped; C is zero length: dropped
    assert c.speakers == ("A", "B")
    assert c.channel == "2" and c.uri == "rec"
    assert a.crop(Timeline()) == Annotation("rec", (), "2")
    assert a.crop(Timeline([(-1.0, 20.0)])) == a.with_turns(
        [t for t in a.turns if t.duration > 0])


def test_shifted() -> None:
    a = ann((0.0, 1.0, "A"), (0.5, 2.0, "B"))
    s = a.shifted(1.5)
    assert triples(s) == [(1.5, 2.5, "A"), (2.0, 3.5, "B")]
    assert triples(s.shifted(-1.5)) == triples(a)
    assert pairs_of(s.speech()) == [(1.5, 3.5)]


def test_with_turns_keeps_uri_and_channel() -> None:
    a = Annotation.from_tuples("x", [(0.0, 1.0, "A")], channel="b")
    w = a.with_turns([Turn(3.0, 4.0, "Q"), Turn(1.0, 2.0, "P")])
    assert (w.uri, w.channel) == ("x", "b")
    assert triples(w) == [(1.0, 2.0, "P"), (3.0, 4.0, "Q")]


# ---------------------------------------------------------------- merge_overlaps


def test_merge_overlaps_fuses_strict_overlap_and_counts() -> None:
    a = ann((0.0, 2.0, "A"), (1.0, 3.0, "A"), (2.5, 4.0, "A"), (10.0, 20.0, "A"),
            (12.0, 13.0, "A"), (0.5, 5.0, "B"))
    merged, fusions = a.merge_overlaps()
    assert fusions == 3
    assert triples(merged) == [(0.0, 4.0, "A"), (0.5, 5.0, "B"), (10.0, 20.0, "A")]
    assert merged.uri == a.uri and merged.channel == a.channel


def test_merge_overlaps_keeps_touching_turns_apart() -> None:
    a = ann((0.0, 1.0, "A"), (1.0, 2.0, "A"), (0.5, 1.5, "B"))
    merged, fusions = a.merge_overlaps()
    assert fusions == 0
    assert merged is a
    # 0.1 + 0.2 = 0.30000000000000004 ends a hair after 0.3: still only touching
    end = 0.1 + 0.2
    assert end > 0.3 and end - 0.3 < EPSILON
    b = ann((0.1, end, "A"), (0.3, 0.5, "A"))
    assert b.merge_overlaps() == (b, 0)
    # within EPSILON, not only for that one sum
    c = ann((0.0, 1.0 + 0.5 * EPSILON, "A"), (1.0, 2.0, "A"))
    assert c.merge_overlaps()[1] == 0


def test_merge_overlaps_beyond_epsilon() -> None:
    a = ann((0.0, 1.0 + 1e-6, "A"), (1.0, 2.0, "A"))
    merged, fusions = a.merge_overlaps()
    assert fusions == 1
    assert triples(merged) == [(0.0, 2.0, "A")]


def test_merge_overlaps_never_fuses_different_speakers() -> None:
    a = ann((0.0, 2.0, "A"), (0.0, 2.0, "B"), (1.0, 3.0, "C"))
    assert a.merge_overlaps() == (a, 0)


def test_merge_overlaps_contained_and_duplicate_turns() -> None:
    a = ann((0.0, 10.0, "A"), (2.0, 3.0, "A"), (0.0, 10.0, "A"))
    merged, fusions = a.merge_overlaps()
    assert fusions == 2
    assert triples(merged) == [(0.0, 10.0, "A")]


# ---------------------------------------------------------------- support


def test_support_joins_small_gaps_per_speaker() -> None:
    a = ann((0.0, 1.0, "A"), (1.5, 2.0, "A"), (3.0, 4.0, "A"), (1.0, 2.0, "B"),
            (2.25, 3.0, "B"))
    assert triples(a.support(0.5)) == [(0.0, 2.0, "A"), (1.0, 3.0, "B"), (3.0, 4.0, "A")]
    assert triples(a.support(1.0)) == [(0.0, 4.0, "A"), (1.0, 3.0, "B")]
    assert triples(a.support(0.25)) == [(0.0, 1.0, "A"), (1.0, 3.0, "B"), (1.5, 2.0, "A"),
                                        (3.0, 4.0, "A")]
    assert triples(a.support(0.2)) == triples(a)


def test_support_zero_gap_joins_touching_and_overlapping() -> None:
    a = ann((0.0, 1.0, "A"), (1.0, 2.0, "A"), (1.5, 3.0, "A"), (5.0, 6.0, "A"),
            (0.0, 1.0, "B"))
    assert triples(a.support()) == [(0.0, 1.0, "B"), (0.0, 3.0, "A"), (5.0, 6.0, "A")]


def test_support_does_not_join_different_speakers() -> None:
    a = ann((0.0, 1.0, "A"), (1.0, 2.0, "B"), (2.0, 3.0, "A"))
    assert triples(a.support(0.0)) == triples(a)
    assert triples(a.support(1.0)) == [(0.0, 3.0, "A"), (1.0, 2.0, "B")]


# ---------------------------------------------------------------- brute force on a grid

GRID = 40
SPEAKERS = "ABC"
turn_lists = st.lists(
    st.tuples(st.integers(0, GRID), st.integers(0, GRID), st.sampled_from(SPEAKERS)).map(
        lambda t: (min(t[0], t[1]), max(t[0], t[1]), t[2])),
    max_size=10,
)


def build(turns: list[tuple[int, int, str]]) -> Annotation:
    return Annotation.from_tuples("rec", [(i / 100, j / 100, s) for i, j, s in turns])


def cells(turns: list[tuple[int, int, str]]) -> dict[str, np.ndarray]:
    """Per speaker, whether they talk over each cell [k, k+1) hundredths."""
    out = {s: np.zeros(GRID, dtype=bool) for s in SPEAKERS}
    for i, j, s in turns:
        out[s][i:j] = True
    return out


def runs(mask: np.ndarray) -> list[tuple[float, float]]:
    out, k = [], 0
    while k < len(mask):
        if mask[k]:
            j = k
            while j < len(mask) and mask[j]:
                j += 1
            out.append((k / 100, j / 100))
            k = j
        else:
            k += 1
    return out


@settings(max_examples=200, deadline=None)
@given(turns=turn_lists)
def test_counts_match_brute_force(turns: list[tuple[int, int, str]]) -> None:
    a = build(turns)
    c = cells(turns)
    talking = np.stack([c[s] for s in SPEAKERS]).sum(axis=0)  # distinct speakers per cell

    assert pairs_of(a.speech()) == runs(talking >= 1)
    assert pairs_of(a.overlap()) == runs(talking >= 2)
    for s in SPEAKERS:
        assert pairs_of(a.speaker_timeline(s)) == runs(c[s])
    assert a.speakers == tuple(sorted({s for _, _, s in turns}))

    cuts, count = a.speaker_count()
    assert len(count) == max(len(cuts) - 1, 0)
    assert np.all(np.diff(cuts) > 0)
    for k in range(len(count)):
        mid = 0.5 * (cuts[k] + cuts[k + 1])
        cell = int(np.floor(mid * 100))
        assert count[k] == talking[cell]
    # the cuts are exactly the turn boundaries
    assert set(cuts.tolist()) == {i / 100 for i, _, _ in turns} | {j / 100 for _, j, _ in turns}


@settings(max_examples=200, deadline=None)
@given(turns=turn_lists)
def test_merge_overlaps_properties(turns: list[tuple[int, int, str]]) -> None:
    a = build(turns)
    merged, fusions = a.merge_overlaps()
    assert len(merged) == len(a) - fusions
    for s in SPEAKERS:
        # same time per speaker
        assert merged.speaker_timeline(s) == a.speaker_timeline(s)
        mine = [t for t in merged.turns if t.speaker == s]
        # no two remaining turns of one speaker overlap by a positive length
        for x, y in zip(mine, mine[1:]):
            assert y.start >= x.end - EPSILON
    assert merged.merge_overlaps()[1] == 0  # idempotent
    # the number of fusions, brute force: per speaker, sort by (start, end) and count
    # the turns that start strictly before the running end
    expected = 0
    for s in SPEAKERS:
        running = None
        for i, j, _ in sorted(t for t in turns if t[2] == s):
            if running is not None and i < running:
                expected += 1
                running = max(running, j)
            else:
                running = j
    assert fusions == expected


@settings(max_examples=200, deadline=None)
@given(turns=turn_lists, gap=st.integers(0, 10))
def test_support_matches_brute_force(turns: list[tuple[int, int, str]], gap: int) -> None:
    a = build(turns)
    max_gap = (gap + 0.5) / 100  # halfway between grid gaps: no tie to decide
    c = cells(turns)
    expected = []
    for s in SPEAKERS:
        mask = c[s].copy()
        # fill interior holes no longer than `gap` cells
        segs = runs(mask)
        for (_, e), (b, _) in zip(segs, segs[1:]):
            if round((b - e) * 100) <= gap:
                mask[round(e * 100): round(b * 100)] = True
        expected += [(x, y, s) for x, y in runs(mask)]
    assert triples(a.support(max_gap)) == sorted(expected)


def test_pyannote_round_trip_keeps_uri_speakers_and_times() -> None:
    import sys
    from pathlib import Path as _P

    sys.path.insert(0, str(_P(__file__).resolve().parents[1]))
    from needs import require

    try:
        import pyannote.core  # noqa: F401
    except ImportError:
        require(False, "pyannote.core is not installed (pip install 'diarefine[test]')")
    ours = Annotation.from_tuples("rec", [(0.5, 2.0, "alice"), (1.5, 3.25, "bob"),
                                          (4.0, 5.0, "alice")])
    theirs = ours.to_pyannote()
    assert theirs.uri == "rec" and sorted(theirs.labels()) == ["alice", "bob"]
    assert [(s.start, s.end, label) for s, _, label in theirs.itertracks(yield_label=True)] \
        == [(0.5, 2.0, "alice"), (1.5, 3.25, "bob"), (4.0, 5.0, "alice")]
    back = Annotation.from_pyannote(theirs)
    assert back == ours
    from pyannote.core import Annotation as PA
    from pyannote.core import Segment as PS

    overlapping = PA(uri="x")
    overlapping[PS(0, 2), "a"] = 1
    overlapping[PS(1, 3), "b"] = 1  # the same label on overlapping tracks: fused
    assert [(t.start, t.end, t.speaker) for t in Annotation.from_pyannote(overlapping).turns] \
        == [(0.0, 3.0, "1")]
