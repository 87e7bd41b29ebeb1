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


# --- the validation layer: every key typed and range-checked when the file is loaded ------

@pytest.mark.parametrize(("text", "message"), [
    ("[segmentation]\nstep = -1.0\n", "[segmentation] step must be > 0.0 and <= 10.0, got -1.0"),
    ("[segmentation]\nstep = 0.0\n", "[segmentation] step must be > 0.0"),
    ("[segmentation]\nstep = 1e9\n", "[segmentation] step must be <= 10.0, got 1000000000.0"),
    ("[segmentation]\nbatch_size = 0\n", "[segmentation] batch_size must be >= 1, got 0"),
    ("[segmentation]\nthreshold = 2.0\n", "[segmentation] threshold must be <= 1.0, got 2.0"),
    ("[segmentation]\nbackend = \"gpu\"\n", "[segmentation] backend must be one of"),
    ("[reconstruction]\nspeech_threshold = 2.0\n", "[reconstruction] speech_threshold must"),
    ("[reconstruction]\nspeech_off_threshold = 0.7\n",
     "[reconstruction] speech_off_threshold must be <= speech_threshold (0.6), got 0.7"),
    ("[reconstruction]\noverlap_off_threshold = -0.1\n",
     "[reconstruction] overlap_off_threshold must be >= 0.0"),
    ("[clustering]\nthreshold = \"x\"\n", "[clustering] threshold must be float, got 'x'"),
    ("[clustering]\nbogus_param = 1\n", "unknown key(s) ['bogus_param'] for method 'vbx'"),
    ("[clustering]\nmethod = \"spectral\"\nthreshold = 0.7\n",
     "unknown key(s) ['threshold'] for method 'spectral'; its parameters: ['max_speakers'"),
    ("[clustering]\nmethod = \"kmeans\"\n", "[clustering] method must be one of"),
    ("[reassignment]\nhop = 2.0\n", "[reassignment] hop must be <= window (1.0), got 2.0"),
    ("[reassignment]\nweight = 1.5\n", "[reassignment] weight must be <= 1.0, got 1.5"),
    ("[postprocess]\nmedian_filter = 0\n", "[postprocess] median_filter must be >= 1"),
    ("[postprocess]\nmin_duration_off = -0.1\n", "[postprocess] min_duration_off must be >= 0.0"),
    ("[refiner]\nabstain = \"high\"\n", "[refiner] abstain must be float, got 'high'"),
    ("[refiner]\nabstain = nan\n", "[refiner] abstain must be a finite number"),
    ("[refiner]\nname = \"wobble\"\n", "[refiner] name must be one of ['none', 'shift'"),
    ("[refiner]\nname = \"mine.safetensors\"\n", "[refiner] name: no such file"),
])
def test_out_of_range_values_are_refused_naming_file_section_and_key(
        tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        PipelineConfig.from_toml(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
    assert message in str(info.value)


def test_sections_built_in_python_are_checked_too() -> None:
    from diarefine.config import SegmentationConfig

    with pytest.raises(ConfigError, match=r"\[segmentation\] step must be > 0.0"):
        PipelineConfig(segmentation=SegmentationConfig(step=0.0))


def test_a_byte_order_mark_is_accepted_and_bad_bytes_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[segmentation]\nstep = 2.0\n")
    assert PipelineConfig.from_toml(path).segmentation.step == 2.0
    path.write_bytes(b"[segmentation]\n# caf\xe9\nstep = 2.0\n")
    with pytest.raises(ConfigError, match=r"bom.toml:2: not UTF-8 text \(byte 0xe9 at column 6\)"):
        PipelineConfig.from_toml(path)
