"""What the optional inference runtimes (OpenVINO, ONNX Runtime) share: where converted
graphs are kept, their content keys, and how a graph is checked against torch.

The cache folder is ``$DIAREFINE_CACHE_DIR`` or else ``$XDG_CACHE_HOME/diarefine``
(``~/.cache/diarefine``); ``DIAREFINE_CACHE_DIR=""`` (empty) turns it off.

Precision is stated, never left to the CPU: every runtime is asked for float32 (on CPUs
with AVX-512 bf16 or AMX, OpenVINO would otherwise compute in bfloat16), and a graph is
used only if it agrees with torch (`agrees`). A conversion or check that fails is
remembered in the cache folder (``<key>-<cpu>.failed``, keyed by the graph's key, which
holds the runtime's version, and by the CPU's features), so that later processes on the
same machine go to the fallback at once instead of converting and checking again.
Deleting that file makes the next process try again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import inspect
import os
import platform
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from diarefine.errors import BackendFallbackWarning, DiarefineError, DiarefineWarning

T = TypeVar("T")
R = TypeVar("R")  # a runtime's compiled model or session

#: Largest disagreement with torch accepted when a graph is loaded (float rounding of
#: reordered sums is about 1e-5 on these models), relative to the largest output.
TOLERANCE = 1e-3


def cache_dir() -> Path | None:
    """Where converted graphs are kept, or None when the cache is turned off."""
    if "DIAREFINE_CACHE_DIR" in os.environ:
        value = os.environ["DIAREFINE_CACHE_DIR"]
        return Path(value).expanduser() if value else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "diarefine"


def package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def graph_key(name: str, module: torch.nn.Module, shape: Sequence[int | tuple[int, int]],
              runtime: str = "openvino") -> str:
    """Content key of a converted graph: weights, model code, input shape and the
    versions of torch, the ``runtime`` package and diarefine."""
    digest = hashlib.sha256()
    for part in (name, str(shape), torch.__version__, package_version(runtime),
                 package_version("diarefine")):
        digest.update(part.encode() + b"\0")
    sources = {inspect.getsourcefile(type(m)) for m in module.modules()}
    for source in sorted(s for s in sources if s and Path(s).is_file()):
        digest.update(Path(source).read_bytes())
    for key, tensor in sorted(module.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"{name}-{digest.hexdigest()[:20]}"


#: Cache folders already found unwritable in this process: warned about once.
_UNWRITABLE: set[Path] = set()


def writable_cache(runtime: str) -> Path | None:
    """The cache folder, created if need be; None (with one warning per process and
    folder) when it cannot be created or written: the graphs are then converted in
    memory and not kept."""
    folder = cache_dir()
    if folder is None or folder in _UNWRITABLE:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission on {folder}")
    except OSError as exc:
        _UNWRITABLE.add(folder)
        cannot_keep(folder, exc, runtime)
        return None
    return folder


def cannot_keep(folder: Path, exc: Exception, runtime: str) -> None:
    reason = " ".join(str(exc).split())
    warnings.warn(f"cannot keep the {runtime} graph in {folder} ({reason}); it will be "
                  f"converted again next time (set DIAREFINE_CACHE_DIR)",
                  DiarefineWarning, stacklevel=5)


def agrees(run: Callable[[np.ndarray], np.ndarray], module: torch.nn.Module,
           example: torch.Tensor, tolerance: float = TOLERANCE,
           log_probabilities: bool = False) -> bool:
    """Whether ``run`` (a converted graph) gives ``module``'s output on ``example``, within
    ``tolerance`` relative to the output's largest magnitude (at least 1); with
    ``log_probabilities`` the outputs are compared as probabilities (so ``tolerance``
    is absolute)."""
    with torch.inference_mode():
        expected = module(example).numpy()
    got = run(example.numpy())
    if log_probabilities:
        expected, got = np.exp(expected), np.exp(got)
    return got.shape == expected.shape and bool(
        np.abs(got - expected).max() <= tolerance * max(1.0, float(np.abs(expected).max())))


def cpu_signature() -> str:
    """A short digest of what this CPU can do (architecture and instruction-set flags):
    a runtime's kernels, and so whether its graph agrees with torch, depend on them."""
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            flags = next((line for line in info if line.startswith(("flags", "Features"))),
                         "")
    except OSError:
        pass
    text = " ".join([platform.machine(), platform.processor(), *sorted(flags.split())])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def failure_file(key: str) -> Path | None:
    """Where a failed conversion or check of graph ``key`` on this CPU is remembered."""
    folder = cache_dir()
    return None if folder is None else folder / f"{key}-{cpu_signature()}.failed"


