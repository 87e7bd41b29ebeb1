"""Where the benchmarks find the repository and the data they read.

Nothing here points at a data folder by itself: the real corpora (a folder holding
``ami-excerpts/``, ``pyannote-sample/`` and ``librispeech-261/``) come from ``--data DIR``
or, without it, from ``$DIAREFINE_DATA`` (else ``$DIAREFINE_SHARED_DATA``, which the tests
read too); a script that needs them and has neither stops
with a message that says what to pass. A scored set may also be a JSONL manifest written
by ``diarefine prepare`` (`manifest_set`). What the benchmarks generate themselves (the
simulated sets, the refiner data) goes to ``benchmarks/data`` unless told otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from diarefine.core import Annotation, Timeline

REPO = Path(__file__).resolve().parents[1]
#: Where the benchmarks write the sets they generate (git-ignored).
GENERATED = REPO / "benchmarks" / "data"
#: The environment variable that names the data folder when ``--data`` is not given.
DATA_ENV = "DIAREFINE_DATA"
#: Read when ``DATA_ENV`` is unset: the variable the tests read (tests/needs.py).
TESTS_ENV = "DIAREFINE_SHARED_DATA"
#: What the data folder holds, for help texts and errors.
DATA_HELP = ("the data folder holding ami-excerpts/, pyannote-sample/ and librispeech-261/ "
             f"(default: ${DATA_ENV})")


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--data DIR`` (the real corpora) to a benchmark's parser."""
    parser.add_argument("--data", type=Path, default=None, metavar="DIR", help=DATA_HELP)


def data_folder(given: Path | None, *needed: str) -> Path:
    """The data folder: ``given``, else ``$DIAREFINE_DATA``, else ``$DIAREFINE_SHARED_DATA``;
    exits with a message saying what to pass when none is set or a ``needed`` entry (e.g.
    ``"ami-excerpts"``) is absent from it."""
    named = os.environ.get(DATA_ENV) or os.environ.get(TESTS_ENV)
    folder = given or (Path(named) if named else None)
    if folder is None:
        sys.exit(f"error: no data folder: pass --data DIR ({DATA_HELP.split(' (')[0]}) "
                 f"or set {DATA_ENV}=DIR")
    missing = [name for name in needed if not (folder / name).exists()]
    if missing:
        sys.exit(f"error: {folder} lacks {', '.join(missing)}: pass --data DIR ({DATA_HELP})")
    return folder


@dataclass(frozen=True)
class Item:
    """One scored recording: its audio, reference and scoring region."""

    uri: str
    audio: Path
    reference: Annotation
    uem: Timeline


def manifest_set(path: Path) -> list[Item]:
    """The recordings of a JSONL manifest (``diarefine prepare``, the make_* scripts),
    each scored over its UEM, or over the whole audio when it has none."""
    import soundfile as sf

    from diarefine.data.manifest import load_references, load_scoring_regions, read_manifest

    if not path.is_file():
        sys.exit(f"error: manifest {path} is absent")
    records = read_manifest(path)
    refs, regions = load_references(records), load_scoring_regions(records)
    items = []
    for r in records:
        region = regions[r.uri]
        if region is None:
            duration = r.duration or sf.info(str(r.audio)).duration
            region = Timeline([(0.0, duration)])
        items.append(Item(r.uri, r.audio, refs[r.uri], region))
    return items
