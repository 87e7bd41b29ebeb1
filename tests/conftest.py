"""Shared fixtures: the real-data folder and the reference scorer.

Tests that need ``../shared/data`` or md-eval skip with a reason on a user's clone,
and fail where ``CI=true`` (CI always has both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from diarefine.metrics.mdeval import find_mdeval
from needs import SHARED_DATA, require


@pytest.fixture(scope="session", autouse=True)
def openvino_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The OpenVINO and ONNX Runtime backends' graph cache in a temporary folder, not
    the user's home (inherited by the CLI subprocesses); one conversion per model per
    session."""
    before = os.environ.get("DIAREFINE_CACHE_DIR")
    folder = tmp_path_factory.mktemp("diarefine-cache")
    os.environ["DIAREFINE_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        del os.environ["DIAREFINE_CACHE_DIR"]
    else:
        os.environ["DIAREFINE_CACHE_DIR"] = before


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
