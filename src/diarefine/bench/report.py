"""The scoring half of ``diarefine benchmark``: every figure of ``report.json``.

Scores come from the same functions as ``diarefine score`` (so the DER is that
command's, to the last digit), the collar sweep from ``collar-sweep``, boundaries from
``boundaries``, the breakdown by simultaneous speakers from ``score --by-count``, and
intervals from the paired bootstrap over files. Rates are fractions, times seconds,
boundary errors milliseconds; NaN becomes null.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.errors import DiarefineWarning
from diarefine.metrics.bootstrap import bootstrap_der, bootstrap_difference, file_errors
from diarefine.metrics.boundaries import BoundaryReport, analyze_boundaries, jsonable
from diarefine.metrics.boundary_matching import KINDS, MATCHED
from diarefine.metrics.boundary_zones import error_intervals
from diarefine.metrics.collar_sweep import collar_sweep
from diarefine.metrics.score import ScoreReport, ScoreSettings, score_corpus, with_rates
from diarefine.metrics.speaker_count import corpus_breakdown

#: histogram of signed boundary errors: 25 ms bins over the matching tolerance
HISTOGRAM_EDGES_MS = tuple(range(-500, 501, 25))


@dataclass(frozen=True)
class Corpus:
    """What is scored: references, UEM regions (None: md-eval's default) and outputs."""

    references: Mapping[str, Annotation]
    uems: Mapping[str, Timeline] | None
    system: Mapping[str, Annotation]
    unrefined: Mapping[str, Annotation] | None = None


def error_histogram(report: BoundaryReport) -> dict[str, Any]:
    """Counts of matched boundaries per 25 ms bin of signed error, by reference kind."""
    edges = np.array(HISTOGRAM_EDGES_MS, dtype=float)
    counts = {}
    for kind in KINDS:
        errors = [1000 * p.error for p in report.pairs() if p.status == MATCHED and p.kind == kind]
        clipped = np.clip(errors, edges[0], edges[-1])
        counts[kind] = np.histogram(clipped, edges)[0].tolist()
    return {"edges_ms": list(HISTOGRAM_EDGES_MS), "counts": counts}


def boundary_section(corpus: Corpus, system: Mapping[str, Annotation]) -> dict[str, Any]:
    report = analyze_boundaries(corpus.references, system, corpus.uems)
    return {"overall": jsonable(report.overall), "by_kind": jsonable(report.by_kind),
            "histogram": error_histogram(report),
            "files": {uri: jsonable(f.stats) for uri, f in sorted(report.files.items())}}


def interval_of(report: ScoreReport) -> dict[str, float] | None:
    errors, scored = file_errors(report)
    return bootstrap_der(errors, scored).as_dict() if sum(scored) > 0 else None


def difference(a: ScoreReport, b: ScoreReport) -> dict[str, float] | None:
    """Pooled DER(a) - DER(b) with its 95 % paired bootstrap interval (same files)."""
    errors, scored = file_errors(a)
    if sum(scored) <= 0:
        return None
    return bootstrap_difference(errors, file_errors(b)[0], scored).as_dict()


def oracle_section(corpus: Corpus, settings: ScoreSettings, base: ScoreReport,
                   kind: str = "boundaries") -> dict[str, Any]:
    """A ceiling of refinement applied to the output before refinement (or the system's
    when none ran), scored as the system is, and its difference to that output (paired):
    ``kind`` "boundaries", every matched boundary moved onto its reference boundary
    (:func:`~diarefine.stages.refinement.oracle.oracle_refine`); "activity", inside ±1 s
    of every boundary each speaker copies its mapped reference speaker
    (:func:`~diarefine.stages.refinement.oracle.activity_oracle`, the ceiling of the
    activity edits)."""
    from diarefine.stages.refinement.oracle import activity_oracle, oracle_refine

    ceiling = oracle_refine if kind == "boundaries" else activity_oracle
    outputs = corpus.unrefined if corpus.unrefined is not None else corpus.system
    moved = {uri: ceiling(ref, outputs.get(uri, Annotation(uri)),
                          corpus.uems.get(uri) if corpus.uems else None)
             for uri, ref in corpus.references.items()}
    scores = score_corpus(corpus.references, moved, corpus.uems, settings)
    return {**with_rates(scores.overall.as_dict()), "der_interval": interval_of(scores),
            "minus_baseline": difference(scores, base),
            "of": "before refinement" if corpus.unrefined is not None else "this run"}


def timeline(reference: Annotation, system: Annotation, uem: Timeline | None,
             unrefined: Annotation | None, duration: float) -> dict[str, Any]:
    """Turns of the reference, the system (and before refinement), the DER's mapping,
    and where DER counts each kind of error (collar 0, overlap scored)."""
    from diarefine.metrics.der import diarization_error

    der = diarization_error(reference, system, uem)
    spans = error_intervals(reference, system, der.mapping, der.regions.evaluated)
    errors = []
    for start, end, miss, fa in zip(spans.starts, spans.ends, spans.miss, spans.false_alarm):
        kind = "miss" if miss else "false_alarm" if fa else "confusion"
        errors.append([round(float(start), 3), round(float(end), 3), kind])

    def turns(annotation: Annotation) -> list[list[Any]]:
        return [[round(t.start, 3), round(t.end, 3), t.speaker] for t in annotation.turns]

    out = {"duration": duration, "evaluated": der.regions.evaluated.bounds.round(3).tolist(),
           "mapping": der.mapping, "reference": turns(reference), "system": turns(system),
           "errors": errors}
    if unrefined is not None:
        out["unrefined"] = turns(unrefined)
    return out


def file_rows(report: ScoreReport, corpus: Corpus, timings: Mapping[str, dict],
              unrefined: ScoreReport | None, boundaries: dict[str, Any]) -> list[dict]:
    rows = []
    for uri, f in sorted(report.files.items()):
        row: dict[str, Any] = {"uri": uri, **with_rates(f.scores.as_dict())}
        row["ref_speakers"] = len(corpus.references[uri].speakers)
        row["sys_speakers"] = len(corpus.system[uri].speakers) if uri in corpus.system else 0
        timing = timings.get(uri)
        row["duration"] = timing["duration"] if timing else None
        row["seconds"] = timing["seconds"] if timing else None
        row["rtf"] = (timing["seconds"] / timing["duration"]
                      if timing and timing["duration"] > 0 else None)
        stats = boundaries["files"].get(uri, {})
        row["boundary_mae_ms"] = stats.get("mean_abs_ms")
        if unrefined is not None:
            row["der_unrefined"] = unrefined.files[uri].scores.as_dict()["der"]
        rows.append(row)
    return rows


def speed(timings: Mapping[str, dict], wall: float | None, jobs: int) -> dict[str, Any]:
    audio = sum(t["duration"] for t in timings.values())
    busy = sum(t["seconds"] for t in timings.values())
    return {"audio_seconds": audio, "processing_seconds": busy, "files": len(timings),
            "rtf": busy / audio if audio > 0 else None,
            "audio_hours_per_hour": audio / busy if busy > 0 else None,
            "wall_seconds_this_run": wall, "jobs": jobs,
            "note": "processing seconds are per recording, summed; with --jobs J > 1 they "
                    "overlap in time on shared cores"}


def build_report(corpus: Corpus, settings: ScoreSettings, timings: Mapping[str, dict],
                 worst: int = 5) -> dict[str, Any]:
    """Every figure of the benchmark (without the protocol, the run and the audio); the
    scorers' notes about mismatched files are in ``notes`` (once, not as warnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiarefineWarning)
        return _build(corpus, settings, timings, worst)


def _build(corpus: Corpus, settings: ScoreSettings, timings: Mapping[str, dict],
           worst: int) -> dict[str, Any]:
    scores = score_corpus(corpus.references, corpus.system, corpus.uems, settings)
    sweep = collar_sweep(corpus.references, corpus.system, corpus.uems,
                         skip_overlap=settings.skip_overlap)
    boundaries = boundary_section(corpus, corpus.system)
    out: dict[str, Any] = {
        "overall": {**with_rates(scores.overall.as_dict()), "der_interval": interval_of(scores)},
        "collar_sweep": sweep.as_dict()["overall"],
        "boundaries": boundaries,
        "by_count": corpus_breakdown(corpus.references, corpus.system, corpus.uems,
                                     settings).as_dict(),
        "notes": list(scores.notes),
    }
    before = None
    if corpus.unrefined is not None:
        before = score_corpus(corpus.references, corpus.unrefined, corpus.uems, settings)
        out["refinement"] = {
            "unrefined": {**with_rates(before.overall.as_dict()),
                          "der_interval": interval_of(before)},
            "refined_minus_unrefined": difference(scores, before),
            "collar_sweep_unrefined": collar_sweep(
                corpus.references, corpus.unrefined, corpus.uems,
                skip_overlap=settings.skip_overlap).as_dict()["overall"],
            "boundaries_unrefined": boundary_section(corpus, corpus.unrefined),
        }
    out["oracle"] = oracle_section(corpus, settings, before or scores)
    out["oracle_activity"] = oracle_section(corpus, settings, before or scores, "activity")
    out["files"] = file_rows(scores, corpus, timings, before, boundaries)
    ranked = sorted((r for r in out["files"] if r["der"] is not None),
                    key=lambda r: -r["der"])[:worst]
    out["worst"] = [{"uri": r["uri"], "der": r["der"], **timeline(
        corpus.references[r["uri"]], corpus.system.get(r["uri"], Annotation(r["uri"])),
        corpus.uems.get(r["uri"]) if corpus.uems else None,
        corpus.unrefined.get(r["uri"]) if corpus.unrefined else None,
        r["duration"] or _extent_end(corpus.references[r["uri"]]))} for r in ranked]
    out["speed"] = speed(timings, None, 1)
    return jsonable(out)  # type: ignore[return-value]


def _extent_end(annotation: Annotation) -> float:
    extent = annotation.extent()
    return extent.end if extent is not None else 0.0


def against(corpus: Corpus, other: Mapping[str, Annotation], settings: ScoreSettings,
            other_name: str) -> dict[str, Any]:
    """This run minus another run's outputs, on the recordings both diarized, scored
    under this run's protocol: per file and pooled, with the paired interval."""
    common = sorted(set(corpus.system) & set(other))
    refs = {uri: corpus.references[uri] for uri in common}
    uems = {uri: corpus.uems[uri] for uri in common if uri in corpus.uems} \
        if corpus.uems else None
    with warnings.catch_warnings():  # the notes are in the report already
        warnings.simplefilter("ignore", DiarefineWarning)
        mine = score_corpus(refs, {u: corpus.system[u] for u in common}, uems, settings)
        theirs = score_corpus(refs, {u: other[u] for u in common}, uems, settings)
    return jsonable({
        "other": other_name, "files": len(common),
        "left_out": sorted(set(corpus.system) ^ set(other)),
        "der": mine.overall.as_dict()["der"], "der_other": theirs.overall.as_dict()["der"],
        "difference": difference(mine, theirs) if common else None,
        "per_file": [{"uri": u, "der": mine.files[u].scores.as_dict()["der"],
                      "der_other": theirs.files[u].scores.as_dict()["der"]} for u in common],
    })  # type: ignore[return-value]
