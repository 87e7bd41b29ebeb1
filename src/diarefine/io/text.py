"""Text inputs (RTTM, UEM, TOML, wav.scp, manifests) read one way: UTF-8, a leading
byte-order mark accepted, and bytes that are not UTF-8 refused with the file, the line
and the column."""

from __future__ import annotations

from pathlib import Path

from diarefine.errors import FormatError

BOM = b"\xef\xbb\xbf"


def read_text(path: str | Path) -> str:
    """The file's text. FormatError (file, line) when it is not UTF-8; OSError as usual
    when it cannot be read."""
    data = Path(path).read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FormatError(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                                      f"column {column})") from None


def read_lines(path: str | Path) -> list[str]:
    """The file's lines, without their line ends (see `read_text`)."""
    return read_text(path).splitlines()