def remembered_failure(key: str) -> str | None:
    """The reason an earlier process gave up on graph ``key`` on this CPU, if any."""
    path = failure_file(key)
    try:
        return path.read_text(encoding="utf-8").strip() if path is not None else None
    except (OSError, UnicodeDecodeError):
        return None


def remember_failure(key: str, reason: str, runtime: str) -> None:
    """Keep ``reason`` (one line) for later processes; nothing when the cache is off."""
    from diarefine.io.atomic import atomic_open

    path = failure_file(key)
    if path is None or writable_cache(runtime) is None:
        return
    try:
        with atomic_open(path, "w") as handle:
            handle.write(reason + "\n")
    except OSError as exc:
        cannot_keep(path.parent, exc, runtime)


def checked_build(runtime: str, name: str, key: str, module: torch.nn.Module,
                  example: torch.Tensor, cached: Callable[[], R | None],
                  fresh: Callable[[], tuple[R, Callable[[], None]]],
                  runner: Callable[[R], Callable[[np.ndarray], np.ndarray]],
                  tolerance: float = TOLERANCE, log_probabilities: bool = False) -> R:
    """A ``runtime``'s model of ``module``: ``cached()`` (from the cache folder, None when
    absent or unreadable) if it agrees with torch on ``example``; else ``fresh()`` (a
    model converted now, and how to keep it), which must agree, and is then kept.
    Agreeing is `agrees` with ``tolerance`` and ``log_probabilities``.

    A failed conversion or check raises `DiarefineError` and is remembered (see
    `failure_file`); a remembered failure raises at once, naming the file to delete."""
    earlier = remembered_failure(key)
    if earlier is not None:
        raise DiarefineError(f"{earlier} [remembered in {failure_file(key)}: delete it "
                             f"to try again]")

    def agree(model: R) -> bool:
        return agrees(runner(model), module, example, tolerance, log_probabilities)

    model = cached()
    if model is not None:
        if agree(model):
            return model
        warnings.warn(f"the cached {runtime} graph {key} disagrees with torch; converting "
                      f"it again", DiarefineWarning, stacklevel=4)
    try:
        model, keep = fresh()
    except (OSError, MemoryError):
        raise  # not a property of this runtime on this CPU: not remembered
    except Exception as exc:  # noqa: BLE001  (any converter's or runtime's own error)
        reason = f"{runtime} cannot convert {name}: " + " ".join(str(exc).split())
        remember_failure(key, reason, runtime)
        raise DiarefineError(reason) from exc
    if not agree(model):
        scale = "in probability" if log_probabilities else "relative"
        reason = (f"{runtime}'s {name} disagrees with torch by more than {tolerance} "
                  f"({scale}); use backend = \"torch\"")
        remember_failure(key, reason, runtime)
        raise DiarefineError(reason)
    keep()
    return model


def example(*shape: int) -> torch.Tensor:
    """A fixed random input (for tracing and checking a graph)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


class Method(torch.nn.Module):
    """A method of a module (one tensor in, one out) as the forward of a module, for
    tracing; its state is the owner's."""

    def __init__(self, owner: torch.nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]
                 ) -> None:
        super().__init__()
        self.owner = owner
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def or_torch(build: Callable[[], T], fallback: Callable[[], T], requested: str,
             what: str) -> T:
    """``build()`` (a model on an optional runtime); when that fails and the backend was
    ``requested`` as "auto", a warning and ``fallback()`` (torch: the same output) instead,
    since "auto" is a speed-up, never a reason to fail. A backend named explicitly raises."""
    try:
        return build()
    except Exception as exc:  # noqa: BLE001  (any converter, exporter or runtime failure)
        recover(exc, requested, f"{what} here")
        return fallback()


def recover(exc: Exception, requested: str, what: str) -> None:
    """After an optional runtime failed with ``exc``: raise it again if the backend was
    named explicitly; for "auto", warn (the caller goes on with torch)."""
    if requested != "auto":
        raise exc
    warnings.warn(f"{what} ({exc}); using torch", BackendFallbackWarning, stacklevel=4)
