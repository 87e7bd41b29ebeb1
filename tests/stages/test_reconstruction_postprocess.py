"""Reconstruction (chunks -> global frames), post-processing (frames -> turns), and the
small pieces of the embedding stage that need no model: speaker masks, pooled statistics,
trunk spans; speaker-count constraints.

Every expected value here is computed by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from diarefine.core.annotation import Annotation
from diarefine.core.frames import FrameGrid
from diarefine.models.campplus import weighted_stats_pool
from diarefine.stages.base import ChunkScores, FrameScores, SpeakerConstraints
from diarefine.stages.embedding import pooled_stats, speaker_masks, trunk_spans
from diarefine.stages.postprocess import PostProcessor, active_runs, select_top_count
from diarefine.stages.reconstruction import global_frame_offsets, reconstruct

UNIT = FrameGrid(0.0, 1.0, 1.0)  # frame i covers [i, i + 1)


# --- reconstruction --------------------------------------------------------------------------

def hand_scores() -> ChunkScores:
    """2 chunks of 4 one-second frames, 2 s apart, 2 local speakers, threshold 0.5.

    Global frames: chunk 0 covers 0-3, chunk 1 covers 2-5.
    """
    chunk0 = [[0.9, 0.0], [0.8, 0.6], [0.2, 0.7], [0.0, 0.1]]
    chunk1 = [[0.3, 0.9], [0.0, 0.8], [0.6, 0.0], [0.7, 0.2]]
    return ChunkScores(np.array([chunk0, chunk1], dtype=np.float32), 2.0, 4.0, UNIT, 0.5)


# chunk 0: local 0 -> S0, local 1 -> S1; chunk 1: local 0 -> S2, local 1 -> S1
ASSIGNMENT = np.array([[0, 1], [2, 1]])


def test_global_frame_offsets() -> None:
    assert global_frame_offsets(hand_scores()).tolist() == [0, 2]
    grid = FrameGrid(0.0, 0.016875, 0.0619375)
    scores = ChunkScores(np.zeros((4, 589, 3), np.float32), 2.5, 10.0, grid)
    # 2.5 / 0.016875 = 148.148 -> 148, 296.3 -> 296, 444.4 -> 444
    assert global_frame_offsets(scores).tolist() == [0, 148, 296, 444]


def test_reconstruct_uniform_by_hand() -> None:
    out = reconstruct(hand_scores(), ASSIGNMENT, 3, duration=6.0, count="active")
    # coverage: 1 1 2 2 1 1. Active local speakers (> 0.5): chunk 0: 1 2 1 0,
    # chunk 1: 1 1 1 1 -> sums 1 2 2 1 1 1 -> means 1 2 1 0.5 1 1; rint(0.5) = 0 (to even)
    assert out.count.tolist() == [1, 2, 1, 0, 1, 1]
    expected = np.array([
        # S0 (chunk 0 local 0), S1 (chunk 0 local 1 + chunk 1 local 1), S2 (chunk 1 local 0)
        [0.9, 0.0, 0.0],
        [0.8, 0.6, 0.0],
        [0.2 / 2, (0.7 + 0.9) / 2, 0.3 / 2],
        [0.0, (0.1 + 0.8) / 2, 0.0],
        [0.0, 0.0, 0.6],
        [0.0, 0.2, 0.7],
    ])
    np.testing.assert_allclose(out.data, expected, atol=1e-6)
    assert out.data.dtype == np.float32 and out.count.dtype == np.int64
    assert out.frames == UNIT


def test_reconstruct_powerset_count_by_hand() -> None:
    # P(0, 1, 2 speakers) per frame; chunk 0 covers global frames 0-3, chunk 1 frames 2-5
    probs0 = [[0.1, 0.8, 0.1], [0.3, 0.2, 0.5], [0.5, 0.4, 0.1], [0.9, 0.1, 0.0]]
    probs1 = [[0.1, 0.25, 0.65], [0.2, 0.7, 0.1], [0.5, 0.5, 0.0], [0.35, 0.3, 0.35]]
    base = hand_scores()
    scores = ChunkScores(base.data, 2.0, 4.0, UNIT, 0.5,
                         np.array([probs0, probs1], dtype=np.float32))
    out = reconstruct(scores, ASSIGNMENT, 3, duration=6.0, count="powerset",
                      speech_threshold=0.6, overlap_threshold=0.4)
    # averaged P(>=1), P(2): f0 0.9, 0.1 -> 1; f1 0.7, 0.5 -> 2;
    # f2 (0.5 + 0.9)/2 = 0.7, (0.1 + 0.65)/2 = 0.375 -> 1;
    # f3 (0.1 + 0.8)/2 = 0.45 -> 0; f4 0.5 -> 0; f5 0.65, 0.35 -> 1
    assert out.count.tolist() == [1, 2, 1, 0, 0, 1]
    # the activations do not depend on how the count is made
    active = reconstruct(base, ASSIGNMENT, 3, 6.0, count="active")
    np.testing.assert_array_equal(out.data, active.data)
    capped = reconstruct(scores, ASSIGNMENT, 3, 6.0, max_count=1, count="powerset",
                         speech_threshold=0.6, overlap_threshold=0.4)
    assert capped.count.tolist() == [1, 1, 1, 0, 0, 1]
    # the defaults are the pipeline's: the powerset count with its measured thresholds
    np.testing.assert_array_equal(reconstruct(scores, ASSIGNMENT, 3, 6.0).count, out.count)
    with pytest.raises(ValueError, match="needs ChunkScores.count_probs"):
        reconstruct(base, ASSIGNMENT, 3, 6.0)
    with pytest.raises(ValueError, match="'active' or 'powerset'"):
        reconstruct(scores, ASSIGNMENT, 3, 6.0, count="mean")


def test_powerset_count_with_hysteresis_by_hand() -> None:
    from diarefine.stages.reconstruction import hysteresis

    p = np.array([0.1, 0.7, 0.5, 0.45, 0.3, 0.5, 0.65, 0.2])
    assert hysteresis(p, 0.6, 0.4).tolist() == [0, 1, 1, 1, 0, 0, 1, 0]
    assert hysteresis(p, 0.6, 0.6).tolist() == (p > 0.6).tolist()
    assert hysteresis(np.array([0.5, 0.7]), 0.6, 0.4).tolist() == [0, 1]  # starts off
    assert hysteresis(np.zeros(0), 0.6, 0.4).tolist() == []
    probs0 = [[0.1, 0.8, 0.1], [0.3, 0.2, 0.5], [0.5, 0.4, 0.1], [0.9, 0.1, 0.0]]
    probs1 = [[0.1, 0.25, 0.65], [0.2, 0.7, 0.1], [0.5, 0.5, 0.0], [0.35, 0.3, 0.35]]
    base = hand_scores()
    scores = ChunkScores(base.data, 2.0, 4.0, UNIT, 0.5,
                         np.array([probs0, probs1], dtype=np.float32))
    # P(>=1): .9 .7 .7 .45 .5 .65; P(2): .1 .5 .375 .05 0 .35 (previous test)
    speech = reconstruct(scores, ASSIGNMENT, 3, 6.0, speech_threshold=0.6,
                         overlap_threshold=0.4, speech_off_threshold=0.42)
    assert speech.count.tolist() == [1, 2, 1, 1, 1, 1]  # speech lasts through .45 and .5
    overlap = reconstruct(scores, ASSIGNMENT, 3, 6.0, speech_threshold=0.6,
                          overlap_threshold=0.4, overlap_off_threshold=0.3)
    assert overlap.count.tolist() == [1, 2, 2, 0, 0, 1]  # the second speaker through .375
    # None on both: the plain thresholds, bit for bit
    plain = reconstruct(scores, ASSIGNMENT, 3, 6.0, speech_threshold=0.6,
                        overlap_threshold=0.4, speech_off_threshold=None)
    assert plain.count.tolist() == [1, 2, 1, 0, 0, 1]


def test_reconstruct_hamming_by_hand() -> None:
    out = reconstruct(hand_scores(), ASSIGNMENT, 3, duration=6.0, weighting="hamming",
                      count="active")
    # np.hamming(4) = 0.54 - 0.46 cos(2 pi n / 3) = .08 .77 .77 .08, plus 1e-3
    a, b = 0.081, 0.771
    cover = np.array([a, b, b + a, a + b, b, a])
    # weighted active counts: g2 = b*1 + a*1 -> 1; g3 = a*0 + b*1 = .771/.852 = .905 -> 1
    assert out.count.tolist() == [1, 2, 1, 1, 1, 1]
    expected = np.array([
        [a * 0.9, 0.0, 0.0],
        [b * 0.8, b * 0.6, 0.0],
        [b * 0.2, b * 0.7 + a * 0.9, a * 0.3],
        [0.0, a * 0.1 + b * 0.8, 0.0],
        [0.0, 0.0, b * 0.6],
        [0.0, a * 0.2, a * 0.7],
    ]) / cover[:, None]
    np.testing.assert_allclose(out.data, expected, atol=1e-6)


def test_reconstruct_max_count_unassigned_and_padding() -> None:
    scores = hand_scores()
    capped = reconstruct(scores, ASSIGNMENT, 3, duration=6.0, max_count=1, count="active")
    assert capped.count.tolist() == [1, 1, 1, 0, 1, 1]
    # an unassigned local speaker still counts as speech but feeds no global speaker
    partial = reconstruct(scores, np.array([[0, -1], [-1, -1]]), 1, duration=6.0,
                          count="active")
    assert partial.count.tolist() == [1, 2, 1, 0, 1, 1]
    np.testing.assert_allclose(partial.data[:, 0], [0.9, 0.8, 0.1, 0.0, 0.0, 0.0], atol=1e-6)
    # frames after the last chunk (duration 8 s: frames 6 and 7) are silent
    longer = reconstruct(scores, ASSIGNMENT, 3, duration=8.0, count="active")
    assert longer.count.tolist() == [1, 2, 1, 0, 1, 1, 0, 0]
    assert longer.data.shape == (8, 3) and not longer.data[6:].any()
    # a duration shorter than the chunks never cuts them
    assert reconstruct(scores, ASSIGNMENT, 3, duration=3.0, count="active").data.shape == (6, 3)


def test_reconstruct_rejects_unknown_weighting() -> None:
    with pytest.raises(ValueError, match="weighting"):
        reconstruct(hand_scores(), ASSIGNMENT, 3, 6.0, weighting="triangle", count="active")


def test_reconstruct_no_speaker() -> None:
    out = reconstruct(hand_scores(), np.full((2, 2), -1), 0, duration=6.0,
                      count="active")
    assert out.data.shape == (6, 0)
    assert out.count.tolist() == [1, 2, 1, 0, 1, 1]


# --- post-processing -----------------------------------------------------------------------------

def frame_scores(data: list[list[float]], count: list[int], grid: FrameGrid = UNIT
                 ) -> FrameScores:
    return FrameScores(np.array(data, dtype=np.float32), np.array(count, dtype=np.int64), grid)


def turns(annotation: Annotation) -> list[tuple[float, float, str]]:
    return [(t.start, t.end, t.speaker) for t in annotation.turns]


def test_active_runs() -> None:
    track = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert active_runs(track) == [(0, 2), (4, 5), (6, 9)]
    assert active_runs(np.zeros(4, bool)) == []
    assert active_runs(np.ones(3, bool)) == [(0, 3)]
    assert active_runs(np.zeros(0, bool)) == []


def test_select_top_count() -> None:
    scores = frame_scores(
        [[0.9, 0.5, 0.7], [0.2, 0.8, 0.4], [0.3, 0.3, 0.1], [0.0, 0.0, 0.6], [0.5, 0.1, 0.0]],
        [1, 2, 1, 2, 0])
    # frame 2: a tie is won by the lower index; frame 3: only one speaker has activity > 0
    assert select_top_count(scores).astype(int).tolist() == [
        [1, 0, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1], [0, 0, 0]]
    empty = FrameScores(np.zeros((0, 2), np.float32), np.zeros(0, np.int64), UNIT)
    assert select_top_count(empty).shape == (0, 2)


def test_turns_span_whole_frames() -> None:
    grid = FrameGrid(0.0, 0.016875, 0.0619375)  # segmentation-3.0
    data = np.zeros((100, 1), np.float32)
    data[10:20] = 1.0
    scores = FrameScores(data, (data[:, 0] > 0).astype(np.int64), grid)
    diarization, exclusive = PostProcessor()(scores, "u", ["A"])
    # from centre(10) - step/2 to centre(19) + step/2
    start = 10 * 0.016875 + 0.0619375 / 2 - 0.016875 / 2
    end = 19 * 0.016875 + 0.0619375 / 2 + 0.016875 / 2
    assert len(diarization) == 1 and diarization.turns[0].speaker == "A"
    assert diarization.turns[0].start == pytest.approx(start)
    assert diarization.turns[0].end == pytest.approx(end)
    assert diarization.turns[0].duration == pytest.approx(10 * 0.016875)
    assert exclusive == diarization


def one_speaker(track: str) -> FrameScores:
    bits = [[float(c)] for c in track]
    return frame_scores(bits, [1] * len(bits))


def test_min_duration_off_fills_gaps_then_min_duration_on_drops() -> None:
    scores = one_speaker("1100111000001")  # runs [0,2) [4,7) [12,13)
    assert turns(PostProcessor()(scores, "u", ["A"])[0]) == [
        (0.0, 2.0, "A"), (4.0, 7.0, "A"), (12.0, 13.0, "A")]
    # gap 2 < 2.5 filled, gap 5 kept
    assert turns(PostProcessor(min_duration_off=2.5)(scores, "u", ["A"])[0]) == [
        (0.0, 7.0, "A"), (12.0, 13.0, "A")]
    # a gap exactly min_duration_off long is kept (strictly shorter ones are filled)
    assert turns(PostProcessor(min_duration_off=2.0)(scores, "u", ["A"])[0]) == [
        (0.0, 2.0, "A"), (4.0, 7.0, "A"), (12.0, 13.0, "A")]
    # turns shorter than min_duration_on go (after filling): [0,2) and [12,13) are dropped
    assert turns(PostProcessor(min_duration_on=2.5)(scores, "u", ["A"])[0]) == [
        (4.0, 7.0, "A")]
    assert turns(PostProcessor(min_duration_on=2.0)(scores, "u", ["A"])[0]) == [
        (0.0, 2.0, "A"), (4.0, 7.0, "A")]  # exactly min_duration_on is kept
    assert turns(PostProcessor(min_duration_off=2.5, min_duration_on=2.0)(
        scores, "u", ["A"])[0]) == [(0.0, 7.0, "A")]


def test_median_filter() -> None:
    scores = one_speaker("0101100111")
    # size 3, edges repeated: 0 0 1 1 1 0 0 1 1 1
    out = PostProcessor(median_filter=3)(scores, "u", ["A"])[0]
    assert turns(out) == [(2.0, 5.0, "A"), (7.0, 10.0, "A")]
    # size 5: windows [0 0 0 1 0] [0 0 1 0 1] [0 1 0 1 1] [1 0 1 1 0] [0 1 1 0 0]
    # [1 1 0 0 1] [1 0 0 1 1] [0 0 1 1 1] [0 1 1 1 1] [1 1 1 1 1] -> 0 0 1 1 0 1 1 1 1 1
    out = PostProcessor(median_filter=5)(scores, "u", ["A"])[0]
    assert turns(out) == [(2.0, 4.0, "A"), (5.0, 10.0, "A")]
    assert turns(PostProcessor(median_filter=1)(scores, "u", ["A"])[0]) == [
        (1.0, 2.0, "A"), (3.0, 5.0, "A"), (7.0, 10.0, "A")]


def test_median_filter_works_per_speaker() -> None:
    scores = frame_scores([[1, 0], [0, 1], [1, 0], [1, 0], [0, 1], [0, 1]], [1] * 6)
    # A: 1 0 1 1 0 0 -> 1 1 1 1 0 0 ; B: 0 1 0 0 1 1 -> 0 0 0 0 1 1
    out = PostProcessor(median_filter=3)(scores, "u", ["A", "B"])[0]
    assert turns(out) == [(0.0, 4.0, "A"), (4.0, 6.0, "B")]


def test_extra_threshold_adds_speakers_beyond_the_count() -> None:
    scores = frame_scores([[0.9, 0.7], [0.9, 0.3]], [1, 1])
    assert turns(PostProcessor()(scores, "u", ["A", "B"])[0]) == [(0.0, 2.0, "A")]
    assert turns(PostProcessor(extra_threshold=0.5)(scores, "u", ["A", "B"])[0]) == [
        (0.0, 1.0, "B"), (0.0, 2.0, "A")]  # turns sorted by (start, end, speaker)


def test_exclusive_keeps_the_most_active_selected_speaker() -> None:
    scores = frame_scores([[0.9, 0.2, 0.0], [0.6, 0.8, 0.0], [0.7, 0.5, 0.1], [0.0, 0.0, 0.3]],
                          [1, 2, 2, 1])
    diarization, exclusive = PostProcessor()(scores, "u", ["A", "B", "C"])
    assert turns(diarization) == [(0.0, 3.0, "A"), (1.0, 3.0, "B"), (3.0, 4.0, "C")]
    assert turns(exclusive) == [(0.0, 1.0, "A"), (1.0, 2.0, "B"), (2.0, 3.0, "A"),
                                (3.0, 4.0, "C")]
    assert diarization.uri == exclusive.uri == "u"


def test_no_frames_no_turns() -> None:
    scores = FrameScores(np.zeros((0, 2), np.float32), np.zeros(0, np.int64), UNIT)
    diarization, exclusive = PostProcessor(median_filter=5)(scores, "u", ["A", "B"])
    assert len(diarization) == len(exclusive) == 0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), speakers=st.integers(1, 4),
       median=st.sampled_from([1, 3, 5]), min_on=st.sampled_from([0.0, 0.05, 0.5]),
       extra=st.sampled_from([1.0, 0.6]))
def test_exclusive_never_overlaps_and_is_within_the_diarization(
        seed: int, speakers: int, median: int, min_on: float, extra: float) -> None:
    rng = np.random.default_rng(seed)
    frames = 200
    data = rng.random((frames, speakers)).astype(np.float32) * (rng.random((frames, speakers))
                                                                  < 0.6)
    count = rng.integers(0, min(speakers, 2) + 1, size=frames)
    grid = FrameGrid(0.0, 0.016875, 0.0619375)
    scores = FrameScores(data, count, grid)
    post = PostProcessor(median_filter=median, min_duration_on=min_on, extra_threshold=extra)
    labels = [f"S{k}" for k in range(speakers)]
    diarization, exclusive = post(scores, "u", labels)
    # adjacent turns of two speakers meet at the same frame edge, computed from either
    # side: they may overlap by a rounding error, never by a frame
    assert exclusive.overlap().duration() < 1e-9
    for speaker in exclusive.speakers:
        extra_time = exclusive.speaker_timeline(speaker).difference(
            diarization.speaker_timeline(speaker))
        assert extra_time.duration() < 1e-9
    for annotation in (diarization, exclusive):
        for t in annotation.turns:
            assert t.duration >= min_on - 1e-9
            assert 0.0 <= t.start < t.end <= grid.center(frames - 1) + grid.step / 2 + 1e-9
    if median == 1 and min_on == 0.0:  # every frame with a speaker keeps exactly one
        assert exclusive.speech().duration() == pytest.approx(diarization.speech().duration())


def test_exclusive_does_not_overlap_with_min_duration_off() -> None:
    # A talks 0-10 s; B is more active at 4-6 s (count 2 there): exclusive A has a 2 s gap
    scores = frame_scores([[0.9, 0.0]] * 4 + [[0.6, 0.8]] * 2 + [[0.9, 0.0]] * 4,
                          [1] * 4 + [2] * 2 + [1] * 4)
    _, exclusive = PostProcessor(min_duration_off=2.5)(scores, "u", ["A", "B"])
    assert exclusive.overlap().duration() == 0.0  # is 2.0: A's gap 4-6 s is filled


# --- speaker constraints ------------------------------------------------------------------------

def test_speaker_constraints_validation() -> None:
    assert (SpeakerConstraints().min_speakers, SpeakerConstraints().max_speakers) == (1, None)
    fixed = SpeakerConstraints(num_speakers=3)
    assert (fixed.min_speakers, fixed.max_speakers) == (3, 3)
    for bad, match in [({"num_speakers": 0}, "num_speakers must be >= 1"),
                       ({"num_speakers": -2}, "num_speakers must be >= 1"),
                       ({"min_speakers": 0}, "min_speakers must be >= 1"),
                       ({"min_speakers": 3, "max_speakers": 2}, r"max_speakers \(2\) < "
                                                                r"min_speakers \(3\)"),
                       ({"max_speakers": 0}, r"max_speakers \(0\)")]:
        with pytest.raises(ValueError, match=match):
            SpeakerConstraints(**bad)
    ok = SpeakerConstraints(min_speakers=2, max_speakers=2)
    assert (ok.min_speakers, ok.max_speakers) == (2, 2)


def test_speaker_constraints_clip() -> None:
    free = SpeakerConstraints()
    assert free.clip(5, 10) == 5 and free.clip(5, 3) == 3 and free.clip(0, 0) == 0
    bounded = SpeakerConstraints(min_speakers=2, max_speakers=4)
    assert [bounded.clip(k, 10) for k in (1, 2, 3, 4, 7)] == [2, 2, 3, 4, 4]
    assert bounded.clip(1, 1) == 1  # never more clusters than items
    assert SpeakerConstraints(num_speakers=3).clip(8, 10) == 3
    assert SpeakerConstraints(num_speakers=3).clip(1, 2) == 2


# --- speaker masks (exclude-overlap rule) -------------------------------------------------------

def test_speaker_masks_exclude_overlap_rule() -> None:
    grid = FrameGrid(0.0, 0.1, 0.1)
    data = np.zeros((2, 20, 3), np.float32)
    data[0, 0:10, 0] = 0.9  # alone on frames 0-4 (5 frames = 0.5 s): enough clean frames
    data[0, 5:13, 1] = 0.8  # alone on 10-12 only (3 frames): keeps its overlapped frames
    data[0, :, 2] = 0.3  # below the threshold: absent
    data[1, 2:5, 0] = 1.0  # 3 frames: present, not reliable
    scores = ChunkScores(data, 5.0, 2.0, grid, threshold=0.5)
    masks, present, reliable = speaker_masks(scores, min_speech=0.5, exclude_overlap=True)
    assert masks.shape == (2, 20, 3) and masks.dtype == np.float32
    assert np.flatnonzero(masks[0, :, 0]).tolist() == [0, 1, 2, 3, 4]
    assert np.flatnonzero(masks[0, :, 1]).tolist() == list(range(5, 13))
    assert not masks[0, :, 2].any()
    assert np.flatnonzero(masks[1, :, 0]).tolist() == [2, 3, 4]
    assert present.tolist() == [[True, True, False], [True, False, False]]
    assert reliable.tolist() == [[True, True, False], [False, False, False]]
    plain, present2, reliable2 = speaker_masks(scores, min_speech=0.5, exclude_overlap=False)
    np.testing.assert_array_equal(plain, (data > 0.5).astype(np.float32))
    assert present2.tolist() == present.tolist() and reliable2.tolist() == reliable.tolist()
    # min_speech 0.6 s (6 frames): speaker 0 has only 5 clean frames -> all its 10 frames
    masks6, _, reliable6 = speaker_masks(scores, min_speech=0.6, exclude_overlap=True)
    assert np.flatnonzero(masks6[0, :, 0]).tolist() == list(range(10))
    assert reliable6.tolist() == [[True, True, False], [False, False, False]]


# --- pooled statistics --------------------------------------------------------------------------

def accumulate(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sums over frames of w x, w x^2, w, w^2 for each row of w. x (T, C), w (N, T)."""
    return w @ x, w @ (x * x), w.sum(axis=1), (w * w).sum(axis=1)


