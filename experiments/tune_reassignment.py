"""Choose the reassignment stage's parameters on the selection sets (never the test files).

    python experiments/tune_reassignment.py --data DIR [--sets ami-train,ami-dev,simdev]
                                            [--windows 0.72,1.0,1.5] [--config FILE]

For each window width the pipeline runs once per file with that width (the windows are
pooled from the trunk pass, so their width and ``hop`` / ``min_speech`` need a run); its
hook keeps the reconstruction, the windows and the clustering. Then every combination of
weight, temperature, ``confident`` and post-processing median filter is applied to the
kept outputs and scored: DER at collar 0, overlap scored, with the UEMs, pooled over each
set. Printed: every combination's DER per set and the mean over the sets, best first;
weight 0 is the pipeline without the stage.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

import benchmarks_path  # noqa: F401  (puts benchmarks/ on sys.path)
import numpy as np
import torch
from paths import add_data_argument
from pipeline import load_set

from diarefine.config import PipelineConfig
from diarefine.metrics import ScoreSettings, score_corpus
from diarefine.stages.base import ChunkEmbeddings
from diarefine.stages.clustering.assign import assign_chunks
from diarefine.stages.pipeline import DiarizationPipeline
from diarefine.stages.postprocess import PostProcessor
from diarefine.stages.reassign import reassign

WEIGHTS = (0.0, 0.5, 0.7, 0.85, 1.0)
TEMPERATURES = (0.05, 0.1, 0.2)
CONFIDENT = (0.7, 1.01)  # 1.01: always the chunk centroids
MEDIANS = (1, 11, 21)


def kept_outputs(pipeline: DiarizationPipeline, items: list) -> list[dict]:
    """Per file: what the reassignment needs, from the pipeline's hook."""
    out = []
    for item in items:
        seen: dict[str, object] = {}
        pipeline(item.audio, item.uri, hook=seen.__setitem__)
        if "windows" not in seen:  # an empty or unusable recording
            continue
        embeddings = seen["embeddings"]
        assert isinstance(embeddings, ChunkEmbeddings)
        labels = np.asarray(seen["clustering"])
        if len(labels) != int(embeddings.reliable.sum()):  # the pipeline's one-speaker case
            embeddings = dataclasses.replace(embeddings, reliable=embeddings.present)
        _, centroids = assign_chunks(embeddings, labels)
        out.append({"uri": item.uri, "frames": seen["reconstruction"],
                    "windows": seen["windows"], "centroids": centroids})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="ami-train,ami-dev,simdev",
                        help="set names of benchmarks/pipeline.py or manifest .jsonl paths")
    add_data_argument(parser)
    parser.add_argument("--windows", default="0.72,1.0,1.5", help="window widths, seconds")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = PipelineConfig.from_toml(args.config) if args.config else PipelineConfig()
    sets = {name: load_set(name, args.data) for name in args.sets.split(",")}
    if any(name in ("ami-test", "sample", "simtest") for name in sets):
        print("warning: a test set is among the sets; choose on selection sets only")
    rows = []
    for width in (float(w) for w in args.windows.split(",")):
        config = base.replace(reassignment=dataclasses.replace(base.reassignment, window=width))
        pipeline = DiarizationPipeline.from_pretrained(config)
        kept = {name: kept_outputs(pipeline, items) for name, items in sets.items()}
        for weight, temperature, confident, median in itertools.product(
                WEIGHTS, TEMPERATURES, CONFIDENT, MEDIANS):
            if weight == 0 and (temperature, confident) != (TEMPERATURES[0], CONFIDENT[0]):
                continue  # the same output
            stage = dataclasses.replace(config.reassignment, weight=weight,
                                        temperature=temperature, confident=confident)
            post = PostProcessor(**{**vars(config.postprocess), "median_filter": median})
            ders = {}
            for name, items in sets.items():
                hyps = {}
                for k in kept[name]:
                    frames = reassign(k["frames"], k["windows"], k["centroids"], stage)
                    labels = [f"S{s}" for s in range(frames.data.shape[1])]
                    hyps[k["uri"]] = post(frames, k["uri"], labels)[0]
                result = score_corpus({i.uri: i.reference for i in items}, hyps,
                                      {i.uri: i.uem for i in items}, ScoreSettings())
                ders[name] = 100 * result.overall.der.der
            rows.append((float(np.mean(list(ders.values()))), width, weight, temperature,
                         confident, median, ders))
    rows.sort(key=lambda r: r[0])
    print(f"{'mean':>6}  {'window':>6} {'weight':>6} {'temp':>5} {'conf':>5} {'median':>6}  "
          + "  ".join(f"{n:>9}" for n in sets))
    for mean, width, weight, temperature, confident, median, ders in rows:
        print(f"{mean:6.2f}  {width:6.2f} {weight:6.2f} {temperature:5.2f} {confident:5.2f} "
              f"{median:6d}  " + "  ".join(f"{ders[n]:9.2f}" for n in sets))


if __name__ == "__main__":
    main()
