"""Sliding-window local segmentation with pyannote segmentation-3.0 (powerset decoding).

Chunks of ``chunk_duration`` (10 s) start every ``step`` seconds (rounded to 10 samples);
the last one is padded with zeros so that the whole recording is covered. Chunks run in
batches that share one sinc convolution of the audio they span (exact: see
``SincNet.sinc_of_chunks``), so memory holds one batch at a time; the rest of the model
runs on ONNX Runtime by default (``backend``, :func:`resolve_backend`). Each frame's
powerset scores are decoded to the activity of the 3 local speakers (:func:`decode`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from diarefine.errors import DiarefineError
from diarefine.models import onnx_backend, openvino_backend
from diarefine.models.graph_cache import or_torch, recover
from diarefine.models.pretrained import SegmentationInfo
from diarefine.models.segmentation import PyanNetSegmentation, powerset_mapping
from diarefine.stages.base import ChunkScores, Hook, no_hook


def chunk_starts(num_samples: int, chunk: int, step: int) -> NDArray[np.int64]:
    """Start sample of every chunk: ``0, step, ...`` until one reaches the end. (C,)"""
    if num_samples <= chunk:
        return np.zeros(1, dtype=np.int64)
    return np.arange(math.ceil((num_samples - chunk) / step) + 1, dtype=np.int64) * step


def count_probabilities(log_probs: NDArray[np.float32], mapping: NDArray[np.float32],
                        decoding: str) -> NDArray[np.float32]:
    """Powerset log-probabilities (C, F, classes) -> probability that 0, 1, ... M local
    speakers talk at once (C, F, M + 1): the sums over the classes of each size
    (``"hard"``: 1 for the size of the most likely class)."""
    sizes = mapping.sum(axis=1).astype(np.int64)
    onehot = (sizes[:, None] == np.arange(int(sizes.max()) + 1)[None, :]).astype(np.float32)
    if decoding == "hard":
        return onehot[np.argmax(log_probs, axis=-1)]
    if decoding == "soft":
        return (np.exp(log_probs) @ onehot).astype(np.float32)
    raise ValueError(f"decoding must be 'hard' or 'soft', not {decoding!r}")


def decode(log_probs: NDArray[np.float32], mapping: NDArray[np.float32],
           decoding: str) -> NDArray[np.float32]:
    """Powerset log-probabilities (C, F, classes) -> local speaker activity (C, F, K).

    ``"hard"``: the most likely class, 0/1 per speaker (pyannote 3.1). ``"soft"``: each
    speaker's probability, the sum of the probabilities of the classes that contain it.
    """
    if decoding == "hard":
        return mapping[np.argmax(log_probs, axis=-1)]
    if decoding == "soft":
        return (np.exp(log_probs) @ mapping).astype(np.float32)
    raise ValueError(f"decoding must be 'hard' or 'soft', not {decoding!r}")


BACKENDS = ("auto", "torch", "onnxruntime", "onnxruntime-int8", "openvino")


def resolve_backend(backend: str, device: str) -> str:
    """"torch", "onnxruntime", "onnxruntime-int8" or "openvino" for ``[segmentation]
    backend``; "auto": ONNX Runtime when it is installed and the device is the CPU, else
    torch."""
    on_cpu = str(device).startswith("cpu")
    if backend not in BACKENDS:
        raise ValueError(f"[segmentation] backend must be one of {', '.join(BACKENDS)}, "
                         f"not {backend!r}")
    if backend == "auto":
        return "onnxruntime" if on_cpu and onnx_backend.available() else "torch"
    if backend in ("onnxruntime", "onnxruntime-int8"):
        if not on_cpu:
            raise DiarefineError(f"the ONNX Runtime backend runs on the CPU only, not on "
                                 f"{device!r}; use backend = \"torch\" or \"auto\"")
        return backend
    return openvino_backend.resolve(backend, device)  # "torch" or "openvino"


_Runner = (PyanNetSegmentation | onnx_backend.OnnxSegmentation
           | openvino_backend.OpenVINOSegmentation)


@dataclass
class Segmenter:
    model: PyanNetSegmentation
    info: SegmentationInfo
    step: float = 1.0
    batch_size: int = 32
    device: str = "cpu"
    decoding: str = "hard"
    threshold: float = 0.5
    #: "auto", "torch", "onnxruntime", "onnxruntime-int8" or "openvino" (see
    #: `resolve_backend`)
    backend: str = "torch"

    def __post_init__(self) -> None:
        mapping = powerset_mapping(self.info.num_speakers, self.info.max_simultaneous)
        self._mapping = mapping.numpy().astype(np.float32)
        self._runner: _Runner | None = None

    def runner(self) -> _Runner:
        """What computes ``chunks_of``: the model, or its ONNX Runtime or OpenVINO version
        (built once)."""
        if self._runner is None:
            backend = resolve_backend(self.backend, self.device)
            chunk = self.info.num_samples
            builders = {"onnxruntime": lambda: onnx_backend.OnnxSegmentation(self.model, chunk),
                        "onnxruntime-int8": lambda: onnx_backend.OnnxSegmentation(
                            self.model, chunk, int8=True),
                        "openvino": lambda: openvino_backend.OpenVINOSegmentation(self.model,
                                                                                  chunk)}
            self._runner = or_torch(builders.get(backend, lambda: self.model),
                                    lambda: self.model, self.backend,
                                    f"the segmentation cannot run on {backend}")
        return self._runner

    def __call__(self, waveform: NDArray[np.float32], hook: Hook = no_hook) -> ChunkScores:
        """waveform (num_samples,) at the model's rate -> ChunkScores (C, 589, 3)."""
        log_probs = self.log_probs(waveform, hook)
        scores = ChunkScores(decode(log_probs, self._mapping, self.decoding), self.step_samples
                             / self.info.sample_rate, self.info.num_samples / self.info.sample_rate,
                             self.info.frame_grid, self.threshold,
                             count_probabilities(log_probs, self._mapping, self.decoding))
        hook("segmentation", scores)
        return scores

    @property
    def step_samples(self) -> int:
        """The chunk step in samples, a multiple of the sinc stride (10 samples)."""
        stride = self.model.sincnet.stride
        return max(stride, int(round(self.step * self.info.sample_rate / stride)) * stride)

    def log_probs(self, waveform: NDArray[np.float32], hook: Hook = no_hook
                  ) -> NDArray[np.float32]:
        """Powerset log-probabilities of every chunk. (C, 589, 7)"""
        chunk, step = self.info.num_samples, self.step_samples
        starts = chunk_starts(len(waveform), chunk, step)
        out = np.empty((len(starts), self.info.num_frames, len(self._mapping)), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(starts), self.batch_size):
                count = min(self.batch_size, len(starts) - i)
                begin = int(starts[i])
                piece = waveform[begin: begin + (count - 1) * step + chunk]
                if len(piece) < (count - 1) * step + chunk:  # the last chunk: zero-padded
                    piece = np.pad(piece, (0, (count - 1) * step + chunk - len(piece)))
                tensor = torch.from_numpy(np.ascontiguousarray(piece)).to(self.device)
                out[i: i + count] = self._chunks_of(tensor, step, count, chunk).cpu()
                hook("progress/segmentation", (i + count, len(starts)))
        return out

    def _chunks_of(self, recording: torch.Tensor, step: int, count: int, length: int
                   ) -> torch.Tensor:
        """The runner's ``chunks_of``; if another runtime than torch fails here and the
        backend is "auto", a warning and torch for this and every later call."""
        runner = self.runner()
        try:
            return runner.chunks_of(recording, step, count, length)
        except Exception as exc:  # noqa: BLE001  (any runtime failure)
            if runner is self.model:
                raise
            recover(exc, self.backend, f"the segmentation failed on {type(runner).__name__}")
            self._runner = self.model
            return self.model.chunks_of(recording, step, count, length)
