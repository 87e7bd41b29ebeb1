"""The OpenVINO backend: same outputs as torch, a cache that is safe to trust.

OpenVINO comes with the ``pipeline`` extra: skipped with a reason without it, failed
under CI=true. The cache folder is the session's temporary one (tests/conftest.py) unless
a test sets its own.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from diarefine.errors import DiarefineError, DiarefineWarning
from diarefine.features.fbank import compute_fbank
from diarefine.models import openvino_backend as ob
from needs import require, require_pipeline


@pytest.fixture(autouse=True)
def needs_openvino() -> None:
    require(ob.available(), "openvino is not installed (pip install 'diarefine[pipeline]')")


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache folder and an empty in-process memo."""
    monkeypatch.setenv("DIAREFINE_CACHE_DIR", str(tmp_path / "cache"))
    saved = dict(ob._COMPILED)
    ob._COMPILED.clear()
    yield tmp_path / "cache"
    ob._COMPILED.clear()
    ob._COMPILED.update(saved)


def small(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv1d(4, 3, 1)).eval()


def graphs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.xml"))


# --- choosing the backend ----------------------------------------------------------------

def test_resolve_picks_openvino_on_the_cpu_only_when_asked_or_automatic() -> None:
    assert ob.resolve("auto", "cpu") == "openvino"
    assert ob.resolve("auto", "cuda") == "torch"
    assert ob.resolve("torch", "cpu") == "torch"
    assert ob.resolve("openvino", "cpu") == "openvino"
    with pytest.raises(DiarefineError, match="CPU only"):
        ob.resolve("openvino", "cuda")
    with pytest.raises(ValueError, match="'auto', 'torch' or 'openvino'"):
        ob.resolve("onnx", "cpu")


def test_a_bad_backend_fails_when_the_pipeline_is_built() -> None:
    require_pipeline()
    from diarefine.config import PipelineConfig
    from diarefine.stages.pipeline import DiarizationPipeline

    # refused when the configuration is loaded, before any model (naming section and key)
    with pytest.raises(ValueError, match=r"\[embedding\] backend must be one of .*got 'onnx'"):
        DiarizationPipeline.from_pretrained(
            PipelineConfig.from_dict({"embedding": {"backend": "onnx"}}))


def test_backend_is_a_config_key_of_both_model_stages() -> None:
    from diarefine.config import PipelineConfig

    config = PipelineConfig.from_dict({"segmentation": {"backend": "torch"},
                                       "embedding": {"backend": "openvino"}})
    assert (config.segmentation.backend, config.embedding.backend) == ("torch", "openvino")
    # measured: OpenVINO pays for the CAM++ trunk, not for the segmentation (memory);
    # the segmentation's "auto" is ONNX Runtime (tests/models/test_onnx_backend.py)
    assert PipelineConfig().embedding.backend == "auto"
    assert PipelineConfig().segmentation.backend == "auto"


# --- the cache -----------------------------------------------------------------------------

def test_a_module_runs_as_in_torch_and_is_kept_in_the_cache(own_cache: Path) -> None:
    module, x = small(0), torch.randn(1, 2, 37)
    compiled = ob.CompiledModule("small", module, torch.randn(1, 2, 16), [1, 2, -1])
    with torch.inference_mode():
        torch.testing.assert_close(compiled(x), module(x), atol=1e-5, rtol=1e-5)
    assert [p.stem.split("-")[0] for p in graphs(own_cache)] == ["small"]
    assert (own_cache / graphs(own_cache)[0].with_suffix(".bin").name).is_file()
    assert (own_cache / "compiled").is_dir()  # OpenVINO's compiled-graph cache


