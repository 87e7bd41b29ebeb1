"""DER by number of simultaneous speakers: hand-computed values and exact agreement with
the DER components."""

from __future__ import annotations

import numpy as np
import pytest

from diarefine.core import Annotation, Timeline
from diarefine.core.annotation import Turn
from diarefine.metrics import ScoreSettings, diarization_error, score_corpus
from diarefine.metrics.speaker_count import (
    CountBreakdown,
    breakdown_of,
    corpus_breakdown,
    count_breakdown,
    count_text,
)
from randomdiar import perturb, random_annotation


def _ann(*turns: tuple[float, float, str]) -> Annotation:
    return Annotation("f", tuple(Turn(a, b, s) for a, b, s in turns))


def test_hand_computed_breakdown() -> None:
    # reference: A 0-10, B 4-8, C 6-7 -> counts 1 (0-4), 2 (4-6), 3 (6-7), 2 (7-8), 1 (8-10)
    ref = _ann((0, 10, "A"), (4, 8, "B"), (6, 7, "C"))
    # system: x 0-9 (maps to A), y 5-8 (maps to B), z 9-10 (unmapped: A's time -> confusion)
    hyp = _ann((0, 9, "x"), (5, 8, "y"), (9, 10, "z"))
    b = count_breakdown(ref, hyp, max_count=3)
    expected = np.zeros((4, 4))
    expected[1, 1] = 4 + 1 + 1  # 0-4, 8-9, 9-10
    expected[2, 1] = 1  # 4-5
    expected[2, 2] = 1 + 1  # 5-6, 7-8
    expected[3, 2] = 1  # 6-7
    np.testing.assert_allclose(b.seconds, expected)
    np.testing.assert_allclose(b.scored, [0, 6, 6, 3])
    np.testing.assert_allclose(b.miss, [0, 0, 1, 1])  # B at 4-5; one of three at 6-7
    np.testing.assert_allclose(b.false_alarm, [0, 0, 0, 0])
    np.testing.assert_allclose(b.confusion, [0, 1, 0, 0])  # z talks for A at 9-10
    # miss no system outputting <= k speakers avoids: sum of max(n_ref - k, 0) * time
    np.testing.assert_allclose(b.beyond, [15, 3 + 2, 1, 0])
    result = diarization_error(ref, hyp)
    assert b.miss.sum() == pytest.approx(result.components.miss)
    assert b.confusion.sum() == pytest.approx(result.components.confusion)


def test_counts_above_the_cap_share_the_last_row() -> None:
    ref = _ann((0, 2, "A"), (0, 2, "B"), (0, 2, "C"), (0, 1, "D"))
    b = count_breakdown(ref, _ann((0, 2, "x")), max_count=2)
    np.testing.assert_allclose(b.seconds, [[0, 0, 0], [0, 0, 0], [0, 2, 0]])
    np.testing.assert_allclose(b.miss, [0, 0, 2 * 2 + 1 * 1])
    np.testing.assert_allclose(b.beyond, [7, 5, 3])  # the true counts, not the capped ones


@pytest.mark.filterwarnings("ignore:.*UEM")  # half the files have no UEM line, on purpose
@pytest.mark.parametrize("collar,skip_overlap", [(0.0, False), (0.25, False), (0.0, True),
                                                 (0.5, True)])
def test_rows_sum_to_the_der_components(collar: float, skip_overlap: bool) -> None:
    rng = np.random.default_rng(7)
    total = CountBreakdown.empty()
    refs, hyps, uems = {}, {}, {}
    for k in range(12):
        ref = random_annotation(rng, f"r{k}", int(rng.integers(1, 6)), 60.0)
        hyp = perturb(rng, ref, int(rng.integers(1, 5)))
        uem = Timeline([(5.0, 50.0)]) if k % 2 else None
        result = diarization_error(ref, hyp, uem, collar, skip_overlap)
        b = breakdown_of(result)
        c = result.components
        assert b.miss.sum() == pytest.approx(c.miss, abs=1e-9)
        assert b.false_alarm.sum() == pytest.approx(c.false_alarm, abs=1e-9)
        assert b.confusion.sum() == pytest.approx(c.confusion, abs=1e-9)
        assert b.scored.sum() == pytest.approx(c.scored, abs=1e-9)
        # speaker-seconds of row i are i times its seconds (below the cap)
        np.testing.assert_allclose(b.scored[:4], np.arange(4) * b.seconds[:4].sum(axis=1),
                                   atol=1e-9)
        # the time a system with no speakers could not avoid missing is all scored speech
        assert b.beyond[0] == pytest.approx(c.scored, abs=1e-9)
        if skip_overlap:
            assert b.seconds[2:].sum() == 0
        total = total + b
        refs[ref.uri], hyps[ref.uri] = ref, hyp
        if uem is not None:
            uems[ref.uri] = uem
    settings = ScoreSettings(collar=collar, skip_overlap=skip_overlap)
    corpus = corpus_breakdown(refs, hyps, uems, settings)
    overall = score_corpus(refs, hyps, uems, settings).overall.der
    assert corpus.miss.sum() == pytest.approx(overall.miss, abs=1e-6)
    assert corpus.confusion.sum() == pytest.approx(overall.confusion, abs=1e-6)
    assert corpus.false_alarm.sum() == pytest.approx(overall.false_alarm, abs=1e-6)
    np.testing.assert_allclose(corpus.seconds, total.seconds, atol=1e-9)


def test_text_lists_every_count_and_the_unavoidable_miss() -> None:
    ref = _ann((0, 10, "A"), (4, 8, "B"), (6, 7, "C"))
    text = count_text(count_breakdown(ref, _ann((0, 10, "x"))))
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[2:8]] == ["0", "1", "2", "3", "4+", "all"]
    # 15 speaker-seconds scored; the unavoidable miss for <= 2 speakers is 1 s = 6.67 %
    assert lines[-1].endswith("/ 6.67 / 0.00 %")
