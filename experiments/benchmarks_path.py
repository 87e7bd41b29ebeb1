"""Put ``benchmarks/`` on ``sys.path``, so that an experiment run as
``python experiments/X.py`` imports the benchmarks' helpers (``paths``, ``pipeline``)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = str(Path(__file__).resolve().parents[1] / "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)
