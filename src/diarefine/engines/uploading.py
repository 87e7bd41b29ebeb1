"""A batch writing its outputs to a folder given by URI (`diarefine.io.remote`).

Each worker writes a recording's files as it always does (atomically, with the wrapped
writer), into a local staging folder, then uploads them one by one, and last a stamp
``<uri>.uploaded`` holding a digest of the writer's settings. A recording is done when
the stamp is there with the same digest and every file beside it: an upload cut short
leaves no stamp, so the recording is redone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from diarefine.batch import Writer
from diarefine.io.remote import RemoteFolder


@dataclass(frozen=True)
class Uploading:
    """``inner``'s files, written under the local ``outdir`` and uploaded to ``folder``."""

    inner: Writer
    folder: RemoteFolder

    @property
    def stamp(self) -> str:
        return "sha256:" + hashlib.sha256(repr(self.inner).encode()).hexdigest()

    def paths(self, outdir: Path, uri: str) -> list[Path]:
        return self.inner.paths(outdir, uri)

    def done(self, outdir: Path, uri: str) -> bool:
        if self.folder.read_text(f"{uri}.uploaded") != self.stamp:
            return False
        return all(self.folder.exists(p.name) for p in self.inner.paths(outdir, uri))

    def write(self, outdir: Path, uri: str, result: object) -> None:
        self.inner.write(outdir, uri, result)
        for path in self.inner.paths(outdir, uri):
            if path.exists():
                self.folder.upload(path, path.name)
                path.unlink()
        self.folder.upload_text(self.stamp, f"{uri}.uploaded")
