"""Exceptions and warnings raised by diarefine."""

from __future__ import annotations

from pathlib import Path


class DiarefineError(Exception):
    """Base class of the errors diarefine raises on bad input."""


class FormatError(DiarefineError, ValueError):
    """A malformed line in an RTTM, UEM or list file; names the file and the line."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class AudioError(DiarefineError):
    """Audio that cannot be read or used."""


class DiarefineWarning(UserWarning):
    """Something suspicious in the input that diarefine handled (and says how)."""


class BackendFallbackWarning(DiarefineWarning):
    """An optional runtime (OpenVINO, ONNX Runtime) failed under backend "auto" and
    torch does the work instead: same output, slower. Benchmarks turn it into an error."""
