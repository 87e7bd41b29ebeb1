"""Where the benchmarks find the repository and the real data (``../shared/data`` beside
the project root, or ``$DIAREFINE_SHARED_DATA``)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIAREFINE_SHARED_DATA", REPO.parent / "shared" / "data"))
