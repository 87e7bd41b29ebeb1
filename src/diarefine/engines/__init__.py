"""Where a batch runs: ``local`` (this machine: one process, or ``jobs`` worker processes)
or ``ray`` (an actor pool on a Ray cluster, :mod:`diarefine.engines.ray_pool`).

Both engines run the same task per recording (:func:`diarefine.batch.run_one`: the runner,
then the outputs written atomically by the worker), so they write the same bytes, resume
from the same outputs and report failures the same way. Ray is imported only inside
:mod:`~diarefine.engines.ray_pool`, and only when that engine is chosen.
"""

from __future__ import annotations

import importlib.util

from diarefine.errors import DiarefineError

ENGINES = ("local", "ray")


def check_engine(engine: str, address: str | None, jobs: int | None) -> None:
    """One-line errors for a bad engine choice, before any recording is computed."""
    if engine not in ENGINES:
        raise DiarefineError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if address is not None and engine != "ray":
        raise DiarefineError("an address is given only with the ray engine (--engine ray)")
    if jobs is not None and jobs < 1:
        raise DiarefineError(f"jobs must be at least 1, not {jobs}")
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise DiarefineError("the ray engine needs Ray: pip install 'diarefine[ray]'")
