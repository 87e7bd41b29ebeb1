"""JER, B3, MI and NMI: hand-computed values, dscore's edge cases, pyannote.metrics."""

from __future__ import annotations

from math import log2, sqrt

import numpy as np
import pytest

from diarefine.core import Annotation, Timeline
from diarefine.core.time import first_frame
from diarefine.metrics import score_corpus, score_file
from diarefine.metrics.clustering import ClusteringCounts, contingency
from diarefine.metrics.frames import label_codes
from diarefine.metrics.jer import JerDetail, jer_detail, overall_jer

# Four 10 ms frames: ref labels A, A, B, (none); system labels x, y, y, y.
REF = Annotation.from_tuples("f", [(0, 0.02, "A"), (0.02, 0.03, "B")])
HYP = Annotation.from_tuples("f", [(0, 0.01, "x"), (0.01, 0.04, "y")])
UEM = Timeline([(0, 0.04)])


def brute_force_labels(annotation: Annotation, region: Timeline,
                       step: float = 0.01) -> np.ndarray:
    """dscore's frames, one by one: frame i is scored when i*step lies in the region and
    a speaker is active when i*step lies in one of its turns. (num_frames, num_speakers)"""
    last = int(first_frame(region.bounds[-1, 1], step))
    times = np.array([i * step for i in range(last + 1)])
    scored = [t for t in times if any(a - 1e-9 <= t < b - 1e-9 for a, b in region.bounds)]
    return np.array([[any(u.start - 1e-9 <= t < u.end - 1e-9 for u in annotation.turns
                          if u.speaker == s) for s in annotation.speakers] for t in scored],
                    dtype=bool).reshape(len(scored), len(annotation.speakers))


def test_frames_follow_the_start_time_rule() -> None:
    assert brute_force_labels(REF, UEM).tolist() == [[1, 0], [1, 0], [0, 1], [0, 0]]
    # a turn [0.015, 0.025) covers only the frame starting at 0.02: JER against a system
    # speaking over exactly that frame is 0.
    short = Annotation.from_tuples("f", [(0.015, 0.025, "C")])
    assert score_file(short, Annotation.from_tuples("f", [(0.02, 0.03, "z")]), UEM
                      ).scores.jer == 0.0


@pytest.mark.parametrize("seed", range(15))
def test_interval_weights_equal_explicit_frames(seed: int) -> None:
    """Counting frames per sweep interval gives exactly the frame-by-frame metrics."""
    rng = np.random.default_rng(100 + seed)
    ref = _grid_annotation(rng, "f", int(rng.integers(1, 5)), "r", 8000)
    hyp = _grid_annotation(rng, "f", int(rng.integers(1, 5)), "h", 8000)
    # move some boundaries off the 10 ms grid
    hyp = hyp.with_turns(type(t)(round(t.start + 0.004, 3), round(t.end + 0.004, 3), t.speaker)
                         for t in hyp.turns)
    uem = Timeline([(0.003, 3.5), (4.2, 7.9)])
    r, h = brute_force_labels(ref, uem), brute_force_labels(hyp, uem)
    r, h = r[:, r.any(0)], h[:, h.any(0)]
    expected_jer = jer_detail(r, h).jer
    expected = ClusteringCounts.from_contingency(contingency(label_codes(r), label_codes(h)))
    got = score_file(ref, hyp, uem)
    assert got.scores.jer == pytest.approx(expected_jer, abs=1e-12)
    assert got.scores.clustering.b3 == pytest.approx(expected.b3, abs=1e-12)
    assert got.scores.clustering.mi_nmi == pytest.approx(expected.mi_nmi, abs=1e-12)
    assert got.scores.clustering.n == expected.n


