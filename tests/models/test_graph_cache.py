"""The checks every optional runtime's graph passes, whatever the CPU: precision, agreement
with torch, and failures remembered per runtime version and CPU.

These tests use torch alone: bfloat16 arithmetic is emulated by torch on every CPU, so
nothing here depends on the CPU that runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from copy import deepcopy
from pathlib import Path

import numpy as np
import pytest
import torch

from diarefine.errors import DiarefineError
from diarefine.models import graph_cache as gc


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DIAREFINE_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path / "cache"


def deep(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for _ in range(6):
        layers += [torch.nn.Conv1d(16, 16, 5, padding=2), torch.nn.Tanh()]
    return torch.nn.Sequential(torch.nn.Conv1d(4, 16, 3, padding=1), *layers).eval()


def in_dtype(module: torch.nn.Module, dtype: torch.dtype) -> Callable[[np.ndarray], np.ndarray]:
    """``module`` run in ``dtype`` (a stand-in for a runtime computing in that precision)."""
    copy = deepcopy(module).to(dtype)

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return copy(torch.from_numpy(x).to(dtype)).float().numpy()

    return run


def test_float32_agrees_and_bfloat16_arithmetic_is_refused() -> None:
    module, x = deep(), gc.example(2, 4, 200)
    assert gc.agrees(in_dtype(module, torch.float32), module, x)
    assert not gc.agrees(in_dtype(module, torch.bfloat16), module, x)


@pytest.mark.slow
def test_the_campplus_trunk_in_bfloat16_is_refused() -> None:
    """The real model the check guards: CAM++'s trunk computed in bfloat16 (what OpenVINO
    does by default on AVX-512 bf16 / AMX CPUs) is refused; in float32 it agrees."""
    from diarefine.models.pretrained import load_campplus

    model, _ = load_campplus()
    trunk = gc.Method(model, model.trunk)
    x = gc.example(1, 400, 80)
    model16, _ = load_campplus()
    model16 = model16.to(torch.bfloat16)

    def bf16(a: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model16.trunk(torch.from_numpy(a).bfloat16()).float().numpy()

    def f32(a: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model.trunk(torch.from_numpy(a)).numpy()

    assert gc.agrees(f32, trunk, x)
    assert not gc.agrees(bf16, trunk, x)


def build(module: torch.nn.Module, runner: Callable[[np.ndarray], np.ndarray],
          calls: list[str], key: str = "deep-0123") -> object:
    def fresh() -> tuple[object, Callable[[], None]]:
        calls.append("fresh")
        return runner, lambda: calls.append("keep")

    return gc.checked_build("Test RT", "deep", key, module, gc.example(2, 4, 50),
                            cached=lambda: None, fresh=fresh, runner=lambda r: r)


def test_a_failed_check_is_remembered_and_later_processes_fall_back_at_once(
        own_cache: Path) -> None:
    module, calls = deep(), []
    with pytest.raises(DiarefineError, match="disagrees with torch by more than 0.001"):
        build(module, in_dtype(module, torch.bfloat16), calls)
    assert calls == ["fresh"]  # converted and checked, not kept
    (marker,) = own_cache.glob("*.failed")
    assert marker.name == f"deep-0123-{gc.cpu_signature()}.failed"
    assert "disagrees with torch" in marker.read_text()
    # a later process: no conversion, no check, the same reason and the file to delete
    with pytest.raises(DiarefineError, match=r"disagrees with torch.*remembered in .*\.failed"):
        build(module, in_dtype(module, torch.float32), calls)
    assert calls == ["fresh"]
    marker.unlink()  # deleting it makes the next process try again
    assert build(module, in_dtype(module, torch.float32), calls) is not None
    assert calls == ["fresh", "fresh", "keep"]


def test_a_failed_conversion_is_remembered_with_its_whole_reason(own_cache: Path) -> None:
    def fresh() -> tuple[object, Callable[[], None]]:
        raise RuntimeError("converter gone\nsecond line of the reason")

    for _ in range(2):
        with pytest.raises(DiarefineError,
                           match="cannot convert deep: converter gone second line"):
            gc.checked_build("Test RT", "deep", "deep-k", deep(), gc.example(2, 4, 50),
                             cached=lambda: None, fresh=fresh, runner=lambda r: r)
    assert len(list(own_cache.glob("deep-k-*.failed"))) == 1


def test_a_failure_is_remembered_per_cpu(own_cache: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    module, calls = deep(), []
    with pytest.raises(DiarefineError):
        build(module, in_dtype(module, torch.bfloat16), calls)
    monkeypatch.setattr(gc, "cpu_signature", lambda: "another-cpu")
    assert build(module, in_dtype(module, torch.float32), calls) is not None
    assert calls == ["fresh", "fresh", "keep"]


def test_transient_errors_and_a_disabled_cache_remember_nothing(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk() -> tuple[object, Callable[[], None]]:
        raise OSError("no space left")

    with pytest.raises(OSError):
        gc.checked_build("Test RT", "deep", "deep-k", deep(), gc.example(2, 4, 50),
                         cached=lambda: None, fresh=full_disk, runner=lambda r: r)
    assert not list(own_cache.glob("*.failed"))
    monkeypatch.setenv("DIAREFINE_CACHE_DIR", "")
    calls: list[str] = []
    for _ in range(2):
        with pytest.raises(DiarefineError):
            build(deep(), in_dtype(deep(), torch.bfloat16), calls)
    assert calls == ["fresh", "fresh"]


def test_the_cpu_signature_is_stable_and_short() -> None:
    assert gc.cpu_signature() == gc.cpu_signature()
    assert len(gc.cpu_signature()) == 12


def test_an_unwritable_cache_is_skipped_with_one_warning_per_process(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from diarefine.errors import DiarefineWarning

    own_cache.mkdir()
    monkeypatch.setattr(gc, "_UNWRITABLE", set())
    monkeypatch.setattr(gc.os, "access", lambda *a, **k: False)  # as a read-only mount
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert gc.writable_cache("Test RT") is None
        assert gc.writable_cache("Test RT") is None
    mine = [w for w in seen if issubclass(w.category, DiarefineWarning)]
    assert len(mine) == 1 and "no write permission" in str(mine[0].message)


def test_an_onnx_graph_that_cannot_be_kept_still_runs_when_the_backend_is_named(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache folder that refuses the temporary file (read-only file system): the
    session is built and used; a warning says the graph is not kept."""
    import warnings

    from diarefine.errors import DiarefineWarning
    from diarefine.models import onnx_backend as xb

    if not xb.available():
        pytest.skip("onnxruntime is not installed")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(xb.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(xb, "_SESSIONS", {})
    module = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3, padding=1)).eval()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        runner = xb.OnnxModule("ro", module, torch.randn(1, 2, 16), dynamic=(0, 2))
    assert any(issubclass(w.category, DiarefineWarning) and "Read-only file system"
               in str(w.message) for w in seen)
    x = torch.randn(2, 2, 20)
    with torch.inference_mode():
        torch.testing.assert_close(runner(x), module(x), atol=1e-5, rtol=1e-5)
    assert not list(own_cache.glob("*.onnx"))
