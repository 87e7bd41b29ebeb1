"""``diarefine refiner-data``: the refiners' training data, from the pipeline's own errors.

For every recording of the inputs (manifests of ``diarefine prepare``, or folders written
by ``diarefine simulate``, which hold a ``manifest.jsonl``), the default pipeline (or the
one ``config`` describes) diarizes the audio; every system boundary in the recording's
scoring region is stored with the window of features its refiner will see
(`~diarefine.stages.refinement.features.boundary_features`) and its target: the signed
correction to the one-to-one matched reference boundary, or none (spurious), by
`~diarefine.stages.refinement.oracle.boundary_targets`. No target is ever synthetic.

The HDF5 file (written to a temporary name and renamed when complete)::

    /boundaries/frames   (n, 200, C) float32, chunked    window features
    /boundaries/static   (n, 2D + 7) float32             embeddings and flags
    /boundaries/offset   (n,) float32                     reference - system (s), NaN if none
    /boundaries/matched  (n,) bool
    /boundaries/time     (n,) float64                     the system boundary (s)
    /boundaries/index    (n,) int32                       its index in the recording's
                                                          `boundaries_of` list
    /boundaries/recording (n,) int32                      row of /recordings
    /boundaries/partner  (n,) str                         the window's speaker B ("": none)
    /recordings/uri, source, split, speakers (JSON list), duration
    /recordings/system, reference, uem    (JSON of turns / regions: the pipeline's output,
                                           for end-to-end scoring without rerunning it)

Attributes: the channel names, the window rate and length, the configuration, the
diarefine version.

Shards (``diarefine refiner-data -o FOLDER``, any ``--jobs`` or ``--engine``): one such
file per recording, ``FOLDER/<uri>.h5``, written by the worker that diarized it, and
``FOLDER/index.json`` (written by the driver at the end) listing them with their
boundary counts and the configuration. `diarefine.train.dataset.read_refiner_data` reads
the index (or the folder) as it reads one file: no merge step. A rerun skips the shards
already made with the same configuration.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from diarefine import __version__
from diarefine.batch import BatchItem, BatchReport, run_batch
from diarefine.config import PipelineConfig
from diarefine.core.annotation import Annotation, Turn
from diarefine.core.timeline import Timeline
from diarefine.data.manifest import (
    Recording,
    load_references,
    load_scoring_regions,
    read_manifest,
)
from diarefine.errors import DiarefineError
from diarefine.stages.refinement.features import (
    CHANNELS,
    NUM_FRAMES,
    RATE,
    RefinementContext,
    boundary_features,
)
from diarefine.stages.refinement.oracle import boundary_targets


@dataclass
class CaptureRefiner:
    """A refiner that changes nothing and keeps the context the pipeline built."""

    name: str = "capture"
    needs_context: bool = True
    context: RefinementContext | None = field(default=None, repr=False)

    def __call__(self, diarization: Annotation, context: RefinementContext | None
                 ) -> Annotation:
        self.context = context
        return diarization


def recordings_of(inputs: Iterable[str | Path]) -> list[tuple[str, Recording]]:
    """(source name, recording) of each manifest, or folder holding ``manifest.jsonl``."""
    out = []
    for item in inputs:
        path = Path(item)
        manifest = path / "manifest.jsonl" if path.is_dir() else path
        if not manifest.is_file():
            raise DiarefineError(f"{path}: neither a manifest nor a folder with manifest.jsonl")
        source = path.name if path.is_dir() else path.stem
        out.extend((source, rec) for rec in read_manifest(manifest))
    uris = [rec.uri for _, rec in out]
    twice = sorted({u for u in uris if uris.count(u) > 1})
    if twice:
        raise DiarefineError(f"recordings listed in more than one input: {twice[:5]}")
    return out


@dataclass(frozen=True)
class RecordingData:
    """One recording's boundaries (features and targets) and what scores it."""

    frames: NDArray[np.float32]
    static: NDArray[np.float32]
    offset: NDArray[np.float64]
    matched: NDArray[np.bool_]
    time: NDArray[np.float64]
    index: NDArray[np.int64]
    system: Annotation
    reference: Annotation
    uem: Timeline | None
    partner: tuple[str, ...] = ()


