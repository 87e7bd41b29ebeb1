"""DER on hand-computed cases: each expected value is worked out in the comment above it."""

from __future__ import annotations

import pytest

from diarefine.core import Annotation, Timeline
from diarefine.metrics import ScoreSettings, diarization_error, score_corpus


def ann(uri: str, *turns: tuple[float, float, str]) -> Annotation:
    return Annotation.from_tuples(uri, turns)


REF = ann("a", (0, 5, "A"), (4, 7, "B"))
HYP = ann("a", (0.5, 4.5, "x"), (4.5, 7.5, "y"), (6, 8, "x"))


def test_perfect_system_scores_zero() -> None:
    result = diarization_error(REF, REF.rename({"A": "s1", "B": "s2"}))
    assert result.components.errors == 0
    assert result.components.scored == pytest.approx(8.0)
    assert result.mapping == {"A": "s1", "B": "s2"}


def test_miss_false_alarm_and_overlap() -> None:
    # region [0, 7]; [0,.5] A alone unanswered: miss .5; [4,4.5] A+B vs x: miss .5;
    # [4.5,5] A+B vs y: miss .5; [6,7] B vs x+y: false alarm 1; speech after 7 is outside.
    c = diarization_error(REF, HYP).components
    assert (c.miss, c.false_alarm, c.confusion, c.scored) == pytest.approx((1.5, 1.0, 0.0, 8.0))
    assert c.der == pytest.approx(2.5 / 8)


def test_collar_is_per_side_and_skip_overlap() -> None:
    # collars of .25 around 0, 4, 5, 7 and the overlap [4, 5] leave [.25, 3.75] and
    # [5.25, 6.75] scored: 5 s of one speaker; miss [.25, .5], false alarm [6, 6.75].
    c = diarization_error(REF, HYP, collar=0.25, skip_overlap=True).components
    assert (c.miss, c.false_alarm, c.confusion, c.scored) == pytest.approx((0.25, 0.75, 0, 5.0))


def test_confusion_uses_the_optimal_mapping() -> None:
    # A talks 10 s; x says 6 of them, y the last 4: A -> x, 4 s of confusion.
    c = diarization_error(ann("a", (0, 10, "A")), ann("a", (0, 6, "x"), (6, 10, "y"))).components
    assert (c.miss, c.false_alarm, c.confusion) == pytest.approx((0, 0, 4.0))


def test_mapping_is_made_before_collars_as_md_eval_does() -> None:
    # A: four 0.5 s turns (2 s), B: one 1.5 s turn; x covers everything. Over the whole
    # region x overlaps A for 2 s and B for 1.5 s, so md-eval maps A -> x. A 0.25 s collar
    # leaves only [4.25, 5.25] (B talking) scored: 1 s of confusion, DER 100 %.
    # (Mapping after the collar, as pyannote.metrics does, would give B -> x and 0 %.)
    ref = ann("a", (0, .5, "A"), (1, 1.5, "A"), (2, 2.5, "A"), (3, 3.5, "A"), (4, 5.5, "B"))
    result = diarization_error(ref, ann("a", (0, 5.5, "x")), collar=0.25)
    assert result.mapping == {"A": "x"}
    c = result.components
    assert (c.scored, c.confusion, c.der) == pytest.approx((1.0, 1.0, 1.0))


def test_default_region_ignores_system_speech_outside_the_reference_extent() -> None:
    # md-eval scores [2, 4]; the 2 s of x before the first reference onset do not count
    # (dscore would count them as false alarm: its default region starts at 0).
    c = diarization_error(ann("a", (2, 4, "A")), ann("a", (0, 4, "x"))).components
    assert (c.false_alarm, c.scored, c.der) == (0, 2.0, 0)


def test_uem_extends_and_restricts_the_region() -> None:
    ref, hyp = ann("a", (0, 10, "A")), ann("a", (0, 10, "x"), (12, 14, "y"))
    assert diarization_error(ref, hyp, uem=Timeline([(0, 15)])).components.false_alarm == 2
    c = diarization_error(ref, hyp, uem=Timeline([(1, 3), (5, 6)])).components
    assert (c.scored, c.errors) == (3.0, 0.0)


def test_skip_overlap_keeps_md_evals_touching_zone_quirk() -> None:
    # A talks [0, 10]; B [2, 5] hands over to C [5, 8]. md-eval's -1 closes the overlap
    # zone at 5 and opens a new one at 5; because the UEM ends (6.5) inside the second
    # zone, md-eval scores [5, 6.5] anyway. Scored: [0, 2] (A) + [5, 6.5] (A and C).
    ref = ann("a", (0, 10, "A"), (2, 5, "B"), (5, 8, "C"))
    c = diarization_error(ref, ref, uem=Timeline([(0, 6.5)]), skip_overlap=True).components
    assert c.scored == pytest.approx(2 * 1 + 1.5 * 2)
    # With the UEM ending after both zones, both are removed: only A alone is scored.
    c = diarization_error(ref, ref, uem=Timeline([(0, 9)]), skip_overlap=True).components
    assert c.scored == pytest.approx(2 + 1)


def test_missing_files_on_either_side() -> None:
    refs = {"a": ann("a", (0, 4, "A")), "b": ann("b", (0, 3, "B"))}
    hyps = {"a": ann("a", (0, 4, "x")), "c": ann("c", (0, 9, "z"))}
    with pytest.warns(UserWarning) as record:
        report = score_corpus(refs, hyps)
    messages = " ".join(str(w.message) for w in record)
    assert "b" in messages and "c" in messages
    assert report.missing_hypothesis == ("b",) and report.missing_reference == ("c",)
    # b is all miss; c is not scored (md-eval iterates over references only).
    assert set(report.files) == {"a", "b"}
    o = report.overall.der
    assert (o.miss, o.false_alarm, o.scored) == (3.0, 0.0, 7.0)


def test_overall_der_sums_components_never_averages_rates() -> None:
    refs = {"a": ann("a", (0, 1, "A")), "b": ann("b", (0, 9, "B"))}
    hyps = {"a": ann("a", (0, 0.5, "x")), "b": ann("b", (0, 9, "y"))}
    report = score_corpus(refs, hyps)
    # file rates 50 % and 0 %; overall 0.5 s / 10 s = 5 %, not the 25 % mean.
    assert report.files["a"].scores.der.der == pytest.approx(0.5)
    assert report.overall.der.der == pytest.approx(0.05)


def test_empty_reference_does_not_crash() -> None:
    empty = Annotation("a")
    report = score_corpus({"a": empty}, {"a": ann("a", (1, 3, "x"))}, {"a": Timeline([(0, 5)])})
    scores = report.files["a"].scores
    # nothing to score but 2 s of false alarm: x/0 counts as 100 % (dscore's convention).
    assert (scores.der.false_alarm, scores.der.scored, scores.der.der) == (2.0, 0.0, 1.0)
    assert scores.jer == 1.0
    assert score_corpus({"a": empty}, {"a": empty}).overall.as_dict()["der"] == 0.0


def test_settings_reach_every_file() -> None:
    refs = {"a": REF}
    report = score_corpus(refs, {"a": HYP}, settings=ScoreSettings(collar=0.25, skip_overlap=True))
    assert report.overall.der.scored == pytest.approx(5.0)
