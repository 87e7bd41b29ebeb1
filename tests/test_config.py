"""Pipeline configuration: defaults, TOML overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from diarefine.config import ConfigError, PipelineConfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_measured_ones() -> None:
    config = PipelineConfig()
    assert (config.segmentation.step, config.segmentation.decoding) == (2.5, "soft")
    assert config.clustering.method == "vbx" and config.clustering.params == {}
    assert (config.reconstruction.count, config.reconstruction.speech_threshold,
            config.reconstruction.overlap_threshold) == ("powerset", 0.6, 0.4)
    assert config.to_dict()["clustering"] == {"method": "vbx"}


def test_toml_overrides_only_what_it_names(tmp_path: Path) -> None:
    config = PipelineConfig.from_toml(write(tmp_path, """
[segmentation]
step = 3          # an int where a float is expected is fine
[clustering]
fa = 0.1
[reconstruction]
count = "active"
"""))
    assert config.segmentation.step == 3.0 and config.segmentation.decoding == "soft"
    assert config.clustering.method == "vbx" and config.clustering.params == {"fa": 0.1}
    assert config.reconstruction.count == "active"
    assert config.reconstruction.speech_threshold == 0.6


def test_another_clustering_method_takes_only_its_own_parameters(tmp_path: Path) -> None:
    config = PipelineConfig.from_toml(write(tmp_path, '[clustering]\nmethod = "ahc"\n'
                                                      'threshold = 0.8\n'))
    assert config.clustering.method == "ahc"
    assert config.clustering.params == {"threshold": 0.8}


@pytest.mark.parametrize(("text", "message"), [
    ("[segmentaton]\nstep = 1.0\n", "unknown section(s) ['segmentaton']"),
    ("[postprocess]\nmin_duraton_on = 1.0\n", "unknown key(s) ['min_duraton_on']"),
    ("[segmentation]\nstep = \"fast\"\n", "step must be float, got 'fast'"),
    ("[embedding]\nfuse = 1\n", "fuse must be bool, got 1"),
    ("segmentation = 1\n", "[segmentation] must be a table"),
    ("[segmentation\n", "invalid TOML"),
])
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path: Path, text: str,
                                                       message: str) -> None:
    with pytest.raises(ConfigError) as info:
        PipelineConfig.from_toml(write(tmp_path, text))
    assert message in str(info.value) and "c.toml" in str(info.value)


def test_model_file_is_relative_to_the_toml_folder(tmp_path: Path) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "rel.toml").write_text('[embedding]\nmodel = "models/student.safetensors"\n')
    absolute = tmp_path / "elsewhere" / "s.safetensors"
    (folder / "abs.toml").write_text(f'[embedding]\nmodel = "{absolute.as_posix()}"\n')
    (folder / "default.toml").write_text('[embedding]\nmodel = "campplus"\n')
    assert PipelineConfig.from_toml(folder / "rel.toml").embedding.model == \
        str(folder / "models" / "student.safetensors")
    assert PipelineConfig.from_toml(folder / "abs.toml").embedding.model == str(absolute)
    assert PipelineConfig.from_toml(folder / "default.toml").embedding.model == "campplus"
    # from a dict (no file) the path is left as given
    assert PipelineConfig.from_dict({"embedding": {"model": "m.safetensors"}}) \
        .embedding.model == "m.safetensors"
