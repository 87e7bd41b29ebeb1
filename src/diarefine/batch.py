"""Diarize many recordings: resumable, atomic outputs, a bad file never stops the batch.

``OUTDIR/<uri>.rttm`` is written atomically when a recording is done, so a rerun skips
finished recordings (unless ``overwrite``) and an interrupted run leaves no half file.
A recording that fails is reported with its reason; the others go on.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from diarefine.errors import DiarefineError
from diarefine.io.audio import AUDIO_EXTENSIONS, read_wav_scp
from diarefine.io.rttm import write_rttm

Runner = Callable[[str, Path], object]  # (uri, audio path) -> DiarizeOutput


class Writer(Protocol):
    """What a batch writes per recording (`Outputs` for diarization): the files, whether
    they are complete, and how a worker writes them (atomically)."""

    def paths(self, outdir: Path, uri: str) -> list[Path]: ...

    def done(self, outdir: Path, uri: str) -> bool: ...

    def write(self, outdir: Path, uri: str, result: object) -> None: ...


@dataclass(frozen=True)
class BatchItem:
    uri: str
    audio: Path


@dataclass
class BatchReport:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"{len(self.done)} diarized, {len(self.skipped)} already done (skipped), "
                 f"{len(self.failed)} failed"]
        lines += [f"  FAILED {uri}: {reason}" for uri, reason in sorted(self.failed.items())]
        return "\n".join(lines)


def collect_inputs(inputs: Sequence[str | Path]) -> list[BatchItem]:
    """Audio files, folders (searched recursively), ``wav.scp`` lists and JSONL manifests
    (of ``diarefine prepare`` or ``simulate``) -> items.

    The uri is the file stem, with each run of whitespace replaced by an underscore (RTTM
    fields cannot hold spaces), or the recording id of a ``wav.scp``. Two inputs with the
    same uri are refused, naming both.
    """
    items: list[BatchItem] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                raise DiarefineError(f"{path}: folder holds no audio file")
            items += [BatchItem(uri_of(p), p) for p in found]
        elif path.suffix == ".jsonl":  # a manifest of `diarefine prepare` or `simulate`
            from diarefine.data.manifest import read_manifest

            items += [BatchItem(rec.uri, rec.audio) for rec in read_manifest(path)]
        elif path.name == "wav.scp" or path.suffix == ".scp":
            items += [BatchItem(uri, audio) for uri, audio in read_wav_scp(path).items()]
        elif path.exists() or path.suffix.lower() in AUDIO_EXTENSIONS:
            items.append(BatchItem(uri_of(path), path))  # a missing file fails in the batch
        else:
            raise DiarefineError(f"{path}: no such audio file, folder or wav.scp")
    seen: dict[str, Path] = {}
    for item in items:
        if item.uri in seen and seen[item.uri] != item.audio:
            raise DiarefineError(f"recording id {item.uri!r} given twice: {seen[item.uri]} "
                                 f"and {item.audio}")
        seen[item.uri] = item.audio
    return list({item.uri: item for item in items}.values())


def one_line(message: str) -> str:
    """A message's whole reason on one line (runtimes such as OpenVINO write several)."""
    return " ".join(message.split())


def uri_of(path: Path) -> str:
    """A file's recording id: its stem, whitespace runs replaced by underscores."""
    return "_".join(path.stem.split()) or "_"


def check_writable(outdir: Path) -> None:
    """The output folder exists (made if need be) and takes a file; DiarefineError with the
    reason otherwise, before any recording is computed."""
    import tempfile

    try:
        outdir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=outdir, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise DiarefineError(f"{outdir}: cannot write outputs there ({exc.strerror or exc})"
                             ) from None


