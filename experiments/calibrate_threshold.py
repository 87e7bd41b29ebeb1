"""Carry the clustering cut over to another CAM++ (e.g. a distilled student), on training data.

    python experiments/calibrate_threshold.py --config student.toml --data DIR [--sim DIR]
                                               [--limit 20]

A distilled CAM++ maps speakers closer together than its teacher (a student that cannot
resolve a direction predicts its average), so a distance cut chosen for the teacher
merges more speakers with the student. This script finds the student's equivalent of
the teacher's cut without looking at any evaluation file: the same segmentation (the
teacher pipeline's) gives the same (chunk, local speaker) masks to both models on
*training* recordings (simulated conversations of training-split LibriSpeech speakers in
``benchmarks/data/simtrain``, made by ``train_plda.py``, and the AMI excerpts' training
split); within each recording, the distances ``sqrt(2 - 2 cos)`` between every two
reliable embeddings are computed with both models, and the student's cut is the
distance at the same quantile as the teacher's cut (quantile matching). Also printed:
how the distances of same- and different-speaker pairs move (pairs labelled by the
reference, as ``train_plda.py`` labels them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import benchmarks_path  # noqa: F401  (puts benchmarks/ on sys.path)
import numpy as np
import torch
from paths import GENERATED, add_data_argument, data_folder
from scipy.spatial.distance import pdist
from train_plda import label_chunks, recordings

from diarefine.config import PipelineConfig
from diarefine.io.audio import load_audio
from diarefine.stages.clustering.ahc import AgglomerativeClustering
from diarefine.stages.clustering.common import l2_normalize
from diarefine.stages.clustering.vbx import VBxClustering
from diarefine.stages.pipeline import DiarizationPipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True,
                        help="TOML naming the other CAM++ ([embedding] model)")
    parser.add_argument("--sim", type=Path, default=GENERATED / "simtrain")
    add_data_argument(parser)
    parser.add_argument("--limit", type=int, default=20,
                        help="simulated recordings used (all AMI training excerpts are)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    teacher = DiarizationPipeline.from_pretrained()
    student = DiarizationPipeline.from_pretrained(PipelineConfig.from_toml(args.config))
    items = recordings(args.sim, data_folder(args.data, "ami-excerpts"))
    simulated = [it for it in items if not it[0].startswith("trn")][: args.limit]
    items = simulated + [it for it in items if it[0].startswith("trn")]
    d_t, d_s, same = [], [], []
    for _uri, audio, ref in items:
        waveform = load_audio(audio)
        scores = teacher.segmenter(waveform)
        emb_t = teacher.embedder(waveform, scores)
        emb_s = student.embedder(waveform, scores)
        keep = emb_t.reliable
        if keep.sum() < 2:
            continue
        labels = label_chunks(scores, emb_t.present, ref, 0.9)[keep]
        d_t.append(pdist(l2_normalize(emb_t.data[keep])))
        d_s.append(pdist(l2_normalize(emb_s.data[keep])))
        i, j = np.triu_indices(len(labels), 1)
        known = (labels[i] >= 0) & (labels[j] >= 0)
        same.append(np.where(known, (labels[i] == labels[j]).astype(np.int8), -1))
    t, s, same = np.concatenate(d_t), np.concatenate(d_s), np.concatenate(same)
    print(f"{len(items)} training recordings, {len(t)} within-recording pairs "
          f"({int((same == 1).sum())} same speaker, {int((same == 0).sum())} different)")
    for name, sel in (("same speaker", same == 1), ("different speakers", same == 0)):
        print(f"  {name:18s} median distance: teacher {np.median(t[sel]):.3f}, "
              f"other {np.median(s[sel]):.3f}")
    for name, cut in (("AHC cut", AgglomerativeClustering().threshold),
                      ("VBx's initial AHC cut", VBxClustering().threshold)):
        quantile = float((t <= cut).mean())
        print(f"{name} {cut:.3f} (teacher; {100 * quantile:.1f} % of pairs below) -> "
              f"{float(np.quantile(s, quantile)):.3f} for the other model")


if __name__ == "__main__":
    main()
