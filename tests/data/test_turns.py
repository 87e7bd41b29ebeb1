"""The turn-taking model on synthetic material: invariants and overlap tracking."""

from __future__ import annotations

import numpy as np
import pytest

from diarefine.data.manifest import overlap_ratio
from diarefine.data.simulate import reference_of
from diarefine.data.turns import Cursor, Piece, plan_conversation, quietest_cut

SR = 16_000


def material(num_speakers: int = 5, seed: int = 0) -> dict[str, list[Piece]]:
    """Each speaker: 6 'regions' of 0.5-4 s (white noise: any cut point is speech)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(num_speakers):
        spk = f"s{k}"
        lengths = rng.uniform(0.5, 4.0, size=6)
        out[spk] = [Piece(spk, f"{spk}.flac", 0,
                          (0.1 * rng.standard_normal(int(n * SR))).astype(np.float32),
                          int(0.3 * SR) if i < 5 else None) for i, n in enumerate(lengths)]
    return out


def plan(seed: int, speakers: list[str], target: float, duration: float = 120.0):
    rng = np.random.default_rng(seed)
    mat = material()
    return mat, plan_conversation(rng, mat, speakers, duration, target)


def test_placements_stay_inside_their_material_and_speakers_never_self_overlap() -> None:
    for seed in range(5):
        mat, placed = plan(seed, ["s0", "s1", "s2", "s3"], 0.2)
        for p in placed:
            assert 0 <= p.offset and p.offset + p.length <= len(mat[p.speaker][p.piece].audio)
            assert p.length > 0 and p.start >= 0
        for spk in {p.speaker for p in placed}:
            mine = sorted((p.start, p.end) for p in placed if p.speaker == spk)
            assert all(b[0] >= a[1] for a, b in zip(mine, mine[1:])), spk


def test_every_speaker_is_heard_and_duration_is_about_the_target() -> None:
    for seed in range(5):
        _, placed = plan(seed, ["s0", "s1", "s2", "s3", "s4"], 0.12, duration=90.0)
        assert {p.speaker for p in placed} == {"s0", "s1", "s2", "s3", "s4"}
        end = max(p.end for p in placed) / SR
        assert 90.0 <= end <= 90.0 + 16.0


def test_zero_target_gives_no_overlap_at_all() -> None:
    for seed in range(5):
        _, placed = plan(seed, ["s0", "s1", "s2"], 0.0)
        ref = reference_of("x", placed, 0.1)
        assert ref.overlap().duration() == 0.0
        assert all(p.kind == "turn" for p in placed)


@pytest.mark.parametrize("target", [0.05, 0.12, 0.2])
def test_overlap_ratio_tracks_the_target_over_a_batch(target: float) -> None:
    ratios = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        speakers = ["s0", "s1", "s2", "s3"][: 2 + seed % 3]
        placed = plan_conversation(rng, material(seed=seed), speakers, 150.0, target)
        ratios.append(overlap_ratio(reference_of("x", placed, 0.1)))
    assert np.mean(ratios) == pytest.approx(target, abs=0.025)
    assert min(ratios) > 0.5 * target and max(ratios) < 1.6 * target


def test_backchannels_are_short_and_overlap_another_speakers_turn() -> None:
    _, placed = plan(3, ["s0", "s1", "s2"], 0.15, duration=200.0)
    backchannels = [p for p in placed if p.kind == "backchannel"]
    assert backchannels
    for b in backchannels:
        assert b.length <= 1.3 * SR
        assert any(p.kind == "turn" and p.speaker != b.speaker and p.start < b.end
                   and b.start < p.end + 1 * SR for p in placed)


def test_quietest_cut_finds_the_silent_frame() -> None:
    audio = np.ones(SR, dtype=np.float32)
    audio[8000:8400] = 0.0  # a 25 ms pause: some 20 ms window (5 ms hop) lies inside
    cut = quietest_cut(audio, 7000, 100, SR - 100)
    assert 8000 <= cut <= 8080


def test_cursor_reads_in_order_and_wraps_around() -> None:
    pieces = [Piece("a", "a.flac", 0, np.ones(SR, np.float32), 800 if i < 2 else None)
              for i in range(3)]
    cursor = Cursor(pieces, start=1)
    chunks = cursor.take(int(1.9 * SR))
    assert [c[0] for c in chunks] == [1, 2]
    assert chunks[0][3] == 800 and chunks[1][3] is None  # natural pause, then utterance end
    assert cursor.take(SR)[0][0] == 0  # wrapped
