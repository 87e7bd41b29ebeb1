"""The layer-dropped CAM++ student: pruning, safetensors round trip, bad files."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from diarefine.config import PipelineConfig
from diarefine.models.campplus import (
    CAMPPlus,
    _tdnn_columns,
    pruned,
    refit_student,
    stage_input,
)
from diarefine.models.pretrained import (
    PretrainedModelError,
    load_campplus_file,
    load_embedding_model,
    save_campplus,
)
from needs import require_pipeline


@pytest.fixture(scope="module")
def teacher() -> CAMPPlus:
    torch.manual_seed(0)
    model = CAMPPlus()
    # non-trivial batch-norm statistics, so copying them matters
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def test_pruning_nothing_gives_the_teacher(teacher: CAMPPlus) -> None:
    same = pruned(teacher, (12, 24, 16), 2)
    x = torch.randn(2, 230, 80)
    with torch.inference_mode():
        assert torch.equal(same.trunk(x), teacher.trunk(x))
        assert torch.equal(same(x), teacher(x))


def test_pruned_student_keeps_the_first_layers_and_the_output_width(teacher: CAMPPlus) -> None:
    student = pruned(teacher, (2, 3, 2), 1)
    assert student.blocks == ((2, 3, 1), (3, 3, 2), (2, 3, 2))
    assert len(student.head.layer1) == 1 and len(student.head.layer2) == 1
    s, t = student.xvector, teacher.xvector
    # transitions: the teacher's output widths, inputs cut to the remaining channels
    assert s.transit1.linear.weight.shape == (256, 128 + 2 * 32, 1)
    assert torch.equal(s.transit1.linear.weight, t.transit1.linear.weight[:, :192])
    assert torch.equal(s.transit2.nonlinear.batchnorm.running_mean,
                       t.transit2.nonlinear.batchnorm.running_mean[: 256 + 3 * 32])
    assert torch.equal(s.block3.tdnnd2.linear1.weight, t.block3.tdnnd2.linear1.weight)
    assert torch.equal(student.head.layer2[0].conv1.weight, teacher.head.layer2[0].conv1.weight)
    assert torch.equal(s.dense.linear.weight, t.dense.linear.weight)
    # fbank frames seen on each side: head 1 + 2 x 2 + 1, TDNN 2, then at stride 2 the
    # dense layers' kernel-3 convs at dilations 1, 2, 2: 2 x (2 x 1 + 3 x 2 + 2 x 2)
    assert student.receptive_halfwidth() == 6 + 2 + 2 * (2 + 6 + 4) == 32
    assert teacher.receptive_halfwidth() == 10 + 2 + 2 * (12 + 48 + 32) == 196
    with torch.inference_mode():
        assert student.trunk(torch.randn(1, 151, 80)).shape == (1, 512, 76)


def test_save_and_load_round_trip(teacher: CAMPPlus, tmp_path: Path) -> None:
    student = pruned(teacher, (2, 3, 2), 1)
    path = tmp_path / "small.safetensors"
    save_campplus(student, path, {"note": "test"})
    loaded, info = load_campplus_file(path)
    assert loaded.blocks == student.blocks and loaded.head_blocks == 1
    assert info.dimension == 192 and info.path == path
    # trunk frame k sees fbank frames 2k - 32 .. 2k + 32
    assert info.trunk_grid.start == pytest.approx(-0.32)
    x = torch.randn(2, 300, 80)
    with torch.inference_mode():
        a, b = loaded(x), student(x)
    # float16 storage: relative error of the embeddings well under 1 %
    assert float((a - b).norm() / b.norm()) < 1e-2
    assert not list(tmp_path.glob(".*part"))  # written atomically, nothing left behind
    same, _ = load_embedding_model(str(path))
    assert same.blocks == student.blocks


def test_bad_small_model_files_are_refused(teacher: CAMPPlus, tmp_path: Path) -> None:
    with pytest.raises(PretrainedModelError, match="no such CAM"):
        load_campplus_file(tmp_path / "absent.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(PretrainedModelError, match="not a safetensors file"):
        load_campplus_file(junk)
    bare = tmp_path / "bare.safetensors"
    save_file({"x": torch.zeros(2)}, str(bare))
    with pytest.raises(PretrainedModelError, match="no CAM\\+\\+ architecture"):
        load_campplus_file(bare)
    wrong = tmp_path / "wrong.safetensors"
    save_campplus(pruned(teacher, (2, 3, 2), 1), wrong, {})
    state = dict(load_campplus_file(wrong)[0].state_dict())
    state.pop("xvector.transit1.linear.weight")
    meta = {"architecture": "campplus", "layers": "2,3,2", "kernels": "3,3,3",
            "dilations": "1,2,2", "head_blocks": "1", "transitions": "256,512,512",
            "embedding_size": "192"}
    save_file({k: v.contiguous() for k, v in state.items()}, str(wrong), metadata=meta)
    with pytest.raises(PretrainedModelError, match="1 missing"):
        load_campplus_file(wrong)
    with pytest.raises(PretrainedModelError, match="unknown embedding model 'x-vector'"):
        load_embedding_model("x-vector")


def test_config_names_the_embedding_model(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[embedding]\nmodel = "student.safetensors"\n')
    # a relative model path is relative to the TOML's folder (see tests/test_config.py)
    assert PipelineConfig.from_toml(toml).embedding.model == str(tmp_path / "student.safetensors")
    assert PipelineConfig().embedding.model == "campplus"



def test_pipeline_loads_the_configured_student(teacher: CAMPPlus, tmp_path: Path) -> None:
    require_pipeline()
    from diarefine.stages.pipeline import DiarizationPipeline

    path = tmp_path / "student.safetensors"
    save_campplus(pruned(teacher, (2, 3, 2), 1), path, {})
    config = PipelineConfig.from_dict({"embedding": {"model": str(path)}})
    pipeline = DiarizationPipeline.from_pretrained(config)
    assert pipeline.embedder.model.blocks == ((2, 3, 1), (3, 3, 2), (2, 3, 2))
    assert pipeline.embedder.info.path == path
    default = DiarizationPipeline.from_pretrained()
    assert default.embedder.model.blocks == ((12, 3, 1), (24, 3, 2), (16, 3, 2))


def test_refit_of_an_unpruned_student_recovers_the_teacher(teacher: CAMPPlus) -> None:
    torch.manual_seed(1)
    student = pruned(teacher, (12, 24, 16), 2)
    with torch.no_grad():
        for i in (1, 2, 3):
            student.xvector.get_submodule(f"transit{i}").linear.weight.normal_()
    crops = [torch.randn(300, 80) for _ in range(4)]
    refit_student(student, teacher, crops, ridge=1e-9)
    x = torch.randn(1, 250, 80)
    with torch.inference_mode():
        torch.testing.assert_close(student.trunk(x), teacher.trunk(x), atol=1e-3, rtol=1e-3)


def test_refit_is_the_least_squares_transition_of_a_pruned_student(teacher: CAMPPlus) -> None:
    torch.manual_seed(2)
    crops = [torch.randn(300, 80) for _ in range(4)]

    def transit1_error(student: CAMPPlus) -> float:
        with torch.inference_mode():
            return sum(float(((student.xvector.transit1(stage_input(student, x[None], "transit1"))
                               - teacher.xvector.transit1(stage_input(teacher, x[None],
                                                                      "transit1"))) ** 2).sum())
                       for x in crops)

    _assert_least_squares(teacher, pruned(teacher, (4, 6, 5), 1), crops,
                          lambda s: s.xvector.transit1.linear, transit1_error)


def test_tdnn_columns_reproduce_the_tdnn_convolution(teacher: CAMPPlus) -> None:
    x = torch.randn(1, 157, 80)  # odd length: the stride-2 padding matters
    conv = teacher.xvector.tdnn.linear
    with torch.inference_mode():
        direct = conv(teacher.head(x.transpose(1, 2)))[0]
        columns = conv.weight.flatten(1) @ _tdnn_columns(teacher, x)
    torch.testing.assert_close(columns, direct, atol=1e-4, rtol=1e-4)


def test_refit_of_a_student_with_fewer_head_blocks_fits_its_tdnn(teacher: CAMPPlus) -> None:
    torch.manual_seed(3)
    crops = [torch.randn(200, 80) for _ in range(6)]

    def tdnn_error(student: CAMPPlus) -> float:
        with torch.inference_mode():
            return sum(float((student.xvector.tdnn.linear(student.head(x[None].transpose(1, 2)))
                              - teacher.xvector.tdnn.linear(teacher.head(x[None].transpose(1, 2))))
                             .pow(2).sum()) for x in crops)

    _assert_least_squares(teacher, pruned(teacher, (12, 24, 16), 1), crops,
                          lambda s: s.xvector.tdnn.linear, tdnn_error)


def _assert_least_squares(teacher: CAMPPlus, plain: CAMPPlus, crops: list[torch.Tensor],
                          layer: Callable[[CAMPPlus], torch.nn.Conv1d],
                          error: Callable[[CAMPPlus], float]) -> None:
    """The refit of a copy of ``plain`` more than halves ``error`` on the fitting crops, and
    any other weights of ``layer`` do worse (the normal equations' optimum)."""
    refitted = copy.deepcopy(plain)
    refit_student(refitted, teacher, crops, ridge=1e-9)
    best = error(refitted)
    assert best < 0.5 * error(plain)
    with torch.no_grad():
        weight = layer(refitted).weight
        weight.add_(1e-2 * torch.randn_like(weight))
    assert error(refitted) > best
