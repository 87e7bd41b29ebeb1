"""Which of two configurations is faster, measured so that this VM's drift cannot decide.

    python benchmarks/speed_ab.py B.toml --data DIR [--base A.toml]
                                  [--sets ami-train,...,sample] [--repeat 3] [--threads 2]

The speed of this shared 2-core VM drifts by 10-25 % within minutes, so two runs of
``benchmarks/pipeline.py`` one after the other can rank two configurations either way.
Here both pipelines live in one process and take turns file by file (which one goes
first alternates), ``--repeat`` passes over the sets (``benchmarks/pipeline.py``'s set
names). Printed: each configuration's RTF per pass and over all passes, the ratio B/A
per pass, and how far B's output is from A's (DER of B's diarization scored against
A's, collar 0, summed over the files: 0 when they agree exactly). ``--base`` defaults to
the built-in defaults; a configuration file may override any subset of them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from paths import add_data_argument
from pipeline import Item, load_set, strict_backends

from diarefine.config import PipelineConfig
from diarefine.core import Annotation
from diarefine.metrics import ScoreSettings, score_corpus

R = TypeVar("R")


def take_turns(systems: dict[str, Callable[[Item], R]], items: list[Item], repeat: int
               ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, R]]]:
    """Every system on every file, in turn (which one goes first alternates from file to
    file and from pass to pass), ``repeat`` passes over ``items``. Returns each system's
    seconds per pass and its outputs by uri (of the last pass)."""
    seconds = {k: np.zeros(repeat) for k in systems}
    outputs: dict[str, dict[str, R]] = {k: {} for k in systems}
    names = list(systems)
    for rep in range(repeat):
        for index, item in enumerate(items):
            for key in names if (index + rep) % 2 == 0 else names[::-1]:
                start = time.perf_counter()
                outputs[key][item.uri] = systems[key](item)
                seconds[key][rep] += time.perf_counter() - start
    return seconds, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, help="configuration B (TOML)")
    parser.add_argument("--base", type=Path, help="configuration A (default: the defaults)")
    parser.add_argument("--sets", default="ami-train,ami-dev,ami-test,sample",
                        help="set names of benchmarks/pipeline.py or manifest .jsonl paths")
    add_data_argument(parser)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    strict_backends()

    import torch

    from diarefine.stages.pipeline import DiarizationPipeline

    torch.set_num_threads(args.threads)
    configs = {"A": PipelineConfig.from_toml(args.base) if args.base else PipelineConfig(),
               "B": PipelineConfig.from_toml(args.config)}
    pipelines = {k: DiarizationPipeline.from_pretrained(c) for k, c in configs.items()}
    items = [item for name in args.sets.split(",") for item in load_set(name, args.data)]
    for pipeline in pipelines.values():  # warm-up (and conversions), not timed
        pipeline(str(items[0].audio), uri=items[0].uri)
    runs = {k: (lambda item, p=p: p(str(item.audio), uri=item.uri))
            for k, p in pipelines.items()}
    seconds, results = take_turns(runs, items, args.repeat)
    outputs: dict[str, dict[str, Annotation]] = {
        k: {uri: out.diarization for uri, out in by_uri.items()} for k, by_uri in results.items()}
    audio = sum(out.duration for out in results["A"].values())
    print(f"{len(items)} files, {audio:.0f} s of audio, {args.repeat} passes, "
          f"{args.threads} torch threads; A = {args.base or 'defaults'}, B = {args.config}")
    for key in pipelines:
        passes = " ".join(f"{s / audio:.4f}" for s in seconds[key])
        overall = seconds[key].sum() / audio / args.repeat
        print(f"  {key}: RTF per pass {passes}; all passes {overall:.4f}")
    ratio = seconds["B"] / seconds["A"]
    print(f"  B / A time per pass {' '.join(f'{r:.3f}' for r in ratio)}; "
          f"all passes {seconds['B'].sum() / seconds['A'].sum():.3f}")
    uem = {item.uri: item.uem for item in items}
    apart = score_corpus(outputs["A"], outputs["B"], uem, ScoreSettings(collar=0.0))
    print(f"  B's diarization scored against A's (collar 0): "
          f"DER {100 * apart.overall.der.der:.3f} %")


if __name__ == "__main__":
    main()