def test_a_cached_graph_is_used_without_converting_again(own_cache: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    module, x = small(0), torch.randn(1, 2, 21)
    ob.CompiledModule("small", module, torch.randn(1, 2, 16), [1, 2, -1])
    ob._COMPILED.clear()  # a new process

    def refuse(*args: object) -> None:
        raise AssertionError("converted although the cache holds the graph")

    monkeypatch.setattr(ob, "_convert", refuse)
    compiled = ob.CompiledModule("small", module, torch.randn(1, 2, 16), [1, 2, -1])
    with torch.inference_mode():
        torch.testing.assert_close(compiled(x), module(x), atol=1e-5, rtol=1e-5)


def test_every_graph_is_compiled_in_float32_whatever_the_cpus_default(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each Core here defaults to bfloat16 where the CPU accepts it (as AVX-512 bf16 and
    AMX CPUs do by themselves), and every compile call is recorded: each must ask for
    f32, so this fails on any CPU if the hint is lost, and the compiled graph reports f32."""
    import openvino

    configs: list[dict] = []

    class BfloatByDefault(openvino.Core):
        def __init__(self) -> None:
            super().__init__()
            try:
                self.set_property("CPU", {"INFERENCE_PRECISION_HINT": "bf16"})
            except RuntimeError:
                pass  # a CPU without bf16: the recorded options still tell

        def compile_model(self, model, device_name=None, config=None):  # type: ignore[override]
            configs.append(dict(config or {}))
            return super().compile_model(model, device_name, config or {})

    monkeypatch.setattr(openvino, "Core", BfloatByDefault)
    module, x = small(2), torch.randn(1, 2, 33)
    compiled = ob.CompiledModule("small", module, torch.randn(1, 2, 16), [1, 2, -1])
    assert configs and all(c.get("INFERENCE_PRECISION_HINT") == "f32" for c in configs)
    assert compiled.precision == "f32"
    ob._COMPILED.clear()  # a new process, from the cached graph: the same
    configs.clear()
    assert ob.CompiledModule("small", module, torch.randn(1, 2, 16), [1, 2, -1]).precision \
        == "f32"
    assert configs and all(c.get("INFERENCE_PRECISION_HINT") == "f32" for c in configs)
    with torch.inference_mode():
        torch.testing.assert_close(compiled(x), module(x), atol=1e-5, rtol=1e-5)


def test_other_weights_get_another_key() -> None:
    keys = {ob.graph_key("small", small(seed), [1, 2, -1]) for seed in (0, 1)}
    assert len(keys) == 2
    assert ob.graph_key("small", small(0), [1, 2, -1]) != ob.graph_key("small", small(0),
                                                                        [1, 2, 8])
    assert ob.graph_key("small", small(0), [1, 2, -1]) == ob.graph_key("small", small(0),
                                                                        [1, 2, -1])


def test_a_cached_graph_that_disagrees_with_torch_is_converted_again(own_cache: Path) -> None:
    first, second = small(0), small(1)
    ob.CompiledModule("small", first, torch.randn(1, 2, 16), [1, 2, -1])
    (stale,) = graphs(own_cache)
    key = ob.graph_key("small", second, [1, 2, -1])
    # the first module's graph under the second module's key: a stale or tampered cache
    (own_cache / f"{key}.xml").write_bytes(stale.read_bytes())
    (own_cache / f"{key}.bin").write_bytes(stale.with_suffix(".bin").read_bytes())
    ob._COMPILED.clear()
    with pytest.warns(DiarefineWarning, match="disagrees with torch"):
        compiled = ob.CompiledModule("small", second, torch.randn(1, 2, 16), [1, 2, -1])
    x = torch.randn(1, 2, 30)
    with torch.inference_mode():
        torch.testing.assert_close(compiled(x), second(x), atol=1e-5, rtol=1e-5)


def test_an_unreadable_cached_graph_is_replaced(own_cache: Path) -> None:
    module = small(0)
    key = ob.graph_key("small", module, [1, 2, -1])
    own_cache.mkdir(parents=True)
    (own_cache / f"{key}.xml").write_text("not a graph")
    compiled = ob.CompiledModule("small", module, torch.randn(1, 2, 16), [1, 2, -1])
    x = torch.randn(1, 2, 9)
    with torch.inference_mode():
        torch.testing.assert_close(compiled(x), module(x), atol=1e-5, rtol=1e-5)
    assert (own_cache / f"{key}.xml").read_text().startswith("<?xml")


def test_an_empty_cache_setting_writes_nothing(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIAREFINE_CACHE_DIR", "")
    monkeypatch.chdir(tmp_path)
    assert ob.cache_dir() is None
    ob.CompiledModule("small", small(3), torch.randn(1, 2, 16), [1, 2, -1])
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_cache_warns_and_still_runs(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("DIAREFINE_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(DiarefineWarning, match="cannot keep the OpenVINO graph"):
        compiled = ob.CompiledModule("small", small(4), torch.randn(1, 2, 16), [1, 2, -1])
    assert compiled(torch.randn(1, 2, 5)).shape == (1, 3, 5)


def test_default_cache_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.delenv("DIAREFINE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert ob.cache_dir() == tmp_path / "diarefine"


def test_no_openvino_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ob, "available", lambda: False)
    with pytest.raises(DiarefineError, match="needs the openvino package"):
        ob.CompiledModule("small", small(0), torch.randn(1, 2, 16), [1, 2, -1])
    assert ob.resolve("auto", "cpu") == "torch"


# --- the two models on real audio --------------------------------------------------------

@pytest.fixture(scope="module")
def sample(shared_data: Path) -> np.ndarray:
    x, sr = sf.read(shared_data / "pyannote-sample" / "sample.wav", dtype="float32")
    assert sr == 16000
    return x


def test_campplus_trunk_equals_torch_on_real_speech_at_every_length(sample: np.ndarray
                                                                     ) -> None:
    require_pipeline()
    from diarefine.models import load_campplus

    model, info = load_campplus()
    fbank = torch.from_numpy(compute_fbank(sample, info.fbank))[None]
    trunk = ob.OpenVINOTrunk(model.eval(), model.trunk)
    with torch.inference_mode():
        for length in (3000, 1234, 201, 150, 7):  # 150 and 7: shorter than 2 segments
            x = fbank[:, :length]
            expected = model.trunk(x)
            got = trunk(x)
            assert got.shape == expected.shape
            torch.testing.assert_close(got, expected, atol=5e-4, rtol=1e-4)


def test_trunk_compiled_up_to_a_length_gives_the_free_graphs_outputs(sample: np.ndarray
                                                                     ) -> None:
    require_pipeline()
    from diarefine.models import load_campplus

    model, info = load_campplus()
    model.eval()
    fbank = torch.from_numpy(compute_fbank(sample, info.fbank))[None]
    free = ob.OpenVINOTrunk(model, model.trunk)
    bounded = ob.OpenVINOTrunk(model, model.trunk, longest=1000)
    with torch.inference_mode():
        for length in (1000, 999, 401, 600, 150):  # within the bound (150: the fallback)
            x = fbank[:, :length]
            assert torch.equal(bounded(x), free(x))
        assert bounded._free is None
        x = fbank[:, :1001]  # beyond it: a graph of free length, built now
        assert torch.equal(bounded(x), free(x))
        assert bounded._free is not None
    with pytest.raises(ValueError, match="at least 400"):
        ob.OpenVINOTrunk(model, model.trunk, longest=399)


def test_segmentation_chunks_equal_torch_on_real_speech(sample: np.ndarray) -> None:
    require_pipeline()
    from diarefine.models import load_segmentation

    model, info = load_segmentation()
    runner = ob.OpenVINOSegmentation(model.eval(), info.num_samples)
    recording = torch.from_numpy(sample)
    with torch.inference_mode():
        for count in (9, 1):
            expected = model.chunks_of(recording, 40000, count, info.num_samples)
            got = runner.chunks_of(recording, 40000, count, info.num_samples)
            assert got.shape == expected.shape == (count, info.num_frames, 7)
            torch.testing.assert_close(got.exp(), expected.exp(), atol=1e-4, rtol=0)


def test_the_pipeline_gives_the_same_turns_with_either_backend(sample: np.ndarray) -> None:
    require_pipeline()
    from diarefine.config import PipelineConfig
    from diarefine.metrics import diarization_error
    from diarefine.stages.pipeline import DiarizationPipeline

    runs = {}
    for backend in ("torch", "openvino"):
        config = PipelineConfig.from_dict({"segmentation": {"backend": backend},
                                           "embedding": {"backend": backend}})
        pipeline = DiarizationPipeline.from_pretrained(config)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DiarefineWarning)
            runs[backend] = pipeline(sample, uri="sample").diarization
    assert runs["openvino"].speakers == runs["torch"].speakers
    # float rounding may move a frame that sits exactly on a threshold, nothing more
    assert diarization_error(runs["torch"], runs["openvino"]).components.der < 0.005


def test_auto_falls_back_to_torch_with_a_warning_when_the_conversion_fails(
        sample: np.ndarray, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require_pipeline()
    from diarefine.config import PipelineConfig
    from diarefine.stages.pipeline import DiarizationPipeline

    def broken(*args: object) -> None:
        raise RuntimeError("converter gone")

    monkeypatch.setenv("DIAREFINE_CACHE_DIR", str(tmp_path / "cache"))  # nothing cached
    monkeypatch.setattr(ob, "_COMPILED", {})
    monkeypatch.setattr(ob, "_convert", broken)
    fbank = torch.from_numpy(compute_fbank(sample[:48000]))[None]
    auto = DiarizationPipeline.from_pretrained()
    with pytest.warns(DiarefineWarning, match="cannot run on OpenVINO here.*converter gone"):
        got = auto.embedder.trunk(fbank)
    torch_only = DiarizationPipeline.from_pretrained(
        PipelineConfig.from_dict({"embedding": {"backend": "torch"}}))
    with torch.inference_mode():
        torch.testing.assert_close(got, torch_only.embedder.trunk(fbank))
    named = DiarizationPipeline.from_pretrained(
        PipelineConfig.from_dict({"embedding": {"backend": "openvino"}}))
    with pytest.raises(DiarefineError, match="converter gone"):
        named.embedder.trunk(fbank)


def test_auto_goes_on_with_torch_when_openvino_fails_while_running(
        sample: np.ndarray) -> None:
    """A failure in an inference call (after the graph was built): "auto" warns and keeps
    going with torch, a named backend raises."""
    require_pipeline()
    from diarefine.config import PipelineConfig
    from diarefine.stages.pipeline import DiarizationPipeline

    def broken(x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("request died")

    fbank = torch.from_numpy(compute_fbank(sample[:48000]))[None]
    torch_only = DiarizationPipeline.from_pretrained(
        PipelineConfig.from_dict({"embedding": {"backend": "torch"}}))
    auto = DiarizationPipeline.from_pretrained()
    with torch.inference_mode():
        expected = torch_only.embedder.trunk(fbank)
        auto.embedder.trunk(fbank)  # built on OpenVINO
        assert type(auto.embedder._trunk).__name__ == "OpenVINOTrunk"
        auto.embedder._trunk.compiled = broken
        with pytest.warns(DiarefineWarning, match=r"CAM\+\+ trunk failed on OpenVINO "
                                                  r"\(request died\); using torch"):
            got = auto.embedder.trunk(fbank)
        torch.testing.assert_close(got, expected)
        assert type(auto.embedder._trunk).__name__ != "OpenVINOTrunk"  # from now on
        named = DiarizationPipeline.from_pretrained(
            PipelineConfig.from_dict({"embedding": {"backend": "openvino"}}))
        named.embedder.trunk(fbank)
        named.embedder._trunk.compiled = broken
        with pytest.raises(RuntimeError, match="request died"):
            named.embedder.trunk(fbank)
