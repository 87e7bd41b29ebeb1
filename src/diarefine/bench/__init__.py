"""``diarefine benchmark``: a corpus manifest in, a report with its protocol out.

:func:`run_benchmark` diarizes every recording of the manifests into ``OUTDIR/rttm``
(resumable, atomic, a bad recording reported and skipped: :mod:`.run`), scores the
diarized ones against their references within their UEMs (:mod:`.report`), states the
protocol (:mod:`.protocol`) and writes ``OUTDIR/report.json`` and the self-contained
``OUTDIR/report.html`` (:mod:`diarefine.report.html`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diarefine.config import PipelineConfig
from diarefine.data.manifest import Recording
from diarefine.errors import DiarefineError
from diarefine.io.atomic import atomic_write_text
from diarefine.metrics.score import ScoreSettings

if TYPE_CHECKING:
    from diarefine.bench.run import BenchOutputs
    from diarefine.io.remote import RemoteFolder

__all__ = ["BenchmarkOptions", "load_outputs", "read_recordings", "run_benchmark"]


@dataclass(frozen=True)
class BenchmarkOptions:
    config: PipelineConfig = field(default_factory=PipelineConfig)
    settings: ScoreSettings = field(default_factory=ScoreSettings)
    jobs: int | None = 1  # see diarefine.batch.run_batch
    device: str = "cpu"
    worst: int = 5  # files with a timeline in the page
    audio: str = "embed"  # worst files' audio in the page: "embed", "link" or "none"
    overwrite: bool = False
    against: Path | None = None  # another benchmark's OUTDIR
    engine: str = "local"  # or "ray" (diarefine.engines)
    address: str | None = None  # the Ray cluster to join


def manifest_file(path: Path) -> Path:
    """A JSONL manifest, or a folder written by ``diarefine simulate`` (its manifest)."""
    if path.is_dir():
        if not (path / "manifest.jsonl").is_file():
            raise DiarefineError(f"{path}: a folder without manifest.jsonl (give a JSONL "
                                 "manifest of diarefine prepare, or a simulate folder)")
        return path / "manifest.jsonl"
    return path


def read_recordings(manifests: Sequence[Path]) -> list[Recording]:
    """The recordings of every manifest; a recording id given twice is refused."""
    from diarefine.data.manifest import read_manifest

    seen: dict[str, Path] = {}
    out = []
    for path in map(manifest_file, manifests):
        for rec in read_manifest(path):
            if rec.uri in seen:
                raise DiarefineError(f"recording id {rec.uri!r} is in {seen[rec.uri]} and "
                                     f"{path}: a benchmark scores each recording once")
            seen[rec.uri] = path
            out.append(rec)
    if not out:
        raise DiarefineError("the manifests hold no recording")
    return out


def load_outputs(folder: Path, uris: Sequence[str], suffix: str = ".rttm") -> dict:
    """``folder/<uri><suffix>`` of each uri that has one (an empty RTTM: no speech)."""
    from diarefine.core.annotation import Annotation
    from diarefine.io.rttm import read_rttm

    out = {}
    for uri in uris:
        path = folder / f"{uri}{suffix}"
        if path.exists():
            out[uri] = read_rttm(path).get(uri, Annotation(uri))
    return out


def run_benchmark(manifests: Sequence[Path], outdir: Path | str, options: BenchmarkOptions,
                  on_item: Callable[[str, str | None], None] | None = None) -> dict[str, Any]:
    """Diarize, score and report; returns ``report.json``'s content. ``outdir`` may be a
    URI (`diarefine.io.remote`): the outputs are scored from a local copy and the two
    reports uploaded beside them."""
    import functools
    import tempfile

    from diarefine.batch import BatchItem, check_writable, run_batch
    from diarefine.bench.run import RTTM_DIR, BenchRunner, bench_outputs
    from diarefine.io.remote import RemoteFolder, is_uri

    manifests = [manifest_file(m) for m in manifests]
    recordings = read_recordings(manifests)
    remote = RemoteFolder(str(outdir)) if is_uri(outdir) else None
    remote.check_writable() if remote else check_writable(Path(outdir))
    config = options.config
    outputs = bench_outputs(config)
    started = time.perf_counter()
    batch = run_batch([BatchItem(r.uri, r.audio) for r in recordings],
                      f"{remote.uri}/{RTTM_DIR}" if remote else Path(outdir) / RTTM_DIR,
                      functools.partial(BenchRunner, config, options.device),
                      options.overwrite, options.jobs, on_item, outputs,
                      options.engine, options.address, options.device)
    wall = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="diarefine-bench-") as scratch:
        local = Path(scratch) if remote else Path(outdir)
        if remote:
            _download(RemoteFolder(f"{remote.uri}/{RTTM_DIR}"), local / RTTM_DIR, outputs,
                      [r.uri for r in recordings])
        report = score_outputs(recordings, manifests, local, options, batch.failed)
        report["speed"].update(wall_seconds_this_run=round(wall, 3), jobs=options.jobs,
                               engine=options.engine,
                               diarized_this_run=len(batch.done), reused=len(batch.skipped))
        write_report(local, report, recordings, options)
        for name in ("report.json", "report.html") if remote else ():
            remote.upload(local / name, name)
    return report


def _download(folder: RemoteFolder, local: Path, outputs: BenchOutputs,
              uris: Sequence[str]) -> None:
    """The files of every recording's outputs that are in the remote ``folder``."""
    for uri in uris:
        for path in outputs.paths(local, uri):
            if folder.exists(path.name):
                folder.download(path.name, path)


