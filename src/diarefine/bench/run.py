"""The diarization half of ``diarefine benchmark``: every recording of the manifests,
timed, with its refined and unrefined outputs, resumable and atomic.

``OUTDIR/rttm/<uri>.rttm`` is the system output (refined when a refiner ran);
``<uri>.unrefined.rttm`` the pipeline's output before refinement (only with a refiner);
``<uri>.timing.json`` the recording's duration and processing seconds; ``<uri>.settings``
the digest of everything that shaped them. A rerun skips recordings whose files are all
there with the same digest, so the timings of an interrupted run are kept.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from diarefine.config import PipelineConfig
from diarefine.core.annotation import Annotation
from diarefine.io.atomic import atomic_write_text
from diarefine.io.rttm import write_rttm

RTTM_DIR = "rttm"


@dataclass
class Timed:
    """One recording's result as the batch writes it."""

    diarization: Annotation
    unrefined: Annotation | None
    duration: float
    seconds: float


@dataclass
class BenchRunner:
    """(uri, audio) -> :class:`Timed`; the pipeline is built once per worker process."""

    config: PipelineConfig = field(default_factory=PipelineConfig)
    device: str = "cpu"

    def __post_init__(self) -> None:
        from diarefine.stages.pipeline import DiarizationPipeline

        self.pipeline = DiarizationPipeline.from_pretrained(self.config, self.device)
        self._unrefined: Annotation | None = None

    def _hook(self, name: str, artifact: object) -> None:
        if name == "postprocess":  # the pipeline's output before the refiner moves it
            self._unrefined = artifact  # type: ignore[assignment]

    def __call__(self, uri: str, audio: Path) -> Timed:
        self._unrefined = None
        start = time.perf_counter()
        out = self.pipeline(audio, uri=uri, hook=self._hook)
        seconds = time.perf_counter() - start
        unrefined = self._unrefined
        if unrefined is None and self.pipeline.refiner.name != "none":
            unrefined = out.diarization  # too short or silent: nothing was refined
        return Timed(out.diarization, unrefined, out.duration, seconds)


@dataclass(frozen=True)
class BenchOutputs:
    """What each recording writes (the ``outputs`` of :func:`diarefine.batch.run_batch`)."""

    settings: str
    refined: bool = False

    def paths(self, outdir: Path, uri: str) -> list[Path]:
        names = [f"{uri}.rttm", f"{uri}.timing.json", f"{uri}.settings"]
        names += [f"{uri}.unrefined.rttm"] if self.refined else []
        return [outdir / name for name in names]

    def done(self, outdir: Path, uri: str) -> bool:
        if not all(p.exists() for p in self.paths(outdir, uri)):
            return False
        try:
            return (outdir / f"{uri}.settings").read_text(encoding="utf-8").strip() \
                == self.settings
        except OSError:
            return False

    def write(self, outdir: Path, uri: str, result: object) -> None:
        assert isinstance(result, Timed)
        write_rttm(outdir / f"{uri}.rttm", result.diarization)
        if self.refined:
            write_rttm(outdir / f"{uri}.unrefined.rttm", result.unrefined or result.diarization)
        atomic_write_text(outdir / f"{uri}.timing.json", json.dumps(
            {"duration": round(result.duration, 3), "seconds": round(result.seconds, 3)}) + "\n")
        atomic_write_text(outdir / f"{uri}.settings", self.settings + "\n")  # last: "done"


def bench_settings(config: PipelineConfig) -> str:
    """A digest of the configuration (refiner included) and diarefine's version."""
    from diarefine.batch import settings_digest

    return settings_digest(config)


def bench_outputs(config: PipelineConfig) -> BenchOutputs:
    """What a benchmark with ``config`` writes per recording (and finds when done)."""
    return BenchOutputs(bench_settings(config), config.refiner.name != "none")


def read_timing(outdir: Path, uri: str) -> dict[str, float] | None:
    """A recording's ``{duration, seconds}``, or None when it was not diarized."""
    try:
        data = json.loads((outdir / f"{uri}.timing.json").read_text(encoding="utf-8"))
        return {"duration": float(data["duration"]), "seconds": float(data["seconds"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None
