"""The ONNX Runtime backend of the segmentation: same outputs as torch, a safe cache.

onnxruntime and onnx come with the ``pipeline`` extra: skipped with a reason without
them, failed under CI=true. The cache folder is the session's temporary one
(tests/conftest.py) unless a test sets its own.
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
from diarefine.models import onnx_backend as xb
from diarefine.stages.segmentation import resolve_backend
from needs import require, require_pipeline


@pytest.fixture(autouse=True)
def needs_onnxruntime() -> None:
    require(xb.available(), "onnxruntime or onnx is not installed "
                            "(pip install 'diarefine[pipeline]')")


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache folder and an empty in-process memo."""
    monkeypatch.setenv("DIAREFINE_CACHE_DIR", str(tmp_path / "cache"))
    saved = dict(xb._SESSIONS)
    xb._SESSIONS.clear()
    yield tmp_path / "cache"
    xb._SESSIONS.clear()
    xb._SESSIONS.update(saved)


def small(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv1d(4, 3, 1)).eval()


def graphs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.onnx"))


def compiled(seed: int = 0) -> xb.OnnxModule:
    return xb.OnnxModule("small", small(seed), torch.randn(1, 2, 16), dynamic=(0, 2))


# --- choosing the backend ----------------------------------------------------------------

def test_auto_picks_onnxruntime_for_the_segmentation_on_the_cpu_only() -> None:
    assert resolve_backend("auto", "cpu") == "onnxruntime"
    assert resolve_backend("auto", "cuda") == "torch"
    assert resolve_backend("onnxruntime", "cpu") == "onnxruntime"
    assert resolve_backend("torch", "cuda:0") == "torch"
    assert resolve_backend("openvino", "cpu") == "openvino"
    with pytest.raises(DiarefineError, match="CPU only"):
        resolve_backend("onnxruntime", "cuda")
    assert resolve_backend("onnxruntime-int8", "cpu") == "onnxruntime-int8"
    with pytest.raises(DiarefineError, match="CPU only"):
        resolve_backend("onnxruntime-int8", "cuda")
    with pytest.raises(ValueError, match="auto, torch, onnxruntime, onnxruntime-int8, "
                                         "openvino, not 'onnx'"):
        resolve_backend("onnx", "cpu")


def test_without_onnxruntime_auto_falls_back_to_torch_and_asking_fails_clearly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xb, "available", lambda: False)
    assert resolve_backend("auto", "cpu") == "torch"
    with pytest.raises(DiarefineError, match="needs the onnxruntime and onnx packages"):
        compiled()


def test_the_default_segmentation_backend_is_auto_and_a_bad_one_fails_at_build() -> None:
    require_pipeline()
    from diarefine.config import PipelineConfig
    from diarefine.stages.pipeline import DiarizationPipeline

    assert PipelineConfig().segmentation.backend == "auto"
    # refused when the configuration is loaded, before any model (naming section and key)
    with pytest.raises(ValueError, match=r"\[segmentation\] backend must be one of .*"
                                         r"got 'onnx'"):
        DiarizationPipeline.from_pretrained(
            PipelineConfig.from_dict({"segmentation": {"backend": "onnx"}}))


# --- the cache -----------------------------------------------------------------------------

def test_a_module_runs_as_in_torch_and_is_kept_in_the_cache(own_cache: Path) -> None:
    module = small(0)
    runner = compiled(0)
    with torch.inference_mode():
        for shape in ((1, 2, 37), (3, 2, 5)):  # the batch and the length are free
            x = torch.randn(*shape)
            torch.testing.assert_close(runner(x), module(x), atol=1e-5, rtol=1e-5)
    assert [p.stem.split("-")[0] for p in graphs(own_cache)] == ["small"]
    assert not list(own_cache.glob("*.part"))  # no temporary file left behind


