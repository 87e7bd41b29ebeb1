"""Typed, declarative pipeline configuration, loaded from TOML.

Every value has a default, chosen by measurement on the AMI excerpts train/dev split
(``benchmarks/pipeline.py``; never on the test files). A TOML file overrides any subset::

    [segmentation]
    step = 2.0            # seconds between 10 s chunks

    [clustering]
    method = "spectral"   # any registered clusterer; the other keys are its parameters
    max_speakers = 8

Unknown sections or keys are errors that name them.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from diarefine.errors import DiarefineError


class ConfigError(DiarefineError, ValueError):
    """A configuration file or value that cannot be used."""


@dataclass(frozen=True)
class SegmentationConfig:
    #: "segmentation-3.0": pyannote's model, shipped with diarefine; or the path of a
    #: (smaller) PyanNet written by ``benchmarks/distill_segmentation.py`` (safetensors),
    #: relative to the TOML file's folder when read from one.
    model: str = "segmentation-3.0"
    #: Seconds between the starts of consecutive 10 s chunks.
    step: float = 2.5
    #: Chunks per forward pass (16 keeps the sinc front end under ~300 MB).
    batch_size: int = 16
    #: "hard": most likely powerset class (pyannote 3.1); "soft": per-speaker probability.
    decoding: str = "soft"
    #: A local speaker is active where its activity exceeds this (soft decoding).
    threshold: float = 0.4
    #: Runs the model after its sinc convolution: "auto" (ONNX Runtime when installed and
    #: on the CPU: same output within float rounding, the whole pipeline about 10 %
    #: faster than with torch), "onnxruntime", "torch", or "openvino" (the sinc
    #: convolution and the LSTM on OpenVINO: 2-3 % faster than torch but 200-400 MB more
    #: memory on long recordings; docs/speed.md), or "onnxruntime-int8" (ONNX Runtime with
    #: the LSTM's weights in 8 bits: the whole pipeline about 9 % faster, probabilities up
    #: to about 0.06 from torch's, DER 0.2-0.7 points worse on whole recordings; README,
    #: docs/speed.md).
    backend: str = "auto"


@dataclass(frozen=True)
class EmbeddingConfig:
    #: "campplus": CAM++, shipped with diarefine; or the path of a (smaller) CAM++ written
    #: by ``benchmarks/distill_campplus.py`` (safetensors), relative to the TOML file's
    #: folder when read from one.
    model: str = "campplus"
    #: "trunk": frame features once per recording, pooled per (chunk, speaker) mask;
    #: "chunk": every chunk embedded on its own (the reference approach, slower).
    mode: str = "trunk"
    #: A local speaker is embedded when it has at least this much speech in the chunk.
    min_speech: float = 0.5
    #: Pool only the frames where the local speaker talks alone, when there are enough.
    exclude_overlap: bool = True
    #: Local speakers embedded per forward pass in "chunk" mode (CAM++ slows down sharply
    #: with large batches on a CPU).
    batch_size: int = 6
    #: Fold the CAM++ batch-norms into the preceding convolutions (faster, same output).
    fuse: bool = True
    #: Runs the CAM++ trunk: "auto" (OpenVINO when installed and on the CPU: same output
    #: within float rounding, the trunk about 29 % faster), "torch" or "openvino".
    backend: str = "auto"


@dataclass(frozen=True)
class ClusteringConfig:
    #: "vbx" (default): VBx over the bundled PLDA for recordings with at least 50
    #: embeddings, the baseline "ahc" for shorter ones; "ahc"; "spectral".
    method: str = "vbx"
    #: Keyword arguments of the registered clusterer (see diarefine.stages.clustering);
    #: each clusterer's own defaults are the measured ones.
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReconstructionConfig:
    #: "uniform" or "hamming" weighting of chunk frames when averaging overlapping chunks.
    weighting: str = "uniform"
    #: How many speakers talk at each frame. "powerset": from the segmentation's own
    #: probability of 0, 1, 2 simultaneous speakers, averaged over the chunks: speech where
    #: P(>= 1) > speech_threshold, two speakers where P(2) > overlap_threshold. "active":
    #: the rounded mean number of active local speakers (pyannote 3.1).
    count: str = "powerset"
    speech_threshold: float = 0.6
    overlap_threshold: float = 0.4


@dataclass(frozen=True)
class ReassignmentConfig:
    #: How much short-window embeddings decide which speaker talks where one speaker does
    #: (diarefine.stages.reassign): activation = (1 - weight) * the chunks' + weight *
    #: softmax(cosine to each speaker / temperature). 0 turns the stage off; it needs
    #: the trunk pass, so ``[embedding] mode = "chunk"`` skips it.
    weight: float = 0.7
    #: Seconds of audio around each window centre (its whole width).
    window: float = 1.0
    #: Seconds between window centres.
    hop: float = 0.1
    #: A window is used when it holds at least this many seconds of single-speaker speech.
    min_speech: float = 0.3
    temperature: float = 0.1
    #: Each speaker's reference for the windows: the mean of its windows where the
    #: chunks' activation of it exceeds this (its chunk centroid if it has under 5).
    confident: float = 0.7

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ConfigError(f"[reassignment] weight must lie in [0, 1], got {self.weight}")
        for key in ("window", "hop", "temperature"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"[reassignment] {key} must be > 0, got "
                                  f"{getattr(self, key)}")


@dataclass(frozen=True)
class PostProcessConfig:
    #: Frames (about 17 ms each) of the median filter on each speaker's 0/1 track; 21
    #: (0.35 s) smooths the reassignment's frame-by-frame decisions (1 = off).
    median_filter: int = 21
    min_duration_on: float = 0.0
    min_duration_off: float = 0.1
    extra_threshold: float = 1.0


@dataclass(frozen=True)
class RefinerConfig:
    #: "none", "shift", "mlp", "transformer", "diffusion", "contrastive", or the path of
    #: a refiner checkpoint (.safetensors) or shift table (.json). The default is the
    #: variant chosen on the selection sets (docs/refinement.md)
    name: str = "transformer"
    #: confidence below which a learned refiner keeps a boundary where it is (None: the
    #: threshold stored with the checkpoint, chosen on the selection sets)
    abstain: float | None = None


@dataclass(frozen=True)
class PipelineConfig:
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    clustering: ClusteringConfig = field(default_factory=ClusteringConfig)
    reconstruction: ReconstructionConfig = field(default_factory=ReconstructionConfig)
    reassignment: ReassignmentConfig = field(default_factory=ReassignmentConfig)
    postprocess: PostProcessConfig = field(default_factory=PostProcessConfig)
    refiner: RefinerConfig = field(default_factory=RefinerConfig)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<config>") -> PipelineConfig:
        sections = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(sections))
        if unknown:
            raise ConfigError(f"{source}: unknown section(s) {unknown}; "
                              f"known: {sorted(sections)}")
        kwargs = {}
        for name, value in data.items():
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{name}] must be a table")
            kwargs[name] = _section(sections[name].default_factory(), value, f"{source} [{name}]")
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path) -> PipelineConfig:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML ({exc})") from None
        config = cls.from_dict(data, str(path))
        # a model file named in a TOML is relative to that TOML's folder
        for name, default in (("segmentation", SegmentationConfig.model),
                              ("embedding", EmbeddingConfig.model)):
            section = getattr(config, name)
            if section.model != default and not Path(section.model).is_absolute():
                moved = dataclasses.replace(section, model=str(path.parent / section.model))
                config = config.replace(**{name: moved})
        refiner = config.refiner.name
        if refiner.endswith((".safetensors", ".json")) and not Path(refiner).is_absolute():
            config = config.replace(refiner=dataclasses.replace(
                config.refiner, name=str(path.parent / refiner)))
        return config

    def replace(self, **sections: Any) -> PipelineConfig:
        return dataclasses.replace(self, **sections)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        clustering = out.pop("clustering")
        out["clustering"] = {"method": clustering["method"], **clustering["params"]}
        return out


def _section(default: Any, values: dict[str, Any], where: str) -> Any:
    if isinstance(default, ClusteringConfig):
        values = dict(values)
        method = str(values.pop("method", default.method))
        # the defaults' parameters only apply to the default method
        params = {**default.params, **values} if method == default.method else values
        return ClusteringConfig(method, params)
    known = {f.name: f for f in fields(default)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    checked = {}
    for key, value in values.items():
        expected = type(getattr(default, key))
        if getattr(default, key) is None:  # an optional number (None: not set)
            expected = float
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: {key} must be {expected.__name__}, got {value!r}")
        checked[key] = value
    return dataclasses.replace(default, **checked)
