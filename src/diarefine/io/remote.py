"""Output folders given as URIs (``s3://bucket/run``, ``gs://...``, ``file:///...``), through
fsspec (the ``ray`` extra; ``s3fs``/``gcsfs`` for those schemes, installed by the user).

A file is uploaded under a hidden temporary name and then moved to its own, so a reader
never sees half of it (on an object store the move is a copy that appears whole).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from diarefine.errors import DiarefineError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(text: str | Path) -> bool:
    """Whether ``text`` names a folder by URI (``scheme://...``) rather than a path."""
    return isinstance(text, str) and bool(_SCHEME.match(text))


class RemoteFolder:
    """The files of one folder given by URI."""

    def __init__(self, uri: str) -> None:
        try:
            from fsspec.core import url_to_fs
        except ImportError:
            raise DiarefineError(f"{uri}: writing to a URI needs fsspec (pip install "
                                 "'diarefine[ray]', and s3fs/gcsfs for s3:// / gs://)") from None
        try:
            self.fs, root = url_to_fs(uri)
        except (ImportError, ValueError) as exc:
            raise DiarefineError(f"{uri}: {exc}") from None
        self.uri, self.root = uri.rstrip("/"), root.rstrip("/")

    def __reduce__(self) -> tuple[Any, tuple[str]]:  # rebuilt where it is unpickled
        return RemoteFolder, (self.uri,)

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self._path(name)))

    def read_text(self, name: str) -> str | None:
        try:
            return self.fs.cat_file(self._path(name)).decode("utf-8")
        except (FileNotFoundError, OSError, UnicodeDecodeError):
            return None

    def upload(self, local: Path, name: str) -> None:
        """``local`` -> ``name``, whole or not at all."""
        tmp = self._path(f".{name}.{uuid.uuid4().hex[:8]}.part")
        self.fs.put_file(str(local), tmp)
        try:
            self.fs.mv(tmp, self._path(name))
        except BaseException:
            self.fs.rm(tmp)
            raise

    def upload_text(self, text: str, name: str) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / name
            local.write_text(text, encoding="utf-8")
            self.upload(local, name)

    def download(self, name: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(self._path(name), str(local))

    def check_writable(self) -> None:
        """The folder exists (made if need be) and takes a file: DiarefineError otherwise."""
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            probe = f".write-check-{uuid.uuid4().hex[:8]}"
            self.fs.pipe_file(self._path(probe), b"")
            self.fs.rm(self._path(probe))
        except Exception as exc:  # noqa: BLE001 - every backend raises its own errors
            raise DiarefineError(f"{self.uri}: cannot write outputs there ({exc})") from None
