"""What refinement adds to the pipeline's time, split into its parts, measured so that this
VM's drift cannot decide.

    python benchmarks/refiner_cost.py --data DIR [--sets ami-dev,ami-test,sample]
                                      [--refiners transformer,transformer-activity]
                                      [--repeat 4]

One process holds the pipeline without refinement ("none"), the pipeline that builds the
refinement context and changes nothing ("context": the tracks every learned refiner reads),
and the pipeline with each refiner listed; they take turns file by file (the order flips
every file and pass), ``--repeat`` passes after one warm-up pass. Printed: each one's total
time and its ratio to "none".
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from paths import add_data_argument
from pipeline import load_set

from diarefine.config import PipelineConfig, RefinerConfig
from diarefine.stages.pipeline import DiarizationPipeline
from diarefine.stages.refinement import build_refiner
from diarefine.train.refiner_data import CaptureRefiner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument("--sets", default="ami-dev,ami-test,sample")
    parser.add_argument("--refiners", default="transformer,transformer-activity")
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    items = [item for name in args.sets.split(",") for item in load_set(name, args.data)]
    base = DiarizationPipeline.from_pretrained(PipelineConfig(refiner=RefinerConfig("none")))
    variants = {"none": base, "context": dataclasses.replace(base, refiner=CaptureRefiner())}
    for name in filter(None, args.refiners.split(",")):
        variants[name] = dataclasses.replace(base, refiner=build_refiner(name))
    for item in items:  # warm-up: graphs compiled, caches filled
        base(item.audio, uri=item.uri)
    total = dict.fromkeys(variants, 0.0)
    for p in range(args.repeat):
        for j, item in enumerate(items):
            order = list(variants) if (p + j) % 2 == 0 else list(variants)[::-1]
            for name in order:
                start = time.perf_counter()
                variants[name](item.audio, uri=item.uri)
                total[name] += time.perf_counter() - start
    audio = sum(float(item.uem.duration()) for item in items) * args.repeat
    print(f"{len(items)} files, {args.repeat} passes, {audio:.0f} s of scored audio in all")
    for name, seconds in total.items():
        print(f"  {name:<22} {seconds:7.2f} s  x{seconds / total['none']:.3f}")


if __name__ == "__main__":
    main()