def test_every_session_is_made_with_float32_arithmetic_stated(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each session is created with the options that fix its arithmetic (no bfloat16
    fast-math, denormals kept), whatever the CPU; recorded at creation."""
    import onnxruntime

    seen: list[dict[str, str]] = []
    real = onnxruntime.InferenceSession

    def recording(model, options=None, **kwargs):  # type: ignore[no-untyped-def]
        seen.append({k: options.get_session_config_entry(k) for k in xb.PRECISION_ENTRIES})
        return real(model, options, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", recording)
    compiled(3)
    assert seen and all(entry == {"mlas.enable_gemm_fastmath_arm64_bfloat16": "0",
                                  "session.set_denormal_as_zero": "0"} for entry in seen)


def test_a_cached_graph_is_used_without_exporting_again(own_cache: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    compiled(0)
    xb._SESSIONS.clear()  # a new process

    def refuse(*args: object) -> None:
        raise AssertionError("exported although the cache holds the graph")

    monkeypatch.setattr(xb, "_export", refuse)
    x = torch.randn(2, 2, 21)
    with torch.inference_mode():
        torch.testing.assert_close(compiled(0)(x), small(0)(x), atol=1e-5, rtol=1e-5)


def test_a_cached_graph_that_disagrees_with_torch_is_exported_again(own_cache: Path) -> None:
    compiled(0)
    (stale,) = graphs(own_cache)
    key = xb.graph_key("small", small(1), [1, 2, -1], runtime="onnxruntime")
    # the graph of the first weights under the key of the second: a stale or tampered cache
    (own_cache / f"{key}.onnx").write_bytes(stale.read_bytes())
    xb._SESSIONS.clear()
    x = torch.randn(1, 2, 30)
    with pytest.warns(DiarefineWarning, match="disagrees with torch"):
        runner = xb.OnnxModule("small", small(1), torch.randn(1, 2, 16), dynamic=(2,))
    with torch.inference_mode():
        torch.testing.assert_close(runner(x), small(1)(x), atol=1e-5, rtol=1e-5)
    assert (own_cache / f"{key}.onnx").read_bytes() != stale.read_bytes()


def test_an_unreadable_cached_graph_is_replaced(own_cache: Path) -> None:
    key = xb.graph_key("small", small(0), [-1, 2, -1], runtime="onnxruntime")
    own_cache.mkdir(parents=True)
    (own_cache / f"{key}.onnx").write_bytes(b"not a graph")
    x = torch.randn(1, 2, 9)
    with torch.inference_mode():
        torch.testing.assert_close(compiled(0)(x), small(0)(x), atol=1e-5, rtol=1e-5)
    assert (own_cache / f"{key}.onnx").read_bytes() != b"not a graph"


def test_an_empty_cache_setting_writes_nothing(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIAREFINE_CACHE_DIR", "")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(xb, "_SESSIONS", {})
    xb.OnnxModule("small", small(3), torch.randn(1, 2, 16))
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_cache_warns_and_still_runs(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("DIAREFINE_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(xb, "_SESSIONS", {})
    with pytest.warns(DiarefineWarning, match="cannot keep the ONNX graph"):
        runner = xb.OnnxModule("small", small(4), torch.randn(1, 2, 16))
    assert runner(torch.randn(5, 2, 16)).shape == (5, 3, 16)


def log_softmax_head(seed: int) -> torch.nn.Module:
    """A small module whose output, like the segmentation's, is log-probabilities."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(),
                               torch.nn.Linear(32, 7), torch.nn.LogSoftmax(dim=-1)).eval()


