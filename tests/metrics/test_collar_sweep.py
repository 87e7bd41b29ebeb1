"""The one-pass collar sweep equals DER at each collar, and md-eval itself."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diarefine.core import Annotation, Timeline
from diarefine.errors import DiarefineWarning
from diarefine.io import parse_rttm, rttm_lines
from diarefine.metrics import DerComponents, ScoreSettings, diarization_error, score_corpus
from diarefine.metrics.collar_sweep import DEFAULT_COLLARS, collar_sweep, sweep_file
from diarefine.metrics.mdeval import run_mdeval

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from randomdiar import perturb, random_annotation, random_uem  # noqa: E402

FIELDS = ("miss", "false_alarm", "confusion", "scored")


def assert_same(ours: DerComponents, theirs: DerComponents, tol: float = 1e-9,
                label: str = "") -> None:
    for name in FIELDS:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert abs(a - b) <= tol, f"{label} {name}: sweep {a!r} vs {b!r}"


def as_read(annotation: Annotation) -> Annotation:
    """The annotation as md-eval reads it once written (ms times, onset + duration)."""
    return parse_rttm(rttm_lines(annotation))[annotation.uri]


def random_set(rng: np.random.Generator, files: int = 3, with_uem: bool = False
               ) -> tuple[dict[str, Annotation], dict[str, Annotation], dict | None]:
    refs, hyps, uems = {}, {}, {}
    for f in range(files):
        uri = f"rec{f}"
        duration = float(rng.uniform(10, 60))
        ref = random_annotation(rng, uri, int(rng.integers(1, 7)), duration,
                                mean_turn=float(rng.uniform(0.3, 3)))
        refs[uri] = as_read(ref)
        hyps[uri] = as_read(perturb(rng, ref, int(rng.integers(1, 7)),
                                    jitter=float(rng.uniform(0.05, 0.5))))
        region = random_uem(rng, duration) if with_uem else None
        if region:
            uems[uri] = region
    return refs, hyps, (uems if with_uem else None)


def test_hand_case() -> None:
    # A 0-10 against x 1-10 and y 9-10: collar c leaves [c, 10 - c]
    ref = Annotation.from_tuples("a", [(0, 10, "A")])
    hyp = Annotation.from_tuples("a", [(1, 10, "x"), (9, 10, "y")])
    result = sweep_file(ref, hyp, collars=(0, 0.5, 1.5))
    assert result.mapping == {"A": "x"}
    expected = [DerComponents(1.0, 1.0, 0.0, 10.0), DerComponents(0.5, 0.5, 0.0, 9.0),
                DerComponents(0.0, 0.0, 0.0, 7.0)]
    for ours, theirs in zip(result.components, expected):
        assert_same(ours, theirs)


def test_collars_are_validated() -> None:
    ref = Annotation.from_tuples("a", [(0, 1, "A")])
    for bad in ((), (-0.1,), (float("nan"),)):
        with pytest.raises(ValueError, match="collars"):
            sweep_file(ref, ref, collars=bad)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_equals_der_at_each_collar(seed: int, skip: bool, with_uem: bool) -> None:
    rng = np.random.default_rng(seed)
    refs, hyps, uem = random_set(rng, files=1, with_uem=with_uem)
    collars = (*DEFAULT_COLLARS, 0.123, 1.0)
    for uri, ref in refs.items():
        region = uem.get(uri) if uem else None
        result = sweep_file(ref, hyps[uri], region, collars, skip)
        assert result.mapping == diarization_error(ref, hyps[uri], region).mapping
        for collar, ours in zip(collars, result.components):
            theirs = diarization_error(ref, hyps[uri], region, collar, skip).components
            assert_same(ours, theirs, label=f"c={collar} -1={skip}")


@pytest.mark.parametrize("skip", [False, True])
def test_equals_score_corpus_overall(skip: bool) -> None:
    rng = np.random.default_rng(7 + skip)
    refs, hyps, uem = random_set(rng, files=4, with_uem=True)
    del hyps["rec3"]  # scored as all missed, as score does
    with pytest.warns(DiarefineWarning, match="no system output"):
        report = collar_sweep(refs, hyps, uem, (0.0, 0.1, 0.25, 0.4), skip)
    for k, collar in enumerate(report.collars):
        with pytest.warns(DiarefineWarning):
            scores = score_corpus(refs, hyps, uem, ScoreSettings(collar=collar, skip_overlap=skip))
        assert_same(report.overall[k], scores.overall.der, label=f"c={collar}")
        for uri, f in scores.files.items():
            assert_same(report.files[uri].components[k], f.scores.der, label=uri)


def test_touching_overlap_zones_quirk_with_collars() -> None:
    """md-eval's -1 quirk depends on the collar region; replayed per collar."""
    ref = Annotation.from_tuples("a", [(0, 10, "A"), (2, 5, "B"), (5, 8, "C")])
    hyp = Annotation.from_tuples("a", [(0, 6, "x"), (6, 10, "y"), (2, 8, "z")])
    uem = Timeline([(0, 6.5)])
    result = sweep_file(ref, hyp, uem, (0.0, 0.25, 0.5, 1.0), skip_overlap=True)
    for collar, ours in zip(result.collars, result.components):
        assert_same(ours, diarization_error(ref, hyp, uem, collar, True).components)


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("with_uem", [False, True])
def test_agrees_with_mdeval(mdeval: str, skip: bool, with_uem: bool) -> None:
    rng = np.random.default_rng(100 + 2 * skip + with_uem)
    collars = (0.0, 0.05, 0.15, 0.25, 0.35, 0.5)
    compared = 0
    for _ in range(4):
        refs, hyps, uem = random_set(rng, files=3, with_uem=with_uem)
        report = collar_sweep(refs, hyps, uem, collars, skip)
        for k, collar in enumerate(collars):
            # md-eval divides by zero on a file with nothing scored: leave those out
            keep = [u for u, f in report.files.items() if f.components[k].scored > 0]
            if not keep:
                continue
            theirs = run_mdeval({u: refs[u] for u in keep}, {u: hyps[u] for u in keep},
                                {u: uem[u] for u in keep if u in uem} if uem else None,
                                collar, skip, mdeval=mdeval)
            for uri in keep:
                assert_same(report.files[uri].components[k], theirs.files[uri], 0.005 + 1e-9,
                            f"{uri} c={collar} -1={skip}")
            total = sum((report.files[u].components[k] for u in keep), DerComponents())
            assert_same(total, theirs.overall, 0.005 + 1e-9, "ALL")
            compared += len(keep)
    assert compared >= 40


def test_report_json_is_plain(tmp_path: Path) -> None:
    import json

    ref = Annotation.from_tuples("a", [(0, 1, "A")])
    report = collar_sweep({"a": ref}, {"a": ref}, collars=(0, 5))
    data = json.loads(json.dumps(report.as_dict(), allow_nan=False))
    assert [row["collar"] for row in data["overall"]] == [0, 5]
    assert data["overall"][1]["scored"] == 0 and data["overall"][1]["der"] == 0
    assert data["settings"]["skip_overlap"] is False
