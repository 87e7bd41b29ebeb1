"""Timeline: hand cases, brute-force agreement of every set operation, algebraic laws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diarefine.core.segment import Segment
from diarefine.core.timeline import Timeline

# ---------------------------------------------------------------- helpers

GRID = 60  # endpoints are k / 100 for k in 0..GRID


def pairs_of(tl: Timeline) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in tl.bounds]


def assert_normalized(tl: Timeline) -> None:
    """Sorted, non-empty, disjoint and non-touching rows."""
    b = tl.bounds
    assert b.ndim == 2 and b.shape[1] == 2
    assert np.all(b[:, 1] > b[:, 0])
    assert np.all(b[1:, 0] > b[:-1, 1])


# ---------------------------------------------------------------- Segment


def test_segment_basics() -> None:
    s = Segment(1.0, 3.0)
    assert s.duration == 2.0
    assert s.middle == 2.0
    assert bool(s)
    assert not Segment(2.0, 2.0)
    assert s.contains(1.0) and s.contains(2.999) and not s.contains(3.0)
    assert not s.contains(0.999)
    assert s.shifted(-1.0) == Segment(0.0, 2.0)
    assert s.intersection(Segment(2.0, 5.0)) == Segment(2.0, 3.0)
    assert s.intersection(Segment(3.0, 5.0)) is None  # touching: no shared time
    assert s.intersects(Segment(2.5, 2.6)) and not s.intersects(Segment(3.0, 4.0))
    assert Segment(0.0, 1.0) < Segment(0.0, 2.0) < Segment(1.0, 1.5)


def test_zero_length_segment_intersects_nothing() -> None:
    point = Segment(2.0, 2.0)
    assert Segment(1.0, 3.0).intersection(point) is None  # agrees with the docstring
    assert not Segment(1.0, 3.0).intersects(point)
    assert not point.intersects(Segment(1.0, 3.0))


@pytest.mark.parametrize(
    ("start", "end"), [(2.0, 1.0), (float("nan"), 1.0), (0.0, float("inf")), (0.0, float("nan"))]
)
def test_segment_validation(start: float, end: float) -> None:
    with pytest.raises(ValueError):
        Segment(start, end)


# ---------------------------------------------------------------- construction


def test_merges_overlapping_and_touching_drops_empty() -> None:
    tl = Timeline([(3.0, 4.0), (0.5, 2.0), (0.0, 1.0), (6.0, 6.0), (4.0, 5.0), (7.0, 7.5)])
    assert pairs_of(tl) == [(0.0, 2.0), (3.0, 5.0), (7.0, 7.5)]
    assert len(tl) == 3
    assert list(tl) == [Segment(0.0, 2.0), Segment(3.0, 5.0), Segment(7.0, 7.5)]
    assert tl.duration() == pytest.approx(2.0 + 2.0 + 0.5)


def test_nested_and_chained_intervals() -> None:
    # [0, 10) swallows everything after it even though [1, 2) ends earlier
    tl = Timeline([(0.0, 10.0), (1.0, 2.0), (9.0, 12.0), (12.0, 13.0), (13.5, 14.0)])
    assert pairs_of(tl) == [(0.0, 13.0), (13.5, 14.0)]
    # unsorted chain that only connects through the last interval
    tl = Timeline([(4.0, 6.0), (0.0, 1.0), (2.0, 3.0), (0.5, 4.5)])
    assert pairs_of(tl) == [(0.0, 6.0)]


def test_accepts_segments_tuples_and_arrays() -> None:
    a = Timeline([Segment(0.0, 1.0), (2.0, 3.0)])
    b = Timeline.from_array(np.array([[2.0, 3.0], [0.0, 1.0]]))
    c = Timeline.from_array(np.array([0.0, 1.0, 2.0, 3.0]))  # flat -> reshaped to (n, 2)
    assert a == b == c
    assert hash(a) == hash(b)
    assert a != Timeline([(0.0, 1.0)])
    assert a != "not a timeline"


def test_empty_timeline() -> None:
    empties = (Timeline(), Timeline([]), Timeline([(1.0, 1.0)]),
               Timeline.from_array(np.zeros((0, 2))))
    for tl in empties:
        assert len(tl) == 0
        assert not tl
        assert tl.bounds.shape == (0, 2)
        assert tl.duration() == 0.0
        assert tl.extent() is None
        assert not tl.contains(0.0)
        assert list(tl) == []
        assert tl.gaps() == Timeline()
        assert tl == Timeline()


def test_bounds_are_read_only() -> None:
    tl = Timeline([(0.0, 1.0)])
    with pytest.raises(ValueError):
        tl.bounds[0, 0] = 5.0
    assert pairs_of(tl) == [(0.0, 1.0)]


def test_input_array_is_not_aliased() -> None:
    arr = np.array([[0.0, 1.0], [2.0, 3.0]])
    tl = Timeline.from_array(arr)
    arr[0, 1] = 100.0
    assert pairs_of(tl) == [(0.0, 1.0), (2.0, 3.0)]


@pytest.mark.parametrize(
    "bad", [[(0.0, float("nan"))], [(float("inf"), 1.0)], [(-float("inf"), 0.0)]]
)
def test_non_finite_times_raise(bad: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError):
        Timeline(bad)
    with pytest.raises(ValueError):
        Timeline.from_array(np.array(bad))


def test_repr_lists_at_most_five() -> None:
    assert repr(Timeline([(0, 1), (2, 3.5)])) == "Timeline([0, 1], [2, 3.5])"
    many = Timeline([(2 * i, 2 * i + 1) for i in range(7)])
    assert repr(many).endswith("[8, 9], ...)")


# ---------------------------------------------------------------- queries


def test_extent_duration_contains() -> None:
    tl = Timeline([(1.0, 2.0), (4.0, 4.5)])
    assert tl.extent() == Segment(1.0, 4.5)
    assert tl.duration() == 1.5
    assert tl.contains(1.0)          # start included
    assert tl.contains(1.999)
    assert not tl.contains(2.0)      # end excluded
    assert not tl.contains(3.0)
    assert tl.contains(4.25)
    assert not tl.contains(4.5)
    assert not tl.contains(0.5)
    assert not tl.contains(100.0)


# ---------------------------------------------------------------- set operations, by hand

A = Timeline([(0.0, 2.0), (3.0, 5.0), (8.0, 9.0)])
B = Timeline([(1.0, 4.0), (5.0, 6.0), (9.0, 10.0)])


def test_union_by_hand() -> None:
    # [3,5) and [5,6) touch -> one run; [8,9) and [9,10) touch -> one run
    assert pairs_of(A.union(B)) == [(0.0, 6.0), (8.0, 10.0)]
    assert A.union(Timeline()) == A
    assert Timeline().union(A) == A


def test_intersection_by_hand() -> None:
    assert pairs_of(A.intersection(B)) == [(1.0, 2.0), (3.0, 4.0)]
    # touching intervals share no time
    assert A.intersection(Timeline([(2.0, 3.0), (9.0, 9.5)])) == Timeline()
    assert A.intersection(Timeline()) == Timeline()
    assert Timeline().intersection(A) == Timeline()


def test_difference_by_hand() -> None:
    assert pairs_of(A.difference(B)) == [(0.0, 1.0), (4.0, 5.0), (8.0, 9.0)]
    assert pairs_of(B.difference(A)) == [(2.0, 3.0), (5.0, 6.0), (9.0, 10.0)]
    assert A.difference(Timeline()) == A
    assert Timeline().difference(A) == Timeline()
    assert A.difference(A) == Timeline()
    # a hole in the middle splits an interval
    assert pairs_of(Timeline([(0.0, 10.0)]).difference(Timeline([(2.0, 3.0), (5.0, 7.0)]))) == [
        (0.0, 2.0), (3.0, 5.0), (7.0, 10.0)]


def test_crop_by_hand() -> None:
    assert pairs_of(A.crop(Segment(1.0, 8.5))) == [(1.0, 2.0), (3.0, 5.0), (8.0, 8.5)]
    assert A.crop(Segment(2.0, 3.0)) == Timeline()
    assert A.crop(Segment(4.0, 4.0)) == Timeline()
    assert A.crop(Segment(-5.0, 50.0)) == A


def test_gaps_by_hand() -> None:
    assert pairs_of(A.gaps()) == [(2.0, 3.0), (5.0, 8.0)]
    assert pairs_of(A.gaps(Segment(-1.0, 12.0))) == [(-1.0, 0.0), (2.0, 3.0), (5.0, 8.0),
                                                      (9.0, 12.0)]
    assert pairs_of(A.gaps(Segment(4.0, 6.0))) == [(5.0, 6.0)]
    assert pairs_of(A.gaps(Segment(20.0, 30.0))) == [(20.0, 30.0)]
    assert Timeline([(0.0, 1.0)]).gaps() == Timeline()
    assert pairs_of(Timeline().gaps(Segment(1.0, 2.0))) == [(1.0, 2.0)]


def test_gaps_within_zero_length_segment_is_empty() -> None:
    tl = Timeline([(0.0, 1.0), (2.0, 3.0)])
    assert tl.gaps(Segment(5.0, 5.0)) == Timeline()
    assert tl.gaps(Segment(1.5, 1.5)) == Timeline()


# ---------------------------------------------------------------- brute force on a grid

intervals = st.lists(
    st.tuples(st.integers(0, GRID), st.integers(0, GRID)).map(lambda p: (min(p), max(p))),
    max_size=8,
)

MIDS = (np.arange(GRID + 1) + 0.5) / 100  # midpoints between grid points, and one past the end


def make(ints: list[tuple[int, int]]) -> Timeline:
    return Timeline([(i / 100, j / 100) for i, j in ints])


def brute(ints: list[tuple[int, int]]) -> np.ndarray:
    """Membership of each grid cell [k, k+1) (in hundredths), computed on integers."""
    cell = np.zeros(GRID + 1, dtype=bool)
    for i, j in ints:
        cell[i:j] = True
    return cell


def from_cells(cell: np.ndarray) -> Timeline:
    """The canonical timeline of a cell mask: maximal runs, endpoints k / 100."""
    runs, k = [], 0
    while k < len(cell):
        if cell[k]:
            j = k
            while j < len(cell) and cell[j]:
                j += 1
            runs.append((k / 100, j / 100))
            k = j
        else:
            k += 1
    return Timeline.from_array(np.array(runs).reshape(-1, 2))


def members(tl: Timeline) -> np.ndarray:
    return np.array([tl.contains(float(t)) for t in MIDS])


@settings(max_examples=200, deadline=None)
@given(a=intervals)
def test_construction_matches_brute_force(a: list[tuple[int, int]]) -> None:
    tl = make(a)
    cell = brute(a)
    assert_normalized(tl)
    assert np.array_equal(members(tl), cell)
    assert tl == from_cells(cell)
    assert tl.duration() == pytest.approx(cell.sum() / 100, abs=1e-9)
    ext = tl.extent()
    if cell.any():
        ks = np.flatnonzero(cell)
        assert ext == Segment(ks[0] / 100, (ks[-1] + 1) / 100)
    else:
        assert ext is None


@settings(max_examples=200, deadline=None)
@given(a=intervals, b=intervals)
def test_set_operations_match_brute_force(
    a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    ta, tb = make(a), make(b)
    ca, cb = brute(a), brute(b)
    for result, expected in (
        (ta.union(tb), ca | cb),
        (ta.intersection(tb), ca & cb),
        (ta.difference(tb), ca & ~cb),
        (tb.difference(ta), cb & ~ca),
    ):
        assert_normalized(result)
        assert np.array_equal(members(result), expected)
        assert result == from_cells(expected)
        assert result.duration() == pytest.approx(expected.sum() / 100, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(a=intervals, lo=st.integers(0, GRID), hi=st.integers(0, GRID))
def test_crop_and_gaps_match_brute_force(a: list[tuple[int, int]], lo: int, hi: int) -> None:
    lo, hi = min(lo, hi), max(lo, hi)
    ta, ca = make(a), brute(a)
    window = np.zeros(GRID + 1, dtype=bool)
    window[lo:hi] = True
    seg = Segment(lo / 100, hi / 100)

    cropped = ta.crop(seg)
    assert_normalized(cropped)
    assert cropped == from_cells(ca & window)

    if hi > lo:  # (zero-length `within`: see the xfail test above)
        gaps = ta.gaps(seg)
        assert_normalized(gaps)
        assert gaps == from_cells(window & ~ca)

    # default `within`: the extent
    if ca.any():
        ks = np.flatnonzero(ca)
        ext = np.zeros(GRID + 1, dtype=bool)
        ext[ks[0]: ks[-1] + 1] = True
        assert ta.gaps() == from_cells(ext & ~ca)
    else:
        assert ta.gaps() == Timeline()


# ---------------------------------------------------------------- algebraic laws


@settings(max_examples=200, deadline=None)
@given(a=intervals, b=intervals, c=intervals)
def test_algebraic_invariants(
    a: list[tuple[int, int]], b: list[tuple[int, int]], c: list[tuple[int, int]]
) -> None:
    A, B, C = make(a), make(b), make(c)
    union, inter = A.union(B), A.intersection(B)
    # inclusion-exclusion
    assert union.duration() == pytest.approx(A.duration() + B.duration() - inter.duration(),
                                             abs=1e-9)
    # commutativity (exact: the same endpoint floats come back)
    assert union == B.union(A)
    assert inter == B.intersection(A)
    # A = (A n B) u (A - B), and the two parts are disjoint
    assert inter.union(A.difference(B)) == A
    assert inter.intersection(A.difference(B)) == Timeline()
    # (A - B) n B is empty; A u B = (A - B) u B
    assert A.difference(B).intersection(B) == Timeline()
    assert A.difference(B).union(B) == union
    # idempotence and identities
    assert A.union(A) == A
    assert A.intersection(A) == A
    assert Timeline(A) == A  # rebuilding from its own segments is a no-op
    # associativity and distributivity
    assert A.union(B).union(C) == A.union(B.union(C))
    assert A.intersection(B).intersection(C) == A.intersection(B.intersection(C))
    assert A.intersection(B.union(C)) == inter.union(A.intersection(C))
    # De Morgan inside a universe U
    U = Timeline([(0.0, GRID / 100)])
    assert U.difference(A.union(B)) == U.difference(A).intersection(U.difference(B))
    assert U.difference(inter) == U.difference(A).union(U.difference(B))
    # gaps complement the timeline within its extent
    if A:
        ext = A.extent()
        assert ext is not None
        assert A.gaps().union(A) == Timeline([ext])
        assert A.gaps().intersection(A) == Timeline()
    # subset relations through durations
    assert inter.duration() <= min(A.duration(), B.duration()) + 1e-12
    assert union.duration() >= max(A.duration(), B.duration()) - 1e-12


@settings(max_examples=100, deadline=None)
@given(
    bounds=st.lists(
        st.tuples(st.floats(-1e3, 1e3), st.floats(0, 50)), min_size=0, max_size=10
    )
)
def test_arbitrary_floats_normalize_to_a_valid_union(bounds: list[tuple[float, float]]) -> None:
    # not on a grid: every input interval is inside the result, every result row is
    # covered by the union of inputs (checked at the rows' ends and midpoints)
    segs = [(s, s + d) for s, d in bounds]
    tl = Timeline(segs)
    assert_normalized(tl)
    for s, e in segs:
        if e > s:
            assert tl.contains(s)
            assert tl.contains(0.5 * (s + e)) or 0.5 * (s + e) == e
    for row in tl:
        for t in (row.start, row.middle):
            if t < row.end:
                assert any(s <= t < e for s, e in segs)
    total = sum(e - s for s, e in segs)
    assert tl.duration() <= total + 1e-9 * max(1.0, total)