def test_pooled_stats_equal_numpy_weighted_mean_and_std() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 6)) * 3 + 1
    w = np.stack([np.ones(50), (rng.random(50) < 0.4).astype(float), rng.random(50),
                  np.r_[np.zeros(25), np.linspace(0.1, 1, 25)]])
    stats = pooled_stats(*accumulate(x, w))
    assert stats.shape == (4, 12) and stats.dtype == np.float32
    for row, weights in zip(stats, w):
        mean = np.average(x, axis=0, weights=weights)
        # np.cov with aweights and ddof=1 divides by V1 - V2 / V1
        std = np.sqrt([np.cov(x[:, c], aweights=weights, ddof=1) for c in range(6)])
        np.testing.assert_allclose(row[:6], mean, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(row[6:], std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats[0, 6:], x.std(axis=0, ddof=1), rtol=1e-5)


def test_pooled_stats_degenerate_weights() -> None:
    x = np.array([[1.0, 2.0], [3.0, 5.0], [7.0, -1.0]])
    w = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.3, 0.0]])
    stats = pooled_stats(*accumulate(x, w))
    # one frame: its value and std eps; no frame: mean 0 and std eps
    np.testing.assert_allclose(stats, [[3, 5, 0.01, 0.01], [0, 0, 0.01, 0.01],
                                       [3, 5, 0.01, 0.01]], atol=1e-6)