def recording_data(pipeline: object, recording: Recording, reference: Annotation,
                   uem: Timeline | None) -> RecordingData:
    """Diarize ``recording`` with ``pipeline`` (whose refiner is a `CaptureRefiner`) and
    return its in-region boundaries with features and targets."""
    capture = pipeline.refiner  # type: ignore[attr-defined]
    capture.context = None
    out = pipeline(recording.audio, uri=recording.uri)  # type: ignore[operator]
    system = out.diarization
    targets = boundary_targets(reference, system, uem)
    keep = np.flatnonzero(targets.in_region)
    if capture.context is None or len(keep) == 0:
        empty = np.zeros(0)
        return RecordingData(np.zeros((0, NUM_FRAMES, len(CHANNELS)), np.float32),
                             np.zeros((0, 0), np.float32), empty, empty.astype(bool), empty,
                             empty.astype(np.int64), system, reference, uem)
    frames, static, partners = boundary_features(capture.context, targets.bounds)
    return RecordingData(frames[keep], static[keep], targets.offset[keep],
                         targets.matched[keep], targets.bounds.times[keep], keep, system,
                         reference, uem, tuple(partners[i] or "" for i in keep))


def turns_json(annotation: Annotation) -> str:
    return json.dumps([[t.start, t.end, t.speaker] for t in annotation.turns])


def annotation_of(uri: str, text: str) -> Annotation:
    return Annotation(uri, tuple(Turn(float(a), float(b), str(s)) for a, b, s in json.loads(text)))


def _labelled(items: list[tuple[str, Recording]]
              ) -> dict[str, tuple[str, Recording, Annotation, Timeline | None]]:
    """uri -> (source, recording, reference, scoring region); every recording needs an RTTM."""
    recs = [rec for _, rec in items]
    missing = [rec.uri for rec in recs if rec.rttm is None]
    if missing:
        raise DiarefineError(f"recordings without a reference RTTM: {missing[:5]}")
    refs, uems = load_references(recs), load_scoring_regions(recs)
    return {rec.uri: (source, rec, refs[rec.uri], uems[rec.uri]) for source, rec in items}


def capture_pipeline(config: PipelineConfig) -> object:
    """The pipeline of ``config`` with a `CaptureRefiner` in place of its refiner."""
    import dataclasses

    from diarefine.stages.pipeline import DiarizationPipeline

    pipeline = DiarizationPipeline.from_pretrained(config)
    return dataclasses.replace(pipeline, refiner=CaptureRefiner())


def build_refiner_data(inputs: Sequence[str | Path], output: str | Path,
                       config: PipelineConfig | None = None,
                       progress: Callable[[str, int, int], None] | None = None) -> int:
    """Write the HDF5 file (module docstring); returns the number of boundaries."""
    items = recordings_of(inputs)
    labelled = _labelled(items)
    config = config or PipelineConfig()
    pipeline = capture_pipeline(config)

    def entries() -> Iterator[tuple[str, Recording, RecordingData]]:
        for number, (source, rec) in enumerate(items):
            yield source, rec, recording_data(pipeline, *labelled[rec.uri][1:])
            if progress is not None:
                progress(rec.uri, number + 1, len(items))

    return write_refiner_h5(output, entries(), json.dumps(config.to_dict()))