def score_outputs(recordings: Sequence[Recording], manifests: Sequence[Path], outdir: Path,
                  options: BenchmarkOptions, failed: dict[str, str]) -> dict[str, Any]:
    """Score whatever is in ``OUTDIR/rttm`` for these recordings; the protocol on top."""
    from diarefine.bench.protocol import protocol
    from diarefine.bench.report import Corpus, against, build_report
    from diarefine.bench.run import RTTM_DIR, bench_outputs, read_timing
    from diarefine.data.manifest import load_references, load_scoring_regions

    folder = outdir / RTTM_DIR
    # only outputs made with these settings: a recording that failed now keeps no stale
    # output of an earlier configuration in the scores
    current = bench_outputs(options.config)
    timings = {r.uri: t for r in recordings
               if current.done(folder, r.uri) and (t := read_timing(folder, r.uri))}
    scorable = [r for r in recordings if r.rttm is not None and r.uri in timings]
    if not scorable:
        raise DiarefineError("no recording was both diarized and has a reference RTTM: "
                             "nothing to score")
    uris = [r.uri for r in scorable]
    uems = {u: t for u, t in load_scoring_regions(scorable).items() if t is not None}
    corpus = Corpus(load_references(scorable), uems or None, load_outputs(folder, uris),
                    load_outputs(folder, uris, ".unrefined.rttm") if current.refined else None)
    report = build_report(corpus, options.settings, {u: timings[u] for u in uris},
                          options.worst)
    report["protocol"] = protocol(options.config, options.settings.collar,
                                  options.settings.skip_overlap, list(manifests), len(uems),
                                  len(scorable))
    report["run"] = {
        "recordings": len(recordings), "scored": len(scorable),
        "failed": {u: failed.get(u, "no output made with these settings")
                   for u in (r.uri for r in recordings) if u not in timings},
        "without_reference": sorted(r.uri for r in recordings
                                    if r.rttm is None and r.uri in timings),
    }
    if options.against is not None:
        other = load_outputs(options.against / RTTM_DIR, uris)
        if not other:
            raise DiarefineError(f"{options.against}: no output of these recordings in "
                                 f"{options.against / RTTM_DIR}")
        report["against"] = against(corpus, other, options.settings, str(options.against))
    return report


def write_report(outdir: Path, report: dict[str, Any], recordings: Sequence[Recording],
                 options: BenchmarkOptions) -> None:
    from diarefine.report.html import render

    atomic_write_text(outdir / "report.json", json.dumps(report, indent=1) + "\n")
    audio = {r.uri: r.audio for r in recordings}
    atomic_write_text(outdir / "report.html", render(report, audio, options.audio, outdir))