def test_pooled_stats_equal_campplus_pooling() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 8, 40))  # (B, C, T)
    w = rng.random((3, 40)) * (rng.random((3, 40)) < 0.5)
    w[2] = 0.0
    w[2, 7] = 1.0  # a single frame
    ours = np.stack([pooled_stats(*accumulate(x[b].T, w[b:b + 1]))[0] for b in range(3)])
    reference = weighted_stats_pool(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)


# --- trunk spans ------------------------------------------------------------------------------

def test_trunk_spans() -> None:
    needed = np.array([1, 1, 0, 0, 0, 1, 1, 1, 0, 1], dtype=bool)
    # runs [0,2) [5,8) [9,10); gap 8->9 (1 < bridge 2) joined; gap 2->5 (3) not
    assert trunk_spans(needed, window=2, bridge=2) == [(0, 2), (5, 7), (7, 9), (9, 10)]
    assert trunk_spans(needed, window=10, bridge=2) == [(0, 2), (5, 10)]
    assert trunk_spans(needed, window=10, bridge=4) == [(0, 10)]
    assert trunk_spans(needed, window=10, bridge=0) == [(0, 2), (5, 8), (9, 10)]
    assert trunk_spans(np.zeros(5, bool), 3, 2) == []
    assert trunk_spans(np.ones(7, bool), 3, 2) == [(0, 3), (3, 6), (6, 7)]
    assert trunk_spans(np.zeros(0, bool), 3, 2) == []