def test_b3_mi_nmi_by_hand() -> None:
    score = score_file(REF, HYP, UEM)
    # contingency rows A, B, none; columns x, y: [[1, 1], [0, 1], [0, 1]]; N = 4,
    # column sums (1, 3), row sums (2, 1, 1).
    p = (1 / 1 + 1 / 3 + 1 / 3 + 1 / 3) / 4
    r = (1 / 2 + 1 / 2 + 1 / 1 + 1 / 1) / 4
    mi = 0.25 * log2(4 * 1 / (2 * 1)) + 0.25 * log2(4 / (2 * 3)) + 2 * 0.25 * log2(4 / (1 * 3))
    h_ref = -(0.5 * log2(0.5) + 2 * 0.25 * log2(0.25))
    h_sys = -(0.25 * log2(0.25) + 0.75 * log2(0.75))
    d = score.scores.as_dict()
    assert (p, r) == pytest.approx((0.5, 0.75))
    assert d["b3_precision"] == pytest.approx(p)
    assert d["b3_recall"] == pytest.approx(r)
    assert d["b3_f1"] == pytest.approx(2 * p * r / (p + r))
    assert d["mi"] == pytest.approx(mi)
    assert d["nmi"] == pytest.approx(mi / sqrt(h_ref * h_sys))


def test_jer_by_hand_uses_the_jaccard_mapping() -> None:
    # Jaccard distances: A-x 1 - 1/2, A-y 1 - 1/4, B-x 1, B-y 1 - 1/3.
    # Best assignment A-x, B-y: JER = mean(1/2, 2/3).
    score = score_file(REF, HYP, UEM)
    assert score.jer_detail.speaker_errors == pytest.approx((0.5, 2 / 3))
    assert score.scores.jer == pytest.approx((0.5 + 2 / 3) / 2)


def test_der_of_the_same_case() -> None:
    # mapping A-x, B-y; frame 2 (A vs y) is confusion, frame 4 (none vs y) false alarm.
    der = score_file(REF, HYP, UEM).scores.der
    assert (der.confusion, der.false_alarm, der.miss, der.scored) == pytest.approx(
        (0.01, 0.01, 0, 0.03))


def test_jer_edge_cases_follow_dscore() -> None:
    no_ref = jer_detail(np.zeros((5, 0), bool), np.ones((5, 1), bool))
    no_sys = jer_detail(np.ones((5, 2), bool), np.zeros((5, 0), bool))
    neither = jer_detail(np.zeros((5, 0), bool), np.zeros((5, 0), bool))
    assert (no_ref.jer, no_sys.jer, neither.jer) == (1.0, 1.0, 0.0)
    # a file without reference speech adds no speaker to the overall mean
    assert overall_jer([no_ref, JerDetail((0.2, 0.4), 2)]) == pytest.approx(0.3)
    assert overall_jer([no_sys, JerDetail((0.0,), 1)]) == pytest.approx(2 / 3)
    assert overall_jer([neither]) == 0.0 and overall_jer([no_ref]) == 1.0


def test_mi_nmi_special_cases() -> None:
    one_each = ClusteringCounts.from_contingency(np.array([[7]]))
    one_ref = ClusteringCounts.from_contingency(np.array([[3, 4]]))
    assert one_each.mi_nmi == (0.0, 1.0)
    assert one_ref.mi_nmi == (0.0, 0.0)
    assert all(np.isnan(ClusteringCounts().b3))


def _block_diag_reference(cms: list[np.ndarray]) -> tuple[float, ...]:
    """B3 and MI/NMI straight from the definitions on the block-diagonal matrix."""
    rows = sum(c.shape[0] for c in cms)
    cols = sum(c.shape[1] for c in cms)
    big = np.zeros((rows, cols))
    i = j = 0
    for c in cms:
        big[i:i + c.shape[0], j:j + c.shape[1]] = c
        i, j = i + c.shape[0], j + c.shape[1]
    n, a, b = big.sum(), big.sum(1), big.sum(0)
    p = np.sum(big**2 / b[None, :]) / n
    r = np.sum(big**2 / a[:, None]) / n
    nz = big > 0
    mi = np.sum(big[nz] / n * np.log2(n * big[nz] / np.outer(a, b)[nz]))
    h = lambda v: -np.sum(v / n * np.log2(v / n))  # noqa: E731
    return p, r, mi, mi / np.sqrt(h(a) * h(b))


