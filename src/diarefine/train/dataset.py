"""Refiner data read back from the HDF5 files of `diarefine refiner-data`, and the
disjointness checks of the splits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.errors import DiarefineError
from diarefine.train.refiner_data import annotation_of


@dataclass(frozen=True)
class RecordingRow:
    uri: str
    source: str
    speakers: tuple[str, ...]
    system: Annotation
    reference: Annotation
    uem: Timeline | None


@dataclass(frozen=True)
class RefinerData:
    """Boundaries of one or more files: ``frames`` (n, W, C), ``static`` (n, S),
    ``offset`` (n,) (NaN: spurious), ``matched``, ``time``, ``index`` (in the recording's
    `boundaries_of` list), ``recording`` (n,) row of ``recordings``, ``partner`` (n,)
    the window's speaker B ("": none; ``None`` for files written before it was stored)."""

    frames: NDArray[np.float32]
    static: NDArray[np.float32]
    offset: NDArray[np.float32]
    matched: NDArray[np.bool_]
    time: NDArray[np.float64]
    index: NDArray[np.int64]
    recording: NDArray[np.int64]
    recordings: tuple[RecordingRow, ...]
    sources: tuple[str, ...]
    partner: NDArray[np.object_] | None = None

    def __len__(self) -> int:
        return len(self.offset)

    def subset(self, rows: NDArray) -> RefinerData:
        return RefinerData(self.frames[rows], self.static[rows], self.offset[rows],
                           self.matched[rows], self.time[rows], self.index[rows],
                           self.recording[rows], self.recordings, self.sources,
                           None if self.partner is None else self.partner[rows])

    def of_sources(self, names: Sequence[str]) -> RefinerData:
        """Only the recordings (and their boundaries) of the sources ``names``; an
        unknown name is refused."""
        unknown = sorted(set(names) - set(self.sources))
        if unknown:
            raise DiarefineError(f"no source {unknown} in the data; its sources: "
                                 f"{list(self.sources)}")
        kept = [r for r, rec in enumerate(self.recordings) if rec.source in names]
        renumber = np.full(len(self.recordings), -1, dtype=np.int64)
        renumber[kept] = np.arange(len(kept))
        rows = np.flatnonzero(renumber[self.recording] >= 0)
        part = self.subset(rows)
        return RefinerData(part.frames, part.static, part.offset, part.matched, part.time,
                           part.index, renumber[part.recording],
                           tuple(self.recordings[r] for r in kept),
                           tuple(s for s in self.sources if s in names), part.partner)


def refiner_files(path: str | Path, check: bool = True) -> list[Path]:
    """The HDF5 files behind one input: the file itself, or the shards listed by a shard
    index (``index.json`` of `diarefine.train.refiner_data.build_refiner_shards`), or by
    the index inside a folder of shards."""
    from diarefine.train.refiner_data import INDEX, INDEX_FORMAT

    path = Path(path)
    index = path / INDEX if path.is_dir() else path
    if index.suffix != ".json":
        return [path]
    try:
        listing = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DiarefineError(f"{index}: not a refiner-data shard index ({exc})") from None
    if not isinstance(listing, dict) or listing.get("format") != INDEX_FORMAT:
        raise DiarefineError(f"{index}: not a refiner-data shard index")
    files = [index.parent / shard["file"] for shard in listing["shards"]]
    absent = [str(f) for f in files if check and not f.is_file()]
    if absent:
        raise DiarefineError(f"{index}: shards listed but absent: {absent[:3]}")
    return files


def read_refiner_data(paths: Sequence[str | Path]) -> RefinerData:
    """Concatenate HDF5 files, each given itself or by a shard index or folder
    (`refiner_files`); recordings listed in two files are refused. An index or file given
    by URI (``s3://.../index.json``; `diarefine.io.remote`) is read from a local copy."""
    import tempfile

    from diarefine.io.remote import is_uri

    if not any(is_uri(p) for p in paths):
        return _read_local(paths)
    with tempfile.TemporaryDirectory(prefix="diarefine-data-") as scratch:
        return _read_local([_fetch(str(p), Path(scratch) / str(k)) if is_uri(p) else p
                            for k, p in enumerate(paths)])


def _fetch(uri: str, local: Path) -> Path:
    """A refiner-data file, or a shard index and its shards, copied from ``uri``."""
    from diarefine.io.remote import RemoteFolder
    from diarefine.train.refiner_data import INDEX

    parent, name = uri.rstrip("/").rsplit("/", 1)
    if not name.endswith((".json", ".h5", ".hdf5")):  # a folder of shards
        parent, name = uri.rstrip("/"), INDEX
    remote = RemoteFolder(parent)
    remote.download(name, local / name)
    if name.endswith(".json"):
        for path in refiner_files(local / name, check=False):
            remote.download(path.name, path)
    return local / name


def _read_local(paths: Sequence[str | Path]) -> RefinerData:
    import h5py

    parts: dict[str, list] = {k: [] for k in ("frames", "static", "offset", "matched", "time",
                                              "index", "recording", "partner")}
    rows: list[RecordingRow] = []
    for path in [file for given in paths for file in refiner_files(given)]:
        try:
            h5 = h5py.File(path, "r")
        except OSError as exc:
            raise DiarefineError(f"{path}: not a refiner-data HDF5 file ({exc})") from None
        with h5:
            rec = h5["recordings"]
            uems = [json.loads(u) for u in rec["uem"].asstr()[:]]
            for i, uri in enumerate(rec["uri"].asstr()[:]):
                rows.append(RecordingRow(
                    uri, rec["source"].asstr()[i], tuple(json.loads(rec["speakers"].asstr()[i])),
                    annotation_of(uri, rec["system"].asstr()[i]),
                    annotation_of(uri, rec["reference"].asstr()[i]),
                    Timeline([tuple(b) for b in uems[i]]) if uems[i] is not None else None))
            if "boundaries" not in h5 or "frames" not in h5["boundaries"]:
                continue
            b = h5["boundaries"]
            first = len(rows) - len(rec["uri"])
            for key in parts:
                if key == "partner":
                    parts[key].append(b[key].asstr()[:].astype(object) if key in b else None)
                    continue
                values = b[key][:]
                parts[key].append(values + first if key == "recording" else values)
    uris = [r.uri for r in rows]
    twice = sorted({u for u in uris if uris.count(u) > 1})
    if twice:
        raise DiarefineError(f"recordings in more than one file: {twice[:5]}")
    if not parts["offset"]:
        raise DiarefineError(f"no boundaries in {list(map(str, paths))}")
    partners = parts.pop("partner")
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    partner = None if any(p is None for p in partners) else np.concatenate(partners)
    return RefinerData(cat["frames"].astype(np.float32), cat["static"].astype(np.float32),
                       cat["offset"].astype(np.float32), cat["matched"].astype(bool),
                       cat["time"], cat["index"].astype(np.int64),
                       cat["recording"].astype(np.int64), tuple(rows),
                       tuple(sorted({r.source for r in rows})), partner)


def check_disjoint(train: RefinerData, select: RefinerData) -> list[str]:
    """Problems (empty when none): recordings or speakers shared by the two sets. The
    speakers compared are the manifests' (simulated sets: LibriSpeech ids; AMI: its ids)."""
    problems = []
    shared = {r.uri for r in train.recordings} & {r.uri for r in select.recordings}
    if shared:
        problems.append(f"recordings in both: {sorted(shared)[:5]}")
    speakers = ({s for r in train.recordings for s in r.speakers}
                & {s for r in select.recordings for s in r.speakers})
    if speakers:
        problems.append(f"speakers in both: {sorted(speakers)[:5]}")
    return problems