@settings(max_examples=80, deadline=None)
@given(bits=st.lists(st.booleans(), max_size=60), window=st.integers(1, 12),
       bridge=st.integers(0, 6))
def test_trunk_spans_cover_every_needed_frame_in_bounded_pieces(
        bits: list[bool], window: int, bridge: int) -> None:
    needed = np.array(bits, dtype=bool)
    spans = trunk_spans(needed, window, bridge)
    covered = np.zeros(len(needed), dtype=int)
    for a, b in spans:
        assert 0 <= a < b <= len(needed) and b - a <= window
        covered[a:b] += 1
    assert np.all(covered <= 1)  # disjoint
    assert np.all(covered[needed] == 1)  # every needed frame
    assert [a for a, _ in spans] == sorted(a for a, _ in spans)
    # pieces are cut from joined runs: a piece starts on a needed frame or continues the
    # previous one; a joined run ends on a needed frame; runs closer than bridge are joined
    groups: list[list[int]] = []
    for a, b in spans:
        if groups and a == groups[-1][1]:
            groups[-1][1] = b
        else:
            assert needed[a]
            groups.append([a, b])
    for (_, end), (nxt, _) in zip(groups, groups[1:]):
        assert nxt - end >= bridge
    for _, end in groups:
        assert needed[end - 1]



