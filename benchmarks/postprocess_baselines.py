"""The post-processing baselines of the refiners: median-filter width and minimum
durations on / off, chosen on the selection sets, reported on the held-out sets.

    python benchmarks/postprocess_baselines.py [--data DIR]

Each recording of the selection sets (simulated dev + AMI dev) and of the held-out sets
(simulated test, AMI test, the pyannote sample) is diarized once by the default pipeline,
keeping its final activations (after reassignment); every post-processing setting of the
grid then binarises them again, and DER at collar 0 (overlap scored, each recording's UEM)
is computed per set. The setting with the lowest pooled selection DER is the baseline; it
is compared with the defaults on the held-out sets with the 95 % paired bootstrap
interval. Manifests are read from ``--data`` (``benchmarks/make_refiner_sets.py`` and
``benchmarks/make_simulated_testset.py`` write them).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path

from paths import REPO

from diarefine.data.manifest import load_references, load_scoring_regions, read_manifest
from diarefine.metrics import ScoreSettings, score_corpus
from diarefine.metrics.bootstrap import bootstrap_difference, file_errors
from diarefine.stages.pipeline import DiarizationPipeline, _clip
from diarefine.stages.postprocess import PostProcessor

SETS = {"select": ("simdev/manifest.jsonl", "ami-dev.jsonl"),
        "simtest": ("simtest/manifest.jsonl",),
        "ami-test+sample": ("ami-test.jsonl", "sample.jsonl")}
GRID = {"median_filter": (1, 11, 21, 31, 41), "min_duration_on": (0.0, 0.1, 0.2),
        "min_duration_off": (0.0, 0.1, 0.2, 0.4)}


def diarized(pipeline: DiarizationPipeline, manifests: list[Path]) -> Iterator[tuple]:
    """(recording, reference, uem, pipeline output, hooked artifacts) of every recording."""
    for manifest in manifests:
        recs = read_manifest(manifest)
        refs, uems = load_references(recs), load_scoring_regions(recs)
        for rec in recs:
            seen: dict[str, object] = {}
            result = pipeline(rec.audio, uri=rec.uri, hook=seen.__setitem__)
            yield rec, refs[rec.uri], uems[rec.uri], result, seen


def activations(pipeline: DiarizationPipeline, manifests: list[Path]) -> list[tuple]:
    """(recording, reference, uem, final FrameScores, duration) of every recording."""
    return [(rec.uri, ref, uem, seen.get("reassignment", seen.get("reconstruction")),
             result.duration)
            for rec, ref, uem, result, seen in diarized(pipeline, manifests)]


def diarize(items: list[tuple], post: PostProcessor) -> dict:
    hyps = {}
    for uri, _, _, scores, duration in items:
        names = [f"SPEAKER_{k:02d}" for k in range(scores.data.shape[1])]
        hyps[uri] = _clip(post(scores, uri, names)[0], duration)
    return hyps


def score(items: list[tuple], hyps: dict) -> object:
    return score_corpus({u: r for u, r, *_ in items}, hyps,
                        {u: m for u, _, m, *_ in items if m is not None},
                        ScoreSettings(collar=0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "benchmarks" / "data")
    args = parser.parse_args()
    pipeline = DiarizationPipeline.from_pretrained()
    default = pipeline.postprocessor
    items = {name: activations(pipeline, [args.data / m for m in files])
             for name, files in SETS.items()}
    results = []
    for values in itertools.product(*GRID.values()):
        post = dataclasses.replace(default, **dict(zip(GRID, values)))
        der = 100 * score(items["select"], diarize(items["select"], post)).overall.der.der
        results.append((der, values, post))
    results.sort(key=lambda r: r[0])
    base = next(r for r in results if r[2] == default)
    print(f"selection DER, defaults {dict(zip(GRID, base[1]))}: {base[0]:.2f} %")
    for der, values, _ in results[:5]:
        print(f"  {der:.2f} %  {dict(zip(GRID, values))}")
    best = results[0][2]
    for name in ("simtest", "ami-test+sample"):
        print(compared(name, score(items[name], diarize(items[name], best)),
                       score(items[name], diarize(items[name], default))))


def compared(name: str, best: object, default: object) -> str:
    """One held-out line: both DERs and their difference with its paired interval."""
    errors, scored = file_errors(best)
    diff = bootstrap_difference(errors, file_errors(default)[0], scored)
    return (f"{name}: defaults {100 * default.overall.der.der:.2f} %, best on selection "
            f"{100 * best.overall.der.der:.2f} %, difference {100 * diff.value:+.2f} "
            f"[{100 * diff.low:+.2f}, {100 * diff.high:+.2f}]")


if __name__ == "__main__":
    main()