def write_refiner_h5(output: str | Path,
                     entries: Iterable[tuple[str, Recording, RecordingData]],
                     config: str) -> int:
    """Write ``entries`` (source, recording, its data) to a temporary file beside
    ``output``, renamed when complete (as `diarefine.io.atomic` names it, so a writer
    killed midway leaves only a ``.part`` file); returns the number of boundaries."""
    import tempfile

    import h5py

    output = Path(output)
    fd, partial = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part",
                                   dir=output.parent)
    os.close(fd)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(partial, 0o666 & ~mask)  # mkstemp makes 0600; follow the umask instead
    total = 0
    try:
        with h5py.File(partial, "w") as h5:
            store = _Store(h5)
            for number, (source, rec, data) in enumerate(entries):
                store.add(number, data)
                store.recording(source, rec, data)
                total += len(data.offset)
            h5.attrs.update({"channels": json.dumps(CHANNELS), "rate": RATE,
                             "num_frames": NUM_FRAMES, "config": config,
                             "diarefine": __version__})
        os.replace(partial, output)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return total


class _Store:
    """Resizable, chunked datasets appended recording by recording."""

    def __init__(self, h5: object) -> None:
        self.h5 = h5
        self.group = h5.create_group("boundaries")  # type: ignore[attr-defined]
        self.rows: dict[str, list] = {k: [] for k in
                                      ("uri", "source", "split", "speakers", "duration",
                                       "system", "reference", "uem")}

    def _append(self, name: str, values: NDArray) -> None:
        if name not in self.group:
            text = values.dtype == object  # strings
            self.group.create_dataset(name, data=values, maxshape=(None, *values.shape[1:]),
                                      chunks=(256, *values.shape[1:]) if values.ndim > 1
                                      else (4096,), compression=None if text else "lzf",
                                      dtype=__import__("h5py").string_dtype() if text
                                      else None)
            return
        ds = self.group[name]
        ds.resize(ds.shape[0] + len(values), axis=0)
        ds[-len(values):] = values

    def add(self, number: int, data: RecordingData) -> None:
        n = len(data.offset)
        if n == 0:
            return
        self._append("frames", data.frames.astype(np.float32))
        self._append("static", data.static.astype(np.float32))
        self._append("offset", data.offset.astype(np.float32))
        self._append("matched", data.matched)
        self._append("time", data.time)
        self._append("index", data.index.astype(np.int32))
        self._append("recording", np.full(n, number, dtype=np.int32))
        self._append("partner", np.asarray(data.partner or ("",) * n, dtype=object))

    def recording(self, source: str, rec: Recording, data: RecordingData) -> None:
        uem = data.uem.bounds.tolist() if data.uem is not None else None
        for key, value in (("uri", rec.uri), ("source", source), ("split", rec.split or ""),
                           ("speakers", json.dumps(list(rec.speakers))),
                           ("duration", rec.duration or 0.0),
                           ("system", turns_json(data.system)),
                           ("reference", turns_json(data.reference)),
                           ("uem", json.dumps(uem))):
            self.rows[key].append(value)
        group = self.h5.require_group("recordings")  # type: ignore[attr-defined]
        for key, values in self.rows.items():
            if key in group:
                del group[key]
            if key == "duration":
                group.create_dataset(key, data=np.asarray(values, dtype=np.float64))
            else:
                group.create_dataset(key, data=np.asarray(values, dtype=object),
                                     dtype=__import__("h5py").string_dtype())


# -- shards: one HDF5 file per recording and an index, written by any batch engine --------

#: the index of a shard folder, which `diarefine.train.dataset.read_refiner_data` reads
INDEX = "index.json"
INDEX_FORMAT = "diarefine refiner-data shards"


@dataclass(frozen=True)
class Shard:
    source: str
    recording: Recording
    data: RecordingData


class ShardRunner:
    """(uri, audio) -> its `Shard`: a batch runner (`diarefine.batch.run_batch`) holding
    the capturing pipeline, built once per worker."""

    def __init__(self, config: PipelineConfig,
                 labelled: dict[str, tuple[str, Recording, Annotation, Timeline | None]]
                 ) -> None:
        self.pipeline = capture_pipeline(config)
        self.labelled = labelled

    def __call__(self, uri: str, audio: Path) -> Shard:
        import dataclasses

        source, rec, reference, uem = self.labelled[uri]
        rec = dataclasses.replace(rec, audio=audio)  # the engine's (absolute) path
        return Shard(source, rec, recording_data(self.pipeline, rec, reference, uem))


