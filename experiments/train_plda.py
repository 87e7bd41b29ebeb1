"""Fit the PLDA that VBx clustering uses, on the pipeline's own CAM++ embeddings.

    python experiments/train_plda.py --data DIR [--sim DIR] [--dim 64] [--config FILE]
                                     [--cache FILE] [--out src/diarefine/weights/...]

Training data, never a test file:

* simulated conversations of *training-split* LibriSpeech speakers (made by this script
  with ``diarefine simulate`` into ``benchmarks/data/simtrain`` unless ``--sim`` points at
  an existing set: 60 conversations of 2-3 min, 2-5 speakers, 15 % overlap, RT60
  0.15-0.5 s, pink noise at 15-35 dB SNR, seed 7);
* the AMI excerpts' training split (speaker ids are AMI participant ids).

Each recording goes through the pipeline's segmentation and trunk-pooled embeddings
(defaults); every reliable (chunk, local speaker) embedding is labelled with the
reference speaker that covers most of its active frames (one-to-one per chunk), and kept
only when that speaker covers at least ``--purity`` of them. Prints the data counts and
the fitted PLDA's between-speaker variances; writes the model as safetensors.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import benchmarks_path  # noqa: F401  (puts benchmarks/ on sys.path)
import numpy as np
import torch
from paths import GENERATED, REPO, add_data_argument, data_folder
from scipy.optimize import linear_sum_assignment

from diarefine.config import PipelineConfig
from diarefine.core import Annotation
from diarefine.io import read_rttm
from diarefine.io.audio import load_audio
from diarefine.stages.base import ChunkScores
from diarefine.stages.clustering.plda import PLDA
from diarefine.stages.pipeline import DiarizationPipeline

SIM_ARGS = ["--num", "60", "--duration", "120-180", "--speakers", "2-5", "--overlap", "0.15",
            "--split", "train", "--seed", "7", "--rt60", "0.15-0.5", "--snr", "15-35"]


def label_chunks(scores: ChunkScores, present: np.ndarray, reference: Annotation,
                 purity: float) -> np.ndarray:
    """Reference speaker index of each (chunk, local speaker), -1 when unsure. (C, K)"""
    speakers = sorted(reference.speakers)
    frames = scores.frames
    active = scores.active
    out = np.full(present.shape, -1, dtype=np.int64)
    for c in range(scores.num_chunks):
        local = np.flatnonzero(present[c])
        if len(local) == 0 or not speakers:
            continue
        t = c * scores.chunk_step + frames.centers(active.shape[1])
        ref = np.zeros((len(speakers), len(t)))
        for turn in reference.turns:
            ref[speakers.index(turn.speaker)] += (t >= turn.start) & (t < turn.end)
        overlap = active[c][:, local].T.astype(float) @ (ref > 0).T  # (local, speakers)
        rows, cols = linear_sum_assignment(overlap, maximize=True)
        for r, s in zip(rows, cols):
            total = active[c][:, local[r]].sum()
            if total and overlap[r, s] / total >= purity:
                out[c, local[r]] = s
    return out


def recordings(sim: Path, data: Path) -> list[tuple[str, Path, Annotation]]:
    """The simulated set ``sim`` and the AMI training excerpts of the data folder ``data``."""
    out = []
    refs = {u: a for f in sorted((sim / "rttm").glob("*.rttm")) for u, a in read_rttm(f).items()}
    for uri, ref in sorted(refs.items()):
        audio = next((sim / "audio").glob(f"{uri}.*"))
        out.append((uri, audio, ref))
    ami = data / "ami-excerpts"
    for uri, ref in sorted(read_rttm(ami / "debug.train.rttm").items()):
        out.append((uri, ami / f"{uri}.wav", ref))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", type=Path, default=GENERATED / "simtrain")
    add_data_argument(parser)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--purity", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--config", type=Path,
                        help="TOML whose models are used (e.g. another CAM++: its own PLDA)")
    parser.add_argument("--cache", type=Path, default=REPO / "benchmarks" / "out"
                        / "plda_embeddings.npz", help="embeddings are kept here for reruns")
    weights = REPO / "src" / "diarefine" / "weights"
    parser.add_argument("--out", type=Path, default=weights / "plda_campplus.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not (args.sim / "manifest.jsonl").exists():
        source = data_folder(args.data, "librispeech-261") / "librispeech-261"
        subprocess.run([sys.executable, "-m", "diarefine", "simulate", str(source), "-o",
                        str(args.sim), *SIM_ARGS], check=True)
    if args.cache.exists():
        data = np.load(args.cache, allow_pickle=False)
        x, names = data["x"], data["speakers"]
    else:
        config = PipelineConfig.from_toml(args.config) if args.config else PipelineConfig()
        pipeline = DiarizationPipeline.from_pretrained(config)
        xs, names_list = [], []
        items = recordings(args.sim, data_folder(args.data, "ami-excerpts"))
        for i, (uri, audio, ref) in enumerate(items):
            waveform = load_audio(audio)
            scores = pipeline.segmenter(waveform)
            emb = pipeline.embedder(waveform, scores)
            labels = label_chunks(scores, emb.present, ref, args.purity)
            keep = emb.reliable & (labels >= 0)
            speakers = sorted(ref.speakers)
            xs.append(emb.data[keep])
            names_list += [speakers[s] for s in labels[keep]]
            print(f"{i + 1}/{len(items)} {uri}: {int(keep.sum())} embeddings", flush=True)
        x, names = np.concatenate(xs), np.array(names_list)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.cache, x=x, speakers=names)
    unique, counts = np.unique(names, return_counts=True)
    print(f"{len(x)} embeddings of {len(unique)} speakers "
          f"(per speaker: min {counts.min()}, median {int(np.median(counts))}, max {counts.max()})")
    model = PLDA.fit(x, names, args.dim)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    psi = ", ".join(f"{v:.2f}" for v in model.psi[:8])
    print(f"PLDA dim {model.dim}: between-speaker variances {psi}, ... -> {args.out}")


if __name__ == "__main__":
    main()
