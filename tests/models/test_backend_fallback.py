"""Backend "auto" goes on with torch after a runtime failure, with a warning of its own
kind, so that benchmarks can refuse to time torch in place of the configured runtime."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("torch")

from diarefine.errors import BackendFallbackWarning, DiarefineWarning  # noqa: E402
from diarefine.models.graph_cache import or_torch  # noqa: E402


def _broken() -> str:
    raise RuntimeError("no kernel")


def test_auto_falls_back_with_a_backend_fallback_warning() -> None:
    with pytest.warns(BackendFallbackWarning, match=r"the trunk here \(no kernel\); using "
                                                    r"torch"):
        assert or_torch(_broken, lambda: "torch", "auto", "the trunk") == "torch"
    assert issubclass(BackendFallbackWarning, DiarefineWarning)


def test_a_named_backend_raises_and_strict_benchmarks_turn_auto_into_an_error() -> None:
    with pytest.raises(RuntimeError, match="no kernel"):
        or_torch(_broken, lambda: "torch", "openvino", "the trunk")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=BackendFallbackWarning)
        with pytest.raises(BackendFallbackWarning):
            or_torch(_broken, lambda: "torch", "auto", "the trunk")