# --- powerset decoding -----------------------------------------------------------------------

def test_powerset_decoding_and_count_probabilities_by_hand() -> None:
    from diarefine.models.segmentation import powerset_mapping
    from diarefine.stages.segmentation import count_probabilities, decode

    mapping = powerset_mapping(3, 2).numpy()  # {}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}
    probs = np.array([[0.1, 0.2, 0.05, 0.05, 0.4, 0.1, 0.1]], dtype=np.float32)[None]
    log_probs = np.log(probs)
    # soft: speaker 0 = {0} + {0,1} + {0,2} = 0.7; 1 = 0.05 + 0.4 + 0.1; 2 = 0.05 + 0.1 + 0.1
    np.testing.assert_allclose(decode(log_probs, mapping, "soft")[0, 0], [0.7, 0.55, 0.25],
                               atol=1e-6)
    np.testing.assert_array_equal(decode(log_probs, mapping, "hard")[0, 0], [1, 1, 0])
    # sizes 0, 1, 1, 1, 2, 2, 2: P(0) = 0.1, P(1) = 0.3, P(2) = 0.6; hard: class {0,1}
    np.testing.assert_allclose(count_probabilities(log_probs, mapping, "soft")[0, 0],
                               [0.1, 0.3, 0.6], atol=1e-6)
    np.testing.assert_array_equal(count_probabilities(log_probs, mapping, "hard")[0, 0],
                                  [0, 0, 1])
    with pytest.raises(ValueError, match="decoding"):
        count_probabilities(log_probs, mapping, "viterbi")
