"""Choose the pipeline defaults by measurement on the AMI excerpts train + dev splits.

    python experiments/tune_pipeline.py --data DIR [--sets ami-train,ami-dev] [--config FILE]

``--config`` sets the models (e.g. ``[embedding] model`` = a distilled CAM++); the searched
parameters start from the defaults whatever the file says.

The test split and the pyannote sample are never used here. Segmentation outputs (per
chunk step) and CAM++ trunk features (per file) are computed once and cached in memory,
then every combination of decoding, clustering and post-processing is scored (DER at
collar 0, overlap scored, with the UEMs, pooled over the files). Prints the best
configurations of each stage and the overall best.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import benchmarks_path  # noqa: F401  (puts benchmarks/ on sys.path)
import numpy as np
import torch
from paths import add_data_argument
from pipeline import load_set

from diarefine.config import PipelineConfig
from diarefine.core import Annotation
from diarefine.features.fbank import compute_fbank
from diarefine.io.audio import load_audio
from diarefine.metrics import ScoreSettings, score_corpus
from diarefine.stages.base import ChunkEmbeddings, ChunkScores, SpeakerConstraints
from diarefine.stages.clustering import build_clusterer
from diarefine.stages.clustering.assign import assign_chunks
from diarefine.stages.embedding import speaker_masks
from diarefine.stages.pipeline import DiarizationPipeline
from diarefine.stages.postprocess import PostProcessor
from diarefine.stages.reconstruction import reconstruct
from diarefine.stages.segmentation import count_probabilities, decode


@dataclass
class Cached:
    uri: str
    duration: float
    windows: list
    log_probs: dict


def prepare(pipeline: DiarizationPipeline, items: list, steps: list[float]) -> list[Cached]:
    out = []
    for item in items:
        waveform = load_audio(item.audio)
        fbank = compute_fbank(waveform)
        with torch.inference_mode():
            windows = list(pipeline.embedder.trunk_windows(fbank))
            log_probs = {}
            for step in steps:
                pipeline.segmenter.step = step
                log_probs[step] = pipeline.segmenter.log_probs(waveform)
        out.append(Cached(item.uri, len(waveform) / 16000, windows, log_probs))
    return out


def diarize(pipeline: DiarizationPipeline, cached: Cached, p: dict, embed_cache: dict
            ) -> Annotation:
    """One file with the parameters ``p`` (see SPACE), reusing cached model outputs."""
    seg = pipeline.segmenter
    decoding, threshold = p["decoding"]
    key = (cached.uri, p["step"], decoding, threshold, p["min_speech"])
    if key not in embed_cache:
        log_probs = cached.log_probs[p["step"]]
        data = decode(log_probs, seg._mapping, decoding)
        scores = ChunkScores(data, p["step"], 10.0, seg.info.frame_grid, threshold,
                             count_probabilities(log_probs, seg._mapping, decoding))
        masks, present, reliable = speaker_masks(scores, p["min_speech"], True)
        with torch.inference_mode():
            emb = pipeline.embedder.pool_windows(cached.windows, scores, masks)
        embed_cache[key] = (scores, ChunkEmbeddings(emb, present, reliable))
    scores, embeddings = embed_cache[key]
    method, params = p["clustering"]
    labels = build_clusterer(method, **params)(embeddings.data[embeddings.reliable],
                                               SpeakerConstraints())
    if len(labels) == 0 and embeddings.present.any():
        embeddings = ChunkEmbeddings(embeddings.data, embeddings.present, embeddings.present)
        labels = np.zeros(int(embeddings.present.sum()), dtype=np.int64)
    assignment, centroids = assign_chunks(embeddings, labels)
    count, speech, overlap = p["count"]
    frame_scores = reconstruct(scores, assignment, len(centroids), cached.duration,
                               weighting=p["weighting"], count=count,
                               speech_threshold=speech, overlap_threshold=overlap)
    post = PostProcessor(p["median"], 0.0, p["min_off"], p["extra_threshold"])
    return post(frame_scores, cached.uri, [f"S{k}" for k in range(len(centroids))])[0]


def der(refs: dict, uems: dict, hyps: dict) -> float:
    return score_corpus(refs, hyps, uems, ScoreSettings()).overall.der.der


SPACE = {
    "step": [2.5, 2.0, 3.0],
    "decoding": [("soft", 0.4), ("hard", 0.5), ("soft", 0.3)],
    "min_speech": [0.5, 1.0, 2.0],
    "weighting": ["uniform", "hamming"],
    "count": [("powerset", 0.6, 0.4), ("active", 0.5, 0.5)]
             + [("powerset", a, b) for a in (0.4, 0.5, 0.6, 0.7) for b in (0.3, 0.4, 0.5)],
    "clustering": [("ahc", {"threshold": t, "min_cluster_size": 12,
                            "min_cluster_fraction": f})
                   for f in (0.1, 0.2, 0.3) for t in (0.75, 0.6, 0.65, 0.7, 0.8, 0.9, 1.0)]
                  + [("spectral", {"max_speakers": 8, "min_cluster_size": m}) for m in (1, 4)],
    "extra_threshold": [1.0, 0.7, 0.6, 0.5, 0.4],
    "min_off": [0.1, 0.0, 0.25],
    "median": [1, 5, 11],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="ami-train,ami-dev",
                        help="set names of benchmarks/pipeline.py or manifest .jsonl paths")
    add_data_argument(parser)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--config", type=Path, help="TOML whose models are used")
    args = parser.parse_args()
    if any(s in ("ami-test", "sample") for s in args.sets.split(",")):
        raise SystemExit("never tune on the test files")
    torch.set_num_threads(args.threads)
    items = [i for s in args.sets.split(",") for i in load_set(s, args.data)]
    refs = {i.uri: i.reference for i in items}
    uems = {i.uri: i.uem for i in items}
    config = PipelineConfig.from_toml(args.config) if args.config else None
    pipeline = DiarizationPipeline.from_pretrained(config)
    cached = prepare(pipeline, items, SPACE["step"])
    embed_cache: dict = {}
    seen: dict = {}

    def evaluate(p: dict) -> float:
        key = repr(sorted(p.items()))
        if key not in seen:
            hyps = {c.uri: diarize(pipeline, c, p, embed_cache) for c in cached}
            seen[key] = der(refs, uems, hyps)
        return seen[key]

    best = {name: values[0] for name, values in SPACE.items()}
    print(f"{len(items)} files ({args.sets}); DER % at collar 0, overlap scored, UEMs")
    print(f"start: {100 * evaluate(best):.2f}  {best}")
    for round_ in range(args.rounds):
        for name, values in SPACE.items():
            results = [(evaluate({**best, name: v}), i) for i, v in enumerate(values)]
            score, i = min(results)
            line = "  ".join(f"{_short(v)}={100 * r:.2f}" for (r, _), v in zip(results, values))
            print(f"round {round_ + 1} {name:16s} {line}")
            best = {**best, name: values[i]}
    print(f"best: {100 * evaluate(best):.2f}  {best}")


def _short(value: object) -> str:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
        p = value[1]
        size = p.get("min_cluster_fraction", p.get("min_cluster_size", ""))
        return f"{value[0]}{p.get('threshold', '')}/{size}"
    return str(value)


if __name__ == "__main__":
    main()
