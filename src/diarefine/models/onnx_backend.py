"""Run the segmentation model after its sinc convolution with ONNX Runtime (optional,
CPU only).

On the benchmark machine ONNX Runtime's kernels take about 30 % less time than torch's
for the segmentation model's LSTM and less than half for the rest of SincNet, with the
same output (within about 2e-5 in probability); the segmentation is the larger half of
the pipeline's cost (docs/speed.md). OpenVINO is hardly faster than torch there. The sinc
convolution shared between overlapping chunks stays in torch.

The module is exported once (``torch.onnx.export``, the TorchScript exporter, 1-2 s)
and kept in the cache folder of :mod:`diarefine.models.graph_cache` under a key
made of the weights, the model's code and the versions (written atomically); a kept
graph is checked against torch when first loaded in a process and exported again if it
disagrees. Sessions use torch's thread count. On request the LSTM's weights are
quantised to 8 bits after the export (`OnnxSegmentation(int8=True)`): faster, no longer
the same output (see ``INT8_TOLERANCE``).
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diarefine.errors import DiarefineError
from diarefine.models.graph_cache import (
    TOLERANCE,
    Method,
    cache_dir,
    cannot_keep,
    checked_build,
    graph_key,
    writable_cache,
)
from diarefine.models.segmentation import PyanNetSegmentation

#: Sessions of this process, by (key, threads).
_SESSIONS: dict[tuple[str, int], Any] = {}


def available() -> bool:
    """Whether ``onnxruntime`` (to run) and ``onnx`` (which torch's exporter needs) can
    be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


class OnnxModule:
    """A torch module of one tensor input and one tensor output, run by ONNX Runtime.

    ``dynamic`` lists the input dimensions that vary between calls (the output's first
    dimension follows the input's); ``example`` is a small input used to export the
    module and to check the graph against torch (once per process and graph).
    ``quantize`` names ONNX operator types (e.g. ``("LSTM",)``) whose weights are
    quantised to 8 bits after the export (ONNX Runtime's dynamic quantisation): the
    output then differs from torch's by more than rounding, so the graph's output, read
    as log-probabilities, is only checked to give probabilities within
    ``INT8_TOLERANCE`` of torch's.
    """

    def __init__(self, name: str, module: torch.nn.Module, example: torch.Tensor,
                 dynamic: tuple[int, ...] = (0,), threads: int | None = None,
                 quantize: tuple[str, ...] = ()) -> None:
        if not available():
            raise DiarefineError("the ONNX Runtime backend needs the onnxruntime and onnx "
                                 "packages (pip install 'diarefine[pipeline]'), or use "
                                 "backend = \"torch\"")
        module = module.eval()
        threads = threads or torch.get_num_threads()
        shape = [-1 if d in dynamic else n for d, n in enumerate(example.shape)]
        if quantize:
            name = f"{name}-int8-{'-'.join(op.lower() for op in quantize)}"
        memo = (graph_key(name, module, shape, runtime="onnxruntime"), threads)
        if memo not in _SESSIONS:
            _SESSIONS[memo] = _build(name, memo[0], module, example, dynamic, threads,
                                     quantize)
        self._session = _SESSIONS[memo]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(_run(self._session, x.detach().cpu().numpy()))


def _run(session: Any, x: np.ndarray) -> np.ndarray:
    return session.run(None, {"input": np.ascontiguousarray(x, dtype=np.float32)})[0]


#: Session settings that fix the arithmetic, whatever the CPU. ONNX Runtime's CPU
#: kernels compute float graphs in float32 on x86 (AVX2, AVX-512 and AMX alike); the one
#: setting that would let them round to bfloat16 (on ARM64) is turned off explicitly, and
#: denormals are kept.
PRECISION_ENTRIES = {"mlas.enable_gemm_fastmath_arm64_bfloat16": "0",
                     "session.set_denormal_as_zero": "0"}


def session_options(threads: int) -> Any:
    """ONNX Runtime's session options: float32 arithmetic, ``threads`` threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    for name, value in PRECISION_ENTRIES.items():
        options.add_session_config_entry(name, value)
    return options


def _session(model: bytes, threads: int) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(model, session_options(threads),
                                providers=["CPUExecutionProvider"])


def _cached_session(model: bytes, threads: int) -> Any:
    """A session of a cached graph, or None when ONNX Runtime cannot read it (it is
    exported again and overwritten)."""
    try:
        return _session(model, threads)
    except Exception:  # noqa: BLE001  (onnxruntime's own exception types)
        return None


def _build(name: str, key: str, module: torch.nn.Module, example: torch.Tensor,
           dynamic: tuple[int, ...], threads: int, quantize: tuple[str, ...] = ()) -> Any:
    """The session: from the cached graph when there and agreeing with torch, else
    exported, quantised when asked (and kept)."""

    def cached() -> Any:
        model = _load(key)
        return _cached_session(model, threads) if model is not None else None

    def fresh() -> tuple[Any, Callable[[], None]]:
        model = _export(module, example, dynamic)
        if quantize:
            model = _quantize(model, quantize)
        return _session(model, threads), lambda: _save(key, model)

    return checked_build("ONNX Runtime", name, key, module, example, cached, fresh,
                         lambda session: lambda x: _run(session, x),
                         tolerance=INT8_TOLERANCE if quantize else TOLERANCE,
                         log_probabilities=bool(quantize))


#: How far (in probability) a quantised graph's outputs may be from torch's on the
#: check's example. On real speech the segmentation's LSTM in 8 bits moves the powerset
#: probabilities by up to about 0.06 (docs/speed.md); a wrong graph moves them far more.
INT8_TOLERANCE = 0.1


def _quantize(model: bytes, ops: tuple[str, ...]) -> bytes:
    """``model`` with the weights of its ``ops`` operators in unsigned 8 bits (ONNX
    Runtime's dynamic quantisation: activations are quantised at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "float.onnx", Path(folder) / "int8.onnx"
        source.write_bytes(model)
        # the quantiser advises pre-processing on the root logger, which would also give
        # the root logger a handler (logging.basicConfig) if it had none: silenced here
        root, level, quiet = logging.getLogger(), logging.getLogger().level, None
        if not root.handlers:
            quiet = logging.NullHandler()
            root.addHandler(quiet)
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(source, target, weight_type=QuantType.QUInt8,
                             op_types_to_quantize=list(ops))
        finally:
            root.setLevel(level)
            if quiet is not None:
                root.removeHandler(quiet)
        return target.read_bytes()


def _export(module: torch.nn.Module, example: torch.Tensor, dynamic: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter (dynamo=False) is deprecated in favour of torch.export's,
        # which needs onnxscript; the graph is checked against torch below and in the tests
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buffer, dynamo=False, input_names=["input"],
                          output_names=["output"], opset_version=17,
                          dynamic_axes={"input": {d: f"d{d}" for d in dynamic},
                                        "output": {0: "d0"} if 0 in dynamic else {}})
    return buffer.getvalue()


def _load(key: str) -> bytes | None:
    folder = cache_dir()
    path = folder / f"{key}.onnx" if folder is not None else None
    if path is None or not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None  # unreadable: exported again and overwritten


def _save(key: str, model: bytes) -> None:
    folder = writable_cache("ONNX")
    if folder is None:
        return
    name = None
    try:
        fd, name = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(fd, "wb") as file:
            file.write(model)
        os.replace(name, folder / f"{key}.onnx")
    except OSError as exc:  # e.g. a full disk, a folder that became read-only
        if name is not None:
            Path(name).unlink(missing_ok=True)
        cannot_keep(folder, exc, "ONNX")


class OnnxSegmentation:
    """``PyanNetSegmentation.chunks_of`` with everything after the sinc convolution (the
    rest of SincNet, the LSTM and the feed-forward layers) run by ONNX Runtime; the sinc
    convolution shared between overlapping chunks (and each chunk's normalisation) stays
    in torch.

    ONNX Runtime runs at most ``max_batch`` chunks at once: it keeps its buffers for the
    largest call (about 12 MB per chunk) and per chunk it is hardly faster with more. The
    normalised sinc features are written to one buffer kept between calls (the size of
    the largest batch so far). With ``int8`` the LSTM's weights are in 8 bits: about 15 %
    faster here, probabilities up to about 0.06 from torch's (docs/speed.md).
    """

    def __init__(self, model: PyanNetSegmentation, chunk: int, max_batch: int = 8,
                 int8: bool = False) -> None:
        self.model = model
        self.max_batch = max_batch
        self.rest = OnnxModule("segmentation-after-sinc", Method(model, model.from_sinc),
                               model.example_sinc(chunk), dynamic=(0,),
                               quantize=("LSTM",) if int8 else ())
        self._sinc = torch.empty(0)

    def chunks_of(self, recording: torch.Tensor, step: int, count: int, length: int
                  ) -> torch.Tensor:
        sinc = self.model.sincnet.sinc_of_chunks(recording, step, count, length,
                                                 out=self._sinc)
        if sinc.numel() > self._sinc.numel():  # a larger batch than before: keep its buffer
            self._sinc = sinc
        return torch.cat([self.rest(sinc[i: i + self.max_batch])
                          for i in range(0, len(sinc), self.max_batch)])