@dataclass(frozen=True)
class ShardOutputs:
    """``<uri>.h5`` per recording, in the format of the one-file output; a shard made
    with another configuration (``config``: its JSON) is made again."""

    config: str

    def paths(self, outdir: Path, uri: str) -> list[Path]:
        return [outdir / f"{uri}.h5"]

    def done(self, outdir: Path, uri: str) -> bool:
        import h5py

        try:
            with h5py.File(outdir / f"{uri}.h5", "r") as h5:
                return h5.attrs.get("config") == self.config
        except OSError:  # absent, or not HDF5
            return False

    def write(self, outdir: Path, uri: str, result: object) -> None:
        shard: Shard = result  # type: ignore[assignment]
        write_refiner_h5(outdir / f"{uri}.h5", [(shard.source, shard.recording, shard.data)],
                         self.config)


def build_refiner_shards(inputs: Sequence[str | Path], folder: str | Path,
                         config: PipelineConfig | None = None,
                         on_item: Callable[[str, str | None], None] | None = None,
                         overwrite: bool = False, **engine: object) -> tuple[BatchReport, int]:
    """Write ``folder/<uri>.h5`` for every recording of ``inputs`` and then
    ``folder/index.json`` listing the shards made; ``engine`` (``jobs``, ``engine``,
    ``address``, ``device``) goes to `diarefine.batch.run_batch`, which skips the shards
    already there. Returns (the batch report, the number of boundaries indexed)."""
    import functools

    from diarefine.io.remote import is_uri

    items = recordings_of(inputs)
    labelled = _labelled(items)
    config = config or PipelineConfig()
    outputs = ShardOutputs(json.dumps(config.to_dict()))
    folder = str(folder) if is_uri(folder) else Path(folder)
    report = run_batch([BatchItem(rec.uri, rec.audio) for _, rec in items], folder,
                       functools.partial(ShardRunner, config, labelled), overwrite,
                       on_item=on_item, outputs=outputs, **engine)  # type: ignore[arg-type]
    made = set(report.done) | set(report.skipped)
    uris = [rec.uri for _, rec in items if rec.uri in made]
    if isinstance(folder, Path):
        return report, write_shard_index(folder, uris, outputs.config)
    return report, _remote_index(folder, uris, outputs.config)


def _remote_index(uri: str, uris: Sequence[str], config: str) -> int:
    """`write_shard_index` for a folder given by URI: the shards are read from a local
    copy (for their boundary counts), the index uploaded beside them."""
    import tempfile

    from diarefine.io.remote import RemoteFolder

    remote = RemoteFolder(uri)
    with tempfile.TemporaryDirectory(prefix="diarefine-index-") as scratch:
        local = Path(scratch)
        for name in uris:
            remote.download(f"{name}.h5", local / f"{name}.h5")
        count = write_shard_index(local, uris, config)
        remote.upload(local / INDEX, INDEX)
    return count


def write_shard_index(folder: Path, uris: Sequence[str], config: str) -> int:
    """``folder/index.json``: the shards of ``uris`` with their boundary counts, written
    atomically; returns the boundaries in all."""
    import h5py

    from diarefine.io.atomic import atomic_write_text

    shards = []
    for uri in uris:
        with h5py.File(folder / f"{uri}.h5", "r") as h5:
            count = len(h5["boundaries/offset"]) if "boundaries/offset" in h5 else 0
        shards.append({"uri": uri, "file": f"{uri}.h5", "boundaries": count})
    index = {"format": INDEX_FORMAT, "version": 1, "diarefine": __version__,
             "config": json.loads(config), "shards": shards}
    atomic_write_text(folder / INDEX, json.dumps(index, indent=1) + "\n")
    return sum(s["boundaries"] for s in shards)