def test_a_quantised_graph_is_close_to_torch_kept_apart_and_reused(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    module, example = log_softmax_head(0), torch.randn(4, 10, 16)
    handlers = list(logging.getLogger().handlers)
    exact = xb.OnnxModule("head", module, example, dynamic=(0, 1))
    quantised = xb.OnnxModule("head", module, example, dynamic=(0, 1), quantize=("MatMul",))
    assert logging.getLogger().handlers == handlers  # the quantiser's advice stays silent
    # each kept under its own key
    assert sorted(p.stem.rsplit("-", 1)[0] for p in graphs(own_cache)) == [
        "head", "head-int8-matmul"]
    x = torch.randn(3, 25, 16)
    with torch.inference_mode():
        expected = module(x).exp()
    exact_p, quantised_p = exact(x).exp(), quantised(x).exp()
    torch.testing.assert_close(exact_p, expected, atol=1e-5, rtol=0)
    gap = float((quantised_p - expected).abs().max())
    assert 1e-5 < gap <= xb.INT8_TOLERANCE  # quantised (not the float graph), still close

    # a second process (an empty memo) reads the quantised graph back instead of exporting
    xb._SESSIONS.clear()
    monkeypatch.setattr(xb, "_export", lambda *a, **k: pytest.fail("exported again"))
    again = xb.OnnxModule("head", module, example, dynamic=(0, 1), quantize=("MatMul",))
    assert torch.equal(again(x), quantised(x))


def test_a_quantised_graph_far_from_torch_is_refused(own_cache: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    module, example = log_softmax_head(0), torch.randn(4, 10, 16)
    other = log_softmax_head(1)  # another model's weights stand in for a broken quantiser
    monkeypatch.setattr(xb, "_quantize", lambda model, ops: xb._export(other, example, (0, 1)))
    with pytest.raises(DiarefineError, match="disagrees with torch"):
        xb.OnnxModule("head", module, example, dynamic=(0, 1), quantize=("MatMul",))
    assert graphs(own_cache) == []  # nothing kept


# --- the segmentation model on real audio ------------------------------------------------

@pytest.fixture(scope="module")
def sample(shared_data: Path) -> np.ndarray:
    x, sr = sf.read(shared_data / "pyannote-sample" / "sample.wav", dtype="float32")
    assert sr == 16000
    return x


def test_segmentation_chunks_equal_torch_on_real_speech(sample: np.ndarray) -> None:
    require_pipeline()
    from diarefine.models import load_segmentation

    model, info = load_segmentation()
    runner = xb.OnnxSegmentation(model.eval(), info.num_samples)
    recording = torch.from_numpy(np.concatenate([sample, sample]))
    first = {}
    with torch.inference_mode():
        # the kept buffer of sinc features: made, reused, grown, reused after growing
        for count in (9, 1, 16, 9):
            expected = model.chunks_of(recording, 40000, count, info.num_samples)
            got = runner.chunks_of(recording, 40000, count, info.num_samples)
            assert got.shape == expected.shape == (count, info.num_frames, 7)
            torch.testing.assert_close(got.exp(), expected.exp(), atol=1e-4, rtol=0)
            assert torch.equal(first.setdefault(count, got), got)
    assert runner._sinc.shape[0] == 16


def test_int8_segmentation_stays_close_to_torch_on_real_speech(sample: np.ndarray) -> None:
    require_pipeline()
    from diarefine.models import load_segmentation

    model, info = load_segmentation()
    runner = xb.OnnxSegmentation(model.eval(), info.num_samples, int8=True)
    recording = torch.from_numpy(sample)
    with torch.inference_mode():
        expected = model.chunks_of(recording, 40000, 9, info.num_samples).exp()
        got = runner.chunks_of(recording, 40000, 9, info.num_samples).exp()
    gap = float((got - expected).abs().max())
    # measured on this file: 0.057 at most; the float graph: below 1e-4
    assert 1e-3 < gap < xb.INT8_TOLERANCE
    assert float((got.argmax(-1) == expected.argmax(-1)).float().mean()) > 0.99


def test_the_pipeline_gives_the_same_turns_with_either_segmentation_backend(
        sample: np.ndarray) -> None:
    require_pipeline()
    from diarefine.config import PipelineConfig
    from diarefine.metrics import diarization_error
    from diarefine.stages.pipeline import DiarizationPipeline

    runs = {}
    for backend in ("torch", "onnxruntime"):
        config = PipelineConfig.from_dict({"segmentation": {"backend": backend}})
        pipeline = DiarizationPipeline.from_pretrained(config)
        assert type(pipeline.segmenter.runner()).__name__ == (
            "OnnxSegmentation" if backend == "onnxruntime" else "PyanNetSegmentation")
        with warnings.catch_warnings():
            warnings.simplefilter("error", DiarefineWarning)
            runs[backend] = pipeline(sample, uri="sample").diarization
    assert runs["onnxruntime"].speakers == runs["torch"].speakers
    # float rounding may move a frame that sits exactly on a threshold, nothing more
    assert diarization_error(runs["torch"], runs["onnxruntime"]).components.der < 0.005


def test_auto_falls_back_to_torch_with_a_warning_when_the_export_fails(
        sample: np.ndarray, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require_pipeline()
    from diarefine.config import PipelineConfig
    from diarefine.stages.pipeline import DiarizationPipeline

    def broken(*args: object) -> None:
        raise RuntimeError("exporter gone")

    monkeypatch.setenv("DIAREFINE_CACHE_DIR", str(tmp_path / "cache"))  # nothing cached
    monkeypatch.setattr(xb, "_SESSIONS", {})
    monkeypatch.setattr(xb, "_export", broken)
    auto = DiarizationPipeline.from_pretrained()
    with pytest.warns(DiarefineWarning, match="cannot run on onnxruntime here.*exporter gone"):
        got = auto.segmenter.log_probs(sample[:160000])
    assert type(auto.segmenter.runner()).__name__ == "PyanNetSegmentation"
    reference = DiarizationPipeline.from_pretrained(
        PipelineConfig.from_dict({"segmentation": {"backend": "torch"}}))
    np.testing.assert_array_equal(got, reference.segmenter.log_probs(sample[:160000]))
    # asked for by name, the failure is the user's to see
    named = DiarizationPipeline.from_pretrained(
        PipelineConfig.from_dict({"segmentation": {"backend": "onnxruntime"}}))
    with pytest.raises(DiarefineError, match="exporter gone"):
        named.segmenter.log_probs(sample[:160000])


def test_auto_goes_on_with_torch_when_onnxruntime_fails_while_running(
        sample: np.ndarray) -> None:
    """A failure after the graph was built (in an inference call) is handled like one
    while building: "auto" warns and keeps going with torch, a named backend raises."""
    require_pipeline()
    from diarefine.config import PipelineConfig
    from diarefine.stages.pipeline import DiarizationPipeline

    def broken(x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("session died")

    piece = sample[:200000]  # 2 chunks
    torch_only = DiarizationPipeline.from_pretrained(
        PipelineConfig.from_dict({"segmentation": {"backend": "torch"}}))
    expected = torch_only.segmenter.log_probs(piece)
    auto = DiarizationPipeline.from_pretrained()
    assert type(auto.segmenter.runner()).__name__ == "OnnxSegmentation"
    auto.segmenter.runner().rest = broken
    with pytest.warns(DiarefineWarning, match="segmentation failed on OnnxSegmentation "
                                              r"\(session died\); using torch"):
        got = auto.segmenter.log_probs(piece)
    np.testing.assert_array_equal(got, expected)
    assert type(auto.segmenter.runner()).__name__ == "PyanNetSegmentation"  # from now on
    named = DiarizationPipeline.from_pretrained(
        PipelineConfig.from_dict({"segmentation": {"backend": "onnxruntime"}}))
    named.segmenter.runner().rest = broken
    with pytest.raises(RuntimeError, match="session died"):
        named.segmenter.log_probs(piece)