def test_overall_clustering_equals_the_block_diagonal_definition() -> None:
    rng = np.random.default_rng(3)
    cms = [rng.integers(0, 20, size=(rng.integers(2, 5), rng.integers(2, 5))) + 1
           for _ in range(4)]
    total = ClusteringCounts()
    for cm in cms:
        total = total + ClusteringCounts.from_contingency(cm)
    p, r, mi, nmi = _block_diag_reference(cms)
    assert total.b3[:2] == pytest.approx((p, r))
    assert total.mi_nmi == pytest.approx((mi, nmi))


def test_label_codes_distinguish_speaker_sets() -> None:
    labels = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [1, 1]], dtype=bool)
    codes = label_codes(labels)
    assert codes[2] == codes[4] and len(set(codes.tolist())) == 4
    cm = contingency(codes, np.zeros(5, dtype=np.int64))
    assert cm.tolist() == [[1], [1], [1], [2]]


# --- agreement with pyannote.metrics ---------------------------------------------------

def _grid_annotation(rng: np.random.Generator, uri: str, speakers: int, prefix: str,
                     duration_ms: int) -> Annotation:
    turns = []
    for k in range(speakers):
        t = int(rng.integers(0, duration_ms // 4))
        while t < duration_ms:
            length = int(rng.exponential(2500)) + 10
            end = min(t + length, duration_ms)
            turns.append((t / 1000, end / 1000, f"{prefix}{k}"))
            t = end + int(rng.exponential(2500 * speakers)) + 10
    # times on the 10 ms grid so that frame counts equal exact durations
    return Annotation.from_tuples(uri, [(round(a, 2), round(b, 2), s) for a, b, s in turns
                                        if round(b, 2) > round(a, 2)]).merge_overlaps()[0]


def _pyannote(annotation: Annotation):  # noqa: ANN202
    from pyannote.core import Annotation as PAnnotation
    from pyannote.core import Segment as PSegment

    out = PAnnotation(uri=annotation.uri)
    for i, t in enumerate(annotation.turns):
        out[PSegment(t.start, t.end), i] = t.speaker
    return out


@pytest.mark.parametrize("seed", range(40))
def test_jer_agrees_with_pyannote_metrics(seed: int) -> None:
    from pyannote.core import Segment as PSegment
    from pyannote.core import Timeline as PTimeline
    from pyannote.metrics.diarization import JaccardErrorRate

    rng = np.random.default_rng(seed)
    duration_ms = int(rng.integers(20, 90)) * 1000
    ref = _grid_annotation(rng, "f", int(rng.integers(1, 6)), "r", duration_ms)
    hyp = _grid_annotation(rng, "f", int(rng.integers(1, 6)), "h", duration_ms)
    uem = Timeline([(0, duration_ms / 1000)])
    sweep = score_file(ref, hyp, uem)
    theirs = JaccardErrorRate()(_pyannote(ref), _pyannote(hyp),
                                uem=PTimeline([PSegment(0, duration_ms / 1000)]))
    # pyannote maps speakers by maximal overlap: same mapping, same JER
    from diarefine.metrics.der import diarization_error
    from diarefine.metrics.frames import frame_counts

    s = diarization_error(ref, hyp, uem).sweep
    w = frame_counts(s.cuts) * s.inside(uem)
    assert jer_detail(s.ref, s.hyp, w, mapping="overlap").jer == pytest.approx(theirs, abs=1e-9)
    # dscore's Jaccard-optimal mapping can only do as well or better
    assert sweep.scores.jer <= theirs + 1e-9


def test_overall_jer_is_the_mean_over_all_reference_speakers() -> None:
    refs = {"a": Annotation.from_tuples("a", [(0, 1, "A")]),
            "b": Annotation.from_tuples("b", [(0, 1, "B"), (1, 2, "C"), (2, 3, "D")])}
    hyps = {"a": Annotation.from_tuples("a", [(0, 1, "x")]),
            "b": Annotation.from_tuples("b", [(0, 3, "y")])}
    report = score_corpus(refs, hyps)
    # file a: 0; file b: B-y 1 - 1/3, C and D unmapped 1, 1. Overall: (0 + 2/3 + 2) / 4.
    assert report.files["b"].scores.jer == pytest.approx((2 / 3 + 2) / 3)
    assert report.overall.jer == pytest.approx((2 / 3 + 2) / 4)
