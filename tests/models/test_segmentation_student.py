"""A smaller PyanNet (segmentation student): safetensors round trip, bad files, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from diarefine.config import PipelineConfig
from diarefine.models.pretrained import (
    PretrainedModelError,
    load_segmentation,
    load_segmentation_file,
    load_segmentation_model,
    save_segmentation,
)
from diarefine.models.segmentation import PyanNetSegmentation
from needs import require_pipeline


@pytest.fixture(scope="module")
def student() -> PyanNetSegmentation:
    torch.manual_seed(0)
    return PyanNetSegmentation(lstm_hidden=32, lstm_layers=1).eval()


def test_save_and_load_round_trip(student: PyanNetSegmentation, tmp_path: Path) -> None:
    require_pipeline()
    path = tmp_path / "seg.safetensors"
    save_segmentation(student, path, {"note": "test"})
    loaded, info = load_segmentation_file(path)
    assert (loaded.lstm.num_layers, loaded.lstm.hidden_size) == (1, 32)
    assert loaded.lstm.bidirectional and len(loaded.linear) == 2
    # the frame grid and chunking come from the teacher's checkpoint: same as the teacher's
    _, teacher_info = load_segmentation()
    assert info.path == path
    assert (info.frame_grid, info.num_frames, info.chunk_duration, info.powerset_classes) == (
        teacher_info.frame_grid, teacher_info.num_frames, teacher_info.chunk_duration,
        teacher_info.powerset_classes)
    x = torch.randn(2, 1, 32000)
    with torch.inference_mode():
        a, b = loaded(x).exp(), student(x).exp()
    # float16 storage: class probabilities within 1e-2 of the float32 model's
    assert float((a - b).abs().max()) < 1e-2
    assert not list(tmp_path.glob(".*part"))  # written atomically, nothing left behind
    same, _ = load_segmentation_model(str(path))
    assert same.lstm.hidden_size == 32


def test_bad_segmentation_files_are_refused(student: PyanNetSegmentation,
                                            tmp_path: Path) -> None:
    with pytest.raises(PretrainedModelError, match="no such segmentation model"):
        load_segmentation_file(tmp_path / "absent.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(PretrainedModelError, match="not a safetensors file"):
        load_segmentation_file(junk)
    bare = tmp_path / "bare.safetensors"
    save_file({"x": torch.zeros(2)}, str(bare))
    with pytest.raises(PretrainedModelError, match="no PyanNet architecture"):
        load_segmentation_file(bare)
    broken = tmp_path / "broken.safetensors"
    save_file({"x": torch.zeros(2)}, str(broken),
              metadata={"architecture": "pyannet", "model": "{not json"})
    with pytest.raises(PretrainedModelError, match="bad PyanNet metadata"):
        load_segmentation_file(broken)
    require_pipeline()
    wrong = tmp_path / "wrong.safetensors"
    save_segmentation(student, wrong, {})
    state = {k: v.contiguous() for k, v in load_segmentation_file(wrong)[0].state_dict().items()}
    state.pop("classifier.bias")
    from safetensors import safe_open

    with safe_open(str(wrong), framework="pt") as handle:
        meta = handle.metadata()
    save_file(state, str(wrong), metadata=meta)
    with pytest.raises(PretrainedModelError, match="1 missing"):
        load_segmentation_file(wrong)
    # metadata that states another LSTM size than the tensors have
    meta = dict(meta)
    cfg = json.loads(meta["model"])
    cfg["lstm"]["hidden_size"] = 64
    meta["model"] = json.dumps(cfg)
    save_file({k: v.contiguous() for k, v in student.state_dict().items()}, str(wrong),
              metadata=meta)
    with pytest.raises(PretrainedModelError, match="mis-shaped"):
        load_segmentation_file(wrong)
    with pytest.raises(PretrainedModelError, match="unknown segmentation model 'vad'"):
        load_segmentation_model("vad")


def test_config_names_the_segmentation_model(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[segmentation]\nmodel = "seg.safetensors"\n')
    # relative to the TOML's folder, like the embedding model
    assert PipelineConfig.from_toml(toml).segmentation.model == str(tmp_path / "seg.safetensors")
    assert PipelineConfig().segmentation.model == "segmentation-3.0"


def test_pipeline_loads_the_configured_segmentation_model(student: PyanNetSegmentation,
                                                          tmp_path: Path) -> None:
    require_pipeline()
    from diarefine.stages.pipeline import DiarizationPipeline

    path = tmp_path / "seg.safetensors"
    save_segmentation(student, path, {})
    config = PipelineConfig.from_dict({"segmentation": {"model": str(path)}})
    pipeline = DiarizationPipeline.from_pretrained(config)
    assert pipeline.segmenter.model.lstm.num_layers == 1
    assert pipeline.segmenter.info.path == path
    torch.manual_seed(1)
    waveform = (0.1 * torch.randn(16000 * 12)).numpy()
    log_probs = pipeline.segmenter.log_probs(waveform)
    with torch.inference_mode():
        direct = pipeline.segmenter.model(torch.from_numpy(waveform[:160000]).view(1, 1, -1))
    # the pipeline's first chunk is the configured model's output on the first 10 s
    torch.testing.assert_close(torch.as_tensor(log_probs[0]), direct[0], atol=1e-4, rtol=1e-4)
    default = DiarizationPipeline.from_pretrained()
    assert default.segmenter.model.lstm.num_layers == 4


def test_shallower_keeps_the_first_layers_and_pruning_nothing_is_the_teacher() -> None:
    from diarefine.models.segmentation import shallower

    torch.manual_seed(2)
    teacher = PyanNetSegmentation(lstm_hidden=16).eval()
    x = torch.randn(1, 1, 20000)
    same = shallower(teacher, 4)
    with torch.inference_mode():
        assert torch.equal(same(x), teacher(x))
    small = shallower(teacher, 2)
    assert small.lstm.num_layers == 2 and not small.training
    assert torch.equal(small.lstm.weight_hh_l1_reverse, teacher.lstm.weight_hh_l1_reverse)
    assert torch.equal(small.classifier.weight, teacher.classifier.weight)
    assert torch.equal(small.sincnet.conv1d[1].weight, teacher.sincnet.conv1d[1].weight)
    # two layers of a four-layer stack: its output is the teacher's second layer's output
    two = torch.nn.LSTM(60, 16, num_layers=2, batch_first=True, bidirectional=True)
    two.load_state_dict({k: v for k, v in teacher.lstm.state_dict().items()
                         if "_l0" in k or "_l1" in k})
    with torch.inference_mode():
        features = teacher.sincnet(x).transpose(1, 2)
        torch.testing.assert_close(small.lstm(features)[0], two(features)[0])
    for bad in (0, 5):
        with pytest.raises(ValueError, match="lstm_layers must be in 1..4"):
            shallower(teacher, bad)
