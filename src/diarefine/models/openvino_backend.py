"""Run the fixed inference graphs of the models with OpenVINO (optional, CPU only).

OpenVINO's CPU kernels run the CAM++ trunk about 30 % faster than torch's on the
benchmark machine and the sinc convolution and LSTM of the segmentation model a little
faster, with the same outputs within float rounding (about 1e-5). A torch module is traced
(TorchScript), converted to OpenVINO's graph and compiled for the CPU.

Conversion takes about 9 s and compilation 1.2 s, so both are kept on disk, in
``$DIAREFINE_CACHE_DIR`` or else ``$XDG_CACHE_HOME/diarefine`` (``~/.cache/diarefine``;
about 100 MB): the converted graphs under a key made of the weights, the source of the
model's code and the versions of torch, OpenVINO and diarefine (written atomically), and
OpenVINO's own cache of compiled graphs in ``compiled/``. With the cache a pipeline is
ready in about 2 s. A cached graph is checked against torch on a small input when it is
first loaded in a process and converted again if it disagrees.
``DIAREFINE_CACHE_DIR=""`` (empty) turns the cache off (conversion at every start).

Every graph is compiled in float32 (``INFERENCE_PRECISION_HINT``): on CPUs with AVX-512
bf16 or AMX the CPU plugin's default is bfloat16, about 3 significant digits, which the
check against torch rightly refuses.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diarefine.errors import DiarefineError
from diarefine.models.campplus import CAMPPlus, ContextGatedConv
from diarefine.models.graph_cache import (  # noqa: F401  (cache_dir, graph_key: public here too)
    Method,
    cache_dir,
    cannot_keep,
    checked_build,
    graph_key,
    writable_cache,
)
from diarefine.models.graph_cache import example as example_input
from diarefine.models.segmentation import PyanNetSegmentation

#: Compiled graphs of this process, by (key, threads): a second pipeline reuses them
#: (each CompiledModule has its own inference request, so they may run in two threads).
_COMPILED: dict[tuple[str, int], Any] = {}

#: The precision every graph is compiled for, whatever the CPU's default.
PRECISION = "f32"


def compile_options(threads: int) -> dict[str, Any]:
    """OpenVINO's options for compiling a graph: float32 on every CPU, ``threads``
    threads, latency first."""
    return {"INFERENCE_PRECISION_HINT": PRECISION, "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY"}


def available() -> bool:
    """Whether the ``openvino`` package can be imported."""
    return importlib.util.find_spec("openvino") is not None


class CompiledModule:
    """A torch module of one tensor input and one tensor output, run by OpenVINO.

    ``shape`` is the input shape with -1 for the dimensions that vary between calls, or
    ``(low, high)`` for one that varies within bounds: with an upper bound OpenVINO
    plans its buffers once, where a free dimension costs it 40-70 ms of re-planning at
    every call with a new length (a 30 s recording's trunk pass takes about 0.35 s).
    ``example`` is a small input used to trace the module and to check the graph
    against torch (once per process and graph); it must fit ``shape``.
    """

    def __init__(self, name: str, module: torch.nn.Module, example: torch.Tensor,
                 shape: list[int | tuple[int, int]], threads: int | None = None) -> None:
        if not available():
            raise DiarefineError("the OpenVINO backend needs the openvino package "
                                 "(pip install 'diarefine[pipeline]'), or use backend = "
                                 "\"torch\"")
        module = module.eval()
        threads = threads or torch.get_num_threads()
        memo = (graph_key(name, module, shape), threads)
        if memo not in _COMPILED:
            _COMPILED[memo] = _build(name, memo[0], module, example, shape, threads)
        self._compiled = _COMPILED[memo]
        self._request = self._compiled.create_infer_request()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(_run(self._request, x.detach().cpu().numpy()))

    @property
    def precision(self) -> str:
        """The precision OpenVINO computes this graph in, as it reports it ("f32")."""
        return str(self._compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())


def _run(request: Any, x: np.ndarray) -> np.ndarray:
    return request.infer({0: np.ascontiguousarray(x)})[0]


def _runner(compiled: Any) -> Any:
    request = compiled.create_infer_request()
    return lambda x: _run(request, x)


def _build(name: str, key: str, module: torch.nn.Module, example: torch.Tensor,
           shape: list[int | tuple[int, int]], threads: int) -> Any:
    """The compiled graph: from the cache when there and agreeing with torch, else
    converted (and kept)."""
    import openvino as ov

    options = compile_options(threads)
    core = ov.Core()
    folder = writable_cache("OpenVINO")
    if folder is not None:  # OpenVINO's own cache of compiled graphs: 1.2 -> 0.3 s
        core.set_property({"CACHE_DIR": str(folder / "compiled")})

    def cached() -> Any:
        graph = _load(key)
        return None if graph is None else core.compile_model(graph, "CPU", options)

    def fresh() -> tuple[Any, Callable[[], None]]:
        graph = _convert(module, example, shape)
        return core.compile_model(graph, "CPU", options), lambda: _save(key, graph)

    return checked_build("OpenVINO", name, key, module, example, cached, fresh, _runner)


def _convert(module: torch.nn.Module, example: torch.Tensor,
             shape: list[int | tuple[int, int]]) -> Any:
    import openvino as ov

    with torch.no_grad(), warnings.catch_warnings():
        # torch 2.13 deprecates TorchScript tracing, but torch.export refuses CAM++'s
        # length-dependent segment pooling with a free length. The tracer's warnings are
        # about input checks frozen as constants: the graph is checked against torch at
        # other lengths and batch sizes by the tests.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(module, example, check_trace=False)
        dims = [ov.Dimension(*d) if isinstance(d, tuple) else ov.Dimension(d) for d in shape]
        return ov.convert_model(traced, input=[ov.PartialShape(dims)])


def _load(key: str) -> Any:
    folder = cache_dir()
    if folder is None or not (folder / f"{key}.xml").is_file():
        return None
    import openvino as ov

    try:
        graph = ov.Core().read_model(str(folder / f"{key}.xml"))
    except RuntimeError:
        return None  # unreadable: converted again and overwritten
    return graph


def _save(key: str, graph: Any) -> None:
    folder = writable_cache("OpenVINO")
    if folder is None:
        return
    import openvino as ov

    try:
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            ov.save_model(graph, str(Path(tmp) / "graph.xml"), compress_to_fp16=False)
            # the weights first: a reader that finds the .xml finds its .bin
            os.replace(Path(tmp) / "graph.bin", folder / f"{key}.bin")
            os.replace(Path(tmp) / "graph.xml", folder / f"{key}.xml")
    except (OSError, RuntimeError) as exc:  # e.g. a full disk
        cannot_keep(folder, exc, "OpenVINO")


def resolve(backend: str, device: str) -> str:
    """"torch" or "openvino" for a stage's ``backend`` setting ("auto": OpenVINO when it
    is installed and the device is the CPU)."""
    if backend == "auto":
        return "openvino" if available() and str(device).startswith("cpu") else "torch"
    if backend == "openvino":
        if not str(device).startswith("cpu"):
            raise DiarefineError(f"the OpenVINO backend runs on the CPU only, not on "
                                 f"{device!r}; use backend = \"torch\" or \"auto\"")
        return backend
    if backend == "torch":
        return backend
    raise ValueError(f"backend must be 'auto', 'torch' or 'openvino', not {backend!r}")


class OpenVINOTrunk:
    """CAM++'s trunk (B=1, T, 80) -> (1, C, ceil(T/2)) by OpenVINO; inputs shorter than
    two context segments (where OpenVINO's pooling refuses a window longer than its
    input) go to ``fallback``.

    With ``longest`` (the caller's longest input, in frames) the graph is compiled for
    lengths up to it, which spares OpenVINO's re-planning at every new length (see
    :class:`CompiledModule`); a longer input goes to a second graph of free length,
    compiled when first needed. The outputs are the same either way."""

    def __init__(self, model: CAMPPlus, fallback: Callable[[torch.Tensor], torch.Tensor],
                 name: str = "campplus-trunk", longest: int | None = None) -> None:
        self.shortest = 2 * max((m.segment for m in model.modules()
                                 if isinstance(m, ContextGatedConv)), default=1)
        self.fallback = fallback
        self.longest = longest
        self._model, self._name = model, name
        self._example = example_input(1, max(400, 2 * self.shortest), model.feat_dim)
        if longest is not None and longest < self._example.shape[1]:
            raise ValueError(f"longest must be at least {self._example.shape[1]} frames")
        self.compiled = (self._compile(-1, name) if longest is None else
                         self._compile((self.shortest, longest), f"{name}-upto{longest}"))
        self._free: CompiledModule | None = None

    def _compile(self, length: int | tuple[int, int], name: str) -> CompiledModule:
        return CompiledModule(name, Method(self._model, self._model.trunk), self._example,
                              [1, length, self._model.feat_dim])

    def __call__(self, fbank: torch.Tensor) -> torch.Tensor:
        if fbank.shape[1] < self.shortest:
            return self.fallback(fbank)
        if self.longest is not None and fbank.shape[1] > self.longest:
            if self._free is None:
                self._free = self._compile(-1, self._name)
            return self._free(fbank)
        return self.compiled(fbank)


class OpenVINOSegmentation:
    """``PyanNetSegmentation.chunks_of`` with the sinc convolution of the recording and
    the LSTM and feed-forward layers run by OpenVINO. The per-chunk normalisation and
    the rest of SincNet stay in torch: there OpenVINO held the batch's sinc features
    (80 x 15975 per chunk) several times, about 200 MB more on a 20-minute recording.
    Not the default: even so, 200-400 MB more than torch for 2-3 % speed."""

    def __init__(self, model: PyanNetSegmentation, chunk: int) -> None:
        self.model = model
        sinc = model.sincnet.conv1d[0]
        taps = sinc.filterbank.filters().detach()
        conv = torch.nn.Conv1d(1, taps.shape[0], taps.shape[-1], stride=model.sincnet.stride,
                               bias=False)
        conv.weight = torch.nn.Parameter(taps.clone(), requires_grad=False)
        self.conv = CompiledModule("sinc-conv", conv, example_input(1, 1, 16000), [1, 1, -1])
        frames = model.num_frames(chunk)
        channels = model.lstm.input_size
        with torch.inference_mode():
            features = model.sincnet.after_sinc(model.example_sinc(chunk, count=1))
        self.rest = CompiledModule("segmentation-after-sincnet",
                                   Method(model, model.from_features),
                                   features.clone(), [-1, channels, frames])

    def chunks_of(self, recording: torch.Tensor, step: int, count: int, length: int
                  ) -> torch.Tensor:
        sinc = self.model.sincnet.sinc_of_chunks(recording, step, count, length, self.conv)
        return self.rest(self.model.sincnet.after_sinc(sinc))
