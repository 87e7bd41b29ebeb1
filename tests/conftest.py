"""Shared fixtures: the real-data folder and the reference scorer.

Tests that need ``../shared/data`` or md-eval skip with a reason on a user's clone,
and fail where ``CI=true`` (CI always has both).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from diarefine.metrics.mdeval import find_mdeval

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DIAREFINE_SHARED_DATA", REPO.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` unless under CI, where the missing resource is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must be available)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    require(SHARED_DATA.is_dir(), f"real-data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mdeval() -> str:
    path = find_mdeval()
    require(path is not None, "md-eval-22.pl not found (apt-get install sctk)")
    assert path is not None
    return path