def settings_digest(config: object, **extra: object) -> str:
    """A digest of everything that shapes a recording's outputs: the pipeline
    configuration, ``extra`` (e.g. the speaker counts) and diarefine's version; written
    beside the outputs, so a rerun with other settings redoes the recording."""
    import hashlib
    import json

    from diarefine import __version__

    text = json.dumps({"config": config.to_dict(), **extra,  # type: ignore[attr-defined]
                       "version": __version__}, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def output_path(outdir: Path, uri: str) -> Path:
    return outdir / f"{uri}.rttm"


@dataclass(frozen=True)
class Outputs:
    """What each recording writes beside ``<uri>.rttm``: ``<uri>.exclusive.rttm`` (one
    speaker at a time), ``<uri>.embeddings.npz`` (each speaker's centroid),
    ``<uri>.turns.json`` (each turn with its confidence), and
    ``<uri>.settings`` holding ``settings`` (a digest of everything that shapes the
    output): a rerun redoes a recording whose digest differs or whose files are missing."""

    exclusive: bool = False
    embeddings: bool = False
    settings: str = ""
    confidence: bool = False

    def paths(self, outdir: Path, uri: str) -> list[Path]:
        """The files a recording writes (its settings stamp included)."""
        paths = [output_path(outdir, uri)]
        paths += [outdir / f"{uri}.exclusive.rttm"] if self.exclusive else []
        paths += [outdir / f"{uri}.embeddings.npz"] if self.embeddings else []
        paths += [outdir / f"{uri}.turns.json"] if self.confidence else []
        return paths + ([outdir / f"{uri}.settings"] if self.settings else [])

    def done(self, outdir: Path, uri: str) -> bool:
        if not all(p.exists() for p in self.paths(outdir, uri)):
            return False
        if not self.settings:
            return True
        stamp = outdir / f"{uri}.settings"
        try:
            return stamp.read_text(encoding="utf-8").strip() == self.settings
        except OSError:
            return False

    def write(self, outdir: Path, uri: str, result: object) -> None:
        import numpy as np

        from diarefine.io.atomic import atomic_open, atomic_write_text

        write_rttm(output_path(outdir, uri), result.diarization)  # type: ignore[attr-defined]
        if self.exclusive:
            write_rttm(outdir / f"{uri}.exclusive.rttm", result.exclusive)  # type: ignore[attr-defined]
        if self.embeddings:
            centroids = result.speaker_embeddings  # type: ignore[attr-defined]
            with atomic_open(outdir / f"{uri}.embeddings.npz", "wb") as handle:
                np.savez(handle, **{k: np.asarray(v) for k, v in sorted(centroids.items())})
        if self.confidence:
            import json

            turns = [{"start": round(t.start, 3), "end": round(t.end, 3), "speaker": t.speaker,
                      "confidence": c} for t, c in zip(
                          result.diarization.turns, result.turn_confidence)]  # type: ignore[attr-defined]
            atomic_write_text(outdir / f"{uri}.turns.json",
                              json.dumps({"uri": uri, "turns": turns}, indent=1) + "\n")
        if self.settings:
            atomic_write_text(outdir / f"{uri}.settings", self.settings + "\n")


def run_one(runner: Runner, item: BatchItem, outdir: Path,
            outputs: Writer = Outputs()) -> tuple[str, str | None]:
    """One recording: run, then write its outputs (atomically); (uri, error or None).
    The task of every engine."""
    try:
        result = runner(item.uri, item.audio)
        outputs.write(outdir, item.uri, result)
        return item.uri, None
    except (DiarefineError, OSError, ValueError, RuntimeError, MemoryError) as exc:
        return item.uri, one_line(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - an unexpected bug must not stop the batch
        last = traceback.format_exc().strip().splitlines()[-1]
        return item.uri, f"unexpected {type(exc).__name__}: {last}"


_WORKER: dict[str, Runner] = {}


def _init_worker(factory: Callable[[], Runner], threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER["runner"] = factory()


def _run_in_worker(item: BatchItem, outdir: Path, outputs: Writer
                   ) -> tuple[str, str | None]:
    return run_one(_WORKER["runner"], item, outdir, outputs)


def run_batch(
    items: Iterable[BatchItem],
    outdir: Path | str,
    runner_factory: Callable[[], Runner],
    overwrite: bool = False,
    jobs: int | None = 1,
    on_item: Callable[[str, str | None], None] | None = None,
    outputs: Writer = Outputs(),
    engine: str = "local",
    address: str | None = None,
    device: str = "cpu",
) -> BatchReport:
    """Diarize ``items`` into ``outdir``; ``on_item(uri, error_or_None)`` after each one.
    An output folder that cannot be written is refused before anything is computed; a
    recording whose outputs are there, made with the same settings, is skipped.

    ``engine`` "local" runs here, in one process (``jobs`` 1) or ``jobs`` worker
    processes (None: one per CPU); "ray" runs on a Ray cluster (`diarefine.engines`):
    the one at ``address``, else one started here with ``jobs`` CPUs (None: all), with
    one worker per CPU, or per GPU when ``device`` is cuda. Temporary files left by a
    worker killed while writing are removed once every recording has run.

    ``outdir`` may be a URI (``s3://bucket/run``; `diarefine.io.remote`): each worker
    then writes into a local staging folder and uploads (`diarefine.engines.uploading`).
    """
    from diarefine.engines import check_engine
    from diarefine.io.remote import is_uri

    check_engine(engine, address, jobs)
    if is_uri(outdir):
        return _run_uploading(items, str(outdir), runner_factory, overwrite, jobs, on_item,
                              outputs, engine, address, device)
    outdir = Path(outdir)
    check_writable(outdir)
    report = BatchReport()
    todo = []
    for item in items:
        if not overwrite and outputs.done(outdir, item.uri):
            report.skipped.append(item.uri)
        else:
            todo.append(item)

    def record(uri: str, error: str | None) -> None:
        if error is None:
            report.done.append(uri)
        else:
            report.failed[uri] = error
        if on_item is not None:
            on_item(uri, error)

    if engine == "ray":
        from diarefine.engines.ray_pool import run_on_ray

        run_on_ray(todo, outdir, runner_factory, outputs, record, jobs, address, device)
    else:
        _run_local(todo, outdir, runner_factory, outputs, record, jobs or os.cpu_count() or 1)
    remove_stale_parts(outdir, outputs, [item.uri for item in todo])
    return report


def _run_uploading(items: Iterable[BatchItem], uri: str, runner_factory: Callable[[], Runner],
                   overwrite: bool, jobs: int | None,
                   on_item: Callable[[str, str | None], None] | None, outputs: Writer,
                   engine: str, address: str | None, device: str) -> BatchReport:
    """`run_batch` into the folder at ``uri``, staging each recording's files locally."""
    import shutil
    import tempfile

    from diarefine.engines.uploading import Uploading
    from diarefine.io.remote import RemoteFolder

    folder = RemoteFolder(uri)
    folder.check_writable()
    staging = Path(tempfile.mkdtemp(prefix="diarefine-staging-"))
    try:
        return run_batch(items, staging, runner_factory, overwrite, jobs, on_item,
                         Uploading(outputs, folder), engine, address, device)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _run_local(todo: list[BatchItem], outdir: Path, runner_factory: Callable[[], Runner],
               outputs: Writer, record: Callable[[str, str | None], None], jobs: int) -> None:
    if jobs <= 1 or len(todo) <= 1:
        runner = runner_factory() if todo else None
        for item in todo:
            record(*run_one(runner, item, outdir, outputs))
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, initializer=_init_worker,
                             initargs=(runner_factory, threads)) as pool:
        futures = [pool.submit(_run_in_worker, item, outdir, outputs) for item in todo]
        for future in as_completed(futures):
            record(*future.result())


def remove_stale_parts(outdir: Path, outputs: Writer, uris: Iterable[str]) -> list[Path]:
    """Remove the temporary files (`diarefine.io.atomic`) of these recordings' outputs:
    only a writer killed mid-write leaves one. Call when no task of theirs runs."""
    import re

    names = {p.name for uri in uris for p in outputs.paths(outdir, uri)}
    if not names:
        return []
    pattern = re.compile(r"\.(.+)\.[^.]{8}\.part")
    removed = []
    for entry in os.scandir(outdir):
        match = pattern.fullmatch(entry.name)
        if match and match.group(1) in names:
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed
