"""DER components agree with NIST md-eval-22.pl, on hand-made and randomized cases.

Both scorers read the very same RTTM/UEM text, so differences can only come from the
scoring itself. md-eval prints seconds with 2 decimals: agreement is within 0.005 s.
md-eval dies (division by zero) on a file with no scored speech, so the randomized
cases keep only files with some.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from diarefine.core import Annotation, Timeline
from diarefine.io import parse_rttm, rttm_lines
from diarefine.metrics import DerComponents, ScoreSettings, score_corpus
from diarefine.metrics.mdeval import run_mdeval

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from randomdiar import perturb, random_annotation, random_uem  # noqa: E402

TOLERANCE = 0.005 + 1e-9
FIELDS = ("miss", "false_alarm", "confusion", "scored")


def as_read(annotation: Annotation) -> Annotation:
    """The annotation as any RTTM reader sees it once written (ms times, onset + dur)."""
    return parse_rttm(rttm_lines(annotation))[annotation.uri]


def assert_agrees(ours: DerComponents, theirs: DerComponents, label: str) -> None:
    for name in FIELDS:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert abs(a - b) <= TOLERANCE, f"{label}: {name} ours {a:.4f} md-eval {b:.4f}"


def compare(mdeval: str, refs: dict, hyps: dict, uem: dict | None, collar: float,
            skip: bool) -> None:
    theirs = run_mdeval(refs, hyps, uem, collar, skip, mdeval=mdeval)
    ours = score_corpus(refs, hyps, uem, ScoreSettings(collar=collar, skip_overlap=skip))
    assert set(theirs.files) == set(ours.files)
    for uri, file_score in ours.files.items():
        assert_agrees(file_score.scores.der, theirs.files[uri], f"{uri} c={collar} -1={skip}")
    assert_agrees(ours.overall.der, theirs.overall, f"ALL c={collar} -1={skip}")


HAND_CASES = {
    "overlap_and_errors": (
        [(0, 5, "A"), (4, 7, "B")], [(0.5, 4.5, "x"), (4.5, 7.5, "y"), (6, 8, "x")]),
    "confusion": ([(0, 10, "A")], [(0, 6, "x"), (6, 10, "y")]),
    "collar_eats_short_turns": (
        [(0, .5, "A"), (1, 1.5, "A"), (2, 2.5, "A"), (3, 3.5, "A"), (4, 5.5, "B")],
        [(0, 5.5, "x")]),
    "touching_overlap_zones": (
        [(0, 10, "A"), (2, 5, "B"), (5, 8, "C")], [(0, 6, "x"), (6, 10, "y"), (2, 8, "z")]),
    "more_system_speakers": (
        [(0, 3, "A"), (3, 6, "B")], [(0, 1, "p"), (1, 2, "q"), (2, 4, "r"), (4, 6, "s")]),
    "touching_same_speaker_turns": (
        [(0, 2.5, "A"), (2.5, 4, "A"), (3, 6, "B")], [(0, 4, "x"), (3.5, 6, "y")]),
    "zero_length_reference_turn": (
        [(0, 3, "A"), (5, 5, "A"), (4, 8, "B")], [(0, 3, "x"), (4, 8, "y")]),
}


@pytest.mark.parametrize("name", sorted(HAND_CASES))
@pytest.mark.parametrize("collar", [0.0, 0.25, 0.5])
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("with_uem", [False, True])
def test_hand_cases(mdeval: str, name: str, collar: float, skip: bool, with_uem: bool) -> None:
    ref_turns, hyp_turns = HAND_CASES[name]
    refs = {"a": as_read(Annotation.from_tuples("a", ref_turns))}
    hyps = {"a": as_read(Annotation.from_tuples("a", hyp_turns))}
    uem = {"a": Timeline([(0, 6.5)])} if with_uem else None
    try:
        compare(mdeval, refs, hyps, uem, collar, skip)
    except RuntimeError as exc:  # md-eval's own crash on an empty scored region
        assert "division by zero" in str(exc)
        assert score_corpus(refs, hyps, uem, ScoreSettings(collar, skip)).overall.der.scored == 0


def _random_set(rng: np.random.Generator, with_uem: bool) -> tuple[dict, dict, dict | None]:
    refs, hyps, uems = {}, {}, {}
    for f in range(3):
        uri = f"rec{f}"
        duration = float(rng.uniform(15, 90))
        num_ref, num_sys = int(rng.integers(1, 11)), int(rng.integers(1, 11))
        ref = random_annotation(rng, uri, num_ref, duration, mean_turn=float(rng.uniform(0.5, 3)))
        refs[uri] = as_read(ref)
        hyps[uri] = as_read(perturb(rng, ref, num_sys, jitter=float(rng.uniform(0.05, 0.5))))
        if with_uem:
            region = random_uem(rng, duration)
            if region:
                uems[uri] = region
    return refs, hyps, (uems if with_uem else None)


CONDITIONS = list(itertools.product([0.0, 0.25, 0.5], [False, True], [False, True]))


@pytest.mark.parametrize("collar,skip,with_uem", CONDITIONS)
def test_randomized_pairs(mdeval: str, collar: float, skip: bool, with_uem: bool) -> None:
    """25 sets of 3 files per condition: 12 x 75 = 900 file pairs in all."""
    rng = np.random.default_rng(int(collar * 100) * 4 + 2 * skip + with_uem)
    compared = 0
    for _ in range(25):
        refs, hyps, uem = _random_set(rng, with_uem)
        settings = ScoreSettings(collar=collar, skip_overlap=skip)
        scored = score_corpus(refs, hyps, uem, settings).files
        keep = [u for u in refs if scored[u].scores.der.scored > 0]
        refs = {u: refs[u] for u in keep}
        hyps = {u: hyps[u] for u in keep}
        if not refs:
            continue
        compare(mdeval, refs, hyps, {u: uem[u] for u in keep if u in uem} if uem else uem,
                collar, skip)
        compared += len(refs)
    assert compared >= 60


def test_real_ami_references_against_a_jittered_system(mdeval: str, shared_data: Path) -> None:
    from diarefine.io import read_rttm

    rng = np.random.default_rng(0)
    for split in ("train", "development", "test"):
        refs = read_rttm(shared_data / "ami-excerpts" / f"debug.{split}.rttm")
        hyps = {u: as_read(perturb(rng, r, 4)) for u, r in refs.items()}
        for collar, skip in itertools.product([0.0, 0.25], [False, True]):
            compare(mdeval, refs, hyps, None, collar, skip)
