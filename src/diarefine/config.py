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
import math
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
    #: (smaller) PyanNet written by ``experiments/distill_segmentation.py`` (safetensors),
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
    #: by ``experiments/distill_campplus.py`` (safetensors), relative to the TOML file's
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
    #: Hysteresis ("powerset" count only): once speech (overlap) has started, it lasts
    #: until P(>= 1) (P(>= k)) falls below this lower threshold instead of the one above.
    #: None: no hysteresis (the threshold above decides both ways).
    speech_off_threshold: float | None = None
    overlap_off_threshold: float | None = None


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
    #: "none", "shift", "mlp", "transformer", "diffusion", "contrastive",
    #: "transformer-activity", or the path of a refiner checkpoint (.safetensors) or shift
    #: table (.json). The default is the variant chosen on the selection sets
    #: (docs/refinement.md)
    name: str = "transformer-activity"
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

    def __post_init__(self) -> None:
        """Sections built in Python are checked as a file's are."""
        for f in fields(self):
            if f.name != "clustering":
                check_section(f.name, getattr(self, f.name), f"[{f.name}]")

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
            kwargs[name] = _section(sections[name].default_factory(), value,
                                    f"{source} [{name}]", name)
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path) -> PipelineConfig:
        from diarefine.errors import FormatError
        from diarefine.io.text import read_text

        path = Path(path)
        try:
            data = tomllib.loads(read_text(path))
        except FormatError as exc:
            raise ConfigError(str(exc)) from None
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
        if refiner.endswith((".safetensors", ".json")):
            if not Path(refiner).is_absolute():
                refiner = str(path.parent / refiner)
                config = config.replace(refiner=dataclasses.replace(config.refiner,
                                                                    name=refiner))
            if not Path(refiner).is_file():
                raise ConfigError(f"{path} [refiner] name: no such file {refiner}")
        return config

    def replace(self, **sections: Any) -> PipelineConfig:
        return dataclasses.replace(self, **sections)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        clustering = out.pop("clustering")
        out["clustering"] = {"method": clustering["method"], **clustering["params"]}
        return out


#: What each key may hold, beyond its type: ``(low, high)`` bounds (None: open) with
#: ``low`` excluded when the key is marked ``">"``, or a tuple of allowed strings.
REFINERS = ("none", "shift", "mlp", "transformer", "diffusion", "contrastive",
            "transformer-activity")
SEGMENTATION_BACKENDS = ("auto", "torch", "onnxruntime", "onnxruntime-int8", "openvino")
RULES: dict[str, dict[str, Any]] = {
    "segmentation": {"step": (">", 0.0, 10.0), "batch_size": (">=", 1, None),
                     "decoding": ("soft", "hard"), "threshold": (">=", 0.0, 1.0),
                     "backend": SEGMENTATION_BACKENDS},
    "embedding": {"mode": ("trunk", "chunk"), "min_speech": (">=", 0.0, 10.0),
                  "batch_size": (">=", 1, None), "backend": ("auto", "torch", "openvino")},
    "reconstruction": {"weighting": ("uniform", "hamming"), "count": ("powerset", "active"),
                       "speech_threshold": (">=", 0.0, 1.0),
                       "overlap_threshold": (">=", 0.0, 1.0),
                       "speech_off_threshold": (">=", 0.0, 1.0),
                       "overlap_off_threshold": (">=", 0.0, 1.0)},
    "reassignment": {"weight": (">=", 0.0, 1.0), "window": (">", 0.0, 10.0),
                     "hop": (">", 0.0, 10.0), "min_speech": (">=", 0.0, 10.0),
                     "temperature": (">", 0.0, None), "confident": (">=", 0.0, 1.0)},
    "postprocess": {"median_filter": (">=", 1, 1001), "min_duration_on": (">=", 0.0, None),
                    "min_duration_off": (">=", 0.0, None),
                    "extra_threshold": (">=", 0.0, 1.0)},
    "refiner": {"abstain": (">=", None, None)},
}


def check_value(section: str, key: str, value: Any) -> str | None:
    """Why ``value`` cannot be ``[section] key``, or None."""
    rule = RULES.get(section, {}).get(key)
    if rule is None or value is None:
        return None
    if isinstance(rule[0], str) and rule[0] in (">", ">="):
        kind, low, high = rule
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if low is not None and (value <= low if kind == ">" else value < low):
            bound = f"> {low}" if kind == ">" else f">= {low}"
            return f"must be {bound}" + (f" and <= {high}" if high is not None else "") + \
                f", got {value!r}"
        if high is not None and value > high:
            return f"must be <= {high}, got {value!r}"
        return None
    return None if value in rule else f"must be one of {list(rule)}, got {value!r}"


def check_section(section: str, config: Any, where: str) -> None:
    """ConfigError naming ``where`` (file and section) and the key, for the first value of
    ``config`` its rules refuse."""
    for f in fields(config):
        reason = check_value(section, f.name, getattr(config, f.name))
        if reason:
            raise ConfigError(f"{where} {f.name} {reason}")
    if section == "refiner" and config.name not in REFINERS and \
            not config.name.endswith((".json", ".safetensors")):
        raise ConfigError(f"{where} name must be one of {list(REFINERS)} or the path of a "
                          f".json shift table or .safetensors checkpoint, got {config.name!r}")
    if section == "reconstruction":
        for kind in ("speech", "overlap"):
            on, off = getattr(config, f"{kind}_threshold"), getattr(config, f"{kind}_off_threshold")
            if off is not None and off > on:
                raise ConfigError(f"{where} {kind}_off_threshold must be <= {kind}_threshold "
                                  f"({on}), got {off}")
    if section == "reassignment" and config.hop > config.window:
        raise ConfigError(f"{where} hop must be <= window ({config.window}), got {config.hop}")


def _typed(key: str, value: Any, default: Any, where: str) -> Any:
    expected = float if default is None else type(default)  # None: an optional number
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is tuple and isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(f"{where} {key} must be {expected.__name__}, got {value!r}")
    return value


def _clustering(default: ClusteringConfig, values: dict[str, Any], where: str
                ) -> ClusteringConfig:
    """The method must be registered and its parameters those it declares, typed as its
    defaults."""
    from diarefine.stages.clustering import available, declared_parameters

    values = dict(values)
    method = values.pop("method", default.method)
    if not isinstance(method, str) or method not in available():
        raise ConfigError(f"{where} method must be one of {list(available())}, got {method!r}")
    declared = declared_parameters(method)
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} for method {method!r}; its "
                          f"parameters: {sorted(declared)}")
    checked = {k: v if declared[k] is None and isinstance(v, (str, int, float))
               and not isinstance(v, bool) else _typed(k, v, declared[k], where)
               for k, v in values.items()}  # a None default: a path or a number
    # the defaults' parameters only apply to the default method
    params = {**default.params, **checked} if method == default.method else checked
    return ClusteringConfig(method, params)


def _section(default: Any, values: dict[str, Any], where: str, name: str = "") -> Any:
    if isinstance(default, ClusteringConfig):
        return _clustering(default, values, where)
    known = {f.name: f for f in fields(default)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    checked = {key: _typed(key, value, getattr(default, key), where)
               for key, value in values.items()}
    for key, value in checked.items():
        reason = check_value(name, key, value)
        if reason:
            raise ConfigError(f"{where} {key} {reason}")
    try:
        section = dataclasses.replace(default, **checked)
    except ConfigError as exc:  # a section's own checks (they name the section)
        raise ConfigError(f"{where.rsplit(' [', 1)[0]}: {exc}") from None
    check_section(name, section, where)
    return section
