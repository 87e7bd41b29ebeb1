"""Bootstrap intervals of a pooled DER, checked against the exact resampling distribution."""

import numpy as np
import pytest

from diarefine.metrics.bootstrap import bootstrap_der, bootstrap_difference


def test_value_is_the_pooled_der():
    # errors 1 + 3 + 2 over 10 + 10 + 20 scored seconds
    got = bootstrap_der([1.0, 3.0, 2.0], [10.0, 10.0, 20.0])
    assert got.value == pytest.approx(6.0 / 40.0)


def test_two_files_exact_distribution():
    # DERs 0.1 and 0.3 on equal scored time: a resample pools to 0.1 (p 1/4), 0.2 (p 1/2)
    # or 0.3 (p 1/4), so the central 95 % spans exactly [0.1, 0.3] and the central 40 %
    # (quantiles 0.3 and 0.7) sits on 0.2
    wide = bootstrap_der([1.0, 3.0], [10.0, 10.0], level=0.95, draws=40_000)
    assert (wide.low, wide.high) == pytest.approx((0.1, 0.3))
    narrow = bootstrap_der([1.0, 3.0], [10.0, 10.0], level=0.4, draws=40_000)
    assert (narrow.low, narrow.high) == pytest.approx((0.2, 0.2))


def test_three_files_span_the_extreme_files():
    # each file alone is drawn three times with probability 1/27 (3.7 % > 2.5 %): the 95 %
    # interval runs from the lowest to the highest file DER, whatever their scored times
    errors, scored = [2.0, 1.0, 9.0], [20.0, 5.0, 30.0]
    got = bootstrap_der(errors, scored, draws=50_000)
    ders = np.array(errors) / np.array(scored)
    assert (got.low, got.high) == pytest.approx((ders.min(), ders.max()))


def test_equal_files_give_no_spread():
    got = bootstrap_der([2.0, 4.0, 1.0], [10.0, 20.0, 5.0], draws=500)
    assert got.low == pytest.approx(0.2) and got.high == pytest.approx(0.2)


def test_pairing_removes_what_both_systems_share():
    # b is a plus one point of DER on every file: every paired resample differs by exactly
    # -0.01, however much the files themselves differ
    scored = np.array([10.0, 40.0, 25.0, 5.0])
    a = np.array([1.0, 20.0, 3.0, 4.0])
    got = bootstrap_difference(a, a + 0.01 * scored, scored, draws=2000)
    assert (got.value, got.low, got.high) == pytest.approx((-0.01, -0.01, -0.01))
    # unpaired, the same files spread widely
    alone = bootstrap_der(a, scored, draws=2000)
    assert alone.high - alone.low > 0.1


def test_files_with_nothing_scored_are_allowed():
    got = bootstrap_der([0.0, 3.0], [0.0, 10.0], draws=1000)
    assert (got.value, got.low, got.high) == pytest.approx((0.3, 0.3, 0.3))


def test_same_seed_same_interval():
    args = ([1.0, 5.0, 2.0, 7.0], [10.0, 12.0, 9.0, 30.0])
    assert bootstrap_der(*args, seed=3) == bootstrap_der(*args, seed=3)


@pytest.mark.parametrize("errors, scored, level, match", [
    ([1.0], [1.0, 2.0], 0.95, "one value per file"),
    ([], [], 0.95, "one value per file"),
    ([1.0], [0.0], 0.95, "not all zero"),
    ([1.0], [-1.0], 0.95, "non-negative"),
    ([1.0], [2.0], 1.0, "level"),
])
def test_bad_input(errors, scored, level, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_der(errors, scored, level=level)
