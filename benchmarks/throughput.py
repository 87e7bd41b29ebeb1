"""Batch throughput of the two engines: audio hours diarized per hour of wall-clock time,
and the peak memory of each worker, with 1 and 2 workers.

    python benchmarks/throughput.py DATA [--settings local:1,local:2,ray:1,ray:2]
                                         [--config FILE] [--out FILE.json]

DATA is what ``diarefine diarize`` takes: a folder of audio, a JSONL manifest or a
wav.scp. Each setting (``engine:workers``: ``local:N`` is ``--jobs N``, ``ray:N`` a Ray
started here with N CPUs, so N workers) runs the whole batch in a fresh process into an
empty folder, as ``diarefine diarize`` does: the wall time counts starting the workers
and loading their models, which every real batch pays once. Each worker records its peak
resident memory (``ru_maxrss``) after every recording; the table gives the largest, and
the throughput of one worker while it diarizes (audio over the workers' summed busy
time: without the start-up). The converted-model cache is filled by a warm-up run first
(one recording, not timed).

The local engine with one job runs torch on every core; each Ray worker and each of
``--jobs 2``'s processes gets its share (one thread here, on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = "local:1,local:2,ray:1,ray:2"


class MeasuredRunner:
    """The pipeline runner, writing its process's peak RSS (MB), torch threads and
    seconds spent diarizing to ``<rss_dir>/<pid>.json`` after each recording."""

    def __init__(self, config_path: str | None, rss_dir: str) -> None:
        from diarefine.config import PipelineConfig
        from diarefine.runner import PipelineRunner

        config = PipelineConfig.from_toml(config_path) if config_path else PipelineConfig()
        self.runner = PipelineRunner(config)
        self.rss_dir = Path(rss_dir)
        self.busy = 0.0  # seconds spent diarizing

    def __call__(self, uri: str, audio: Path) -> object:
        import torch

        start = time.perf_counter()
        out = self.runner(uri, audio)
        self.busy += time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        (self.rss_dir / f"{os.getpid()}.json").write_text(json.dumps(
            {"peak_rss_mb": peak, "threads": torch.get_num_threads(), "busy_s": self.busy}))
        return out


def run_setting(data: list[str], engine: str, workers: int, config: str | None) -> dict:
    """One batch in this process (called in a fresh child): the figures as a dict."""
    import functools

    import soundfile as sf

    from diarefine.batch import collect_inputs, run_batch

    items = collect_inputs(data)
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        rss = Path(tmp) / "rss"
        rss.mkdir()
        factory = functools.partial(MeasuredRunner, config, str(rss))
        start = time.perf_counter()
        report = run_batch(items, Path(tmp) / "out", factory, jobs=workers, engine=engine)
        wall = time.perf_counter() - start
        per_worker = [json.loads(p.read_text()) for p in rss.glob("*.json")]
    seconds = sum(sf.info(str(i.audio)).duration for i in items if i.uri in report.done)
    return {"engine": engine, "workers": workers, "recordings": len(report.done),
            "failed": len(report.failed), "audio_s": seconds, "wall_s": wall,
            "audio_h_per_h": seconds / wall,
            "per_worker_h_per_h": seconds / max(sum(w["busy_s"] for w in per_worker), 1e-9),
            "peak_rss_mb": max((w["peak_rss_mb"] for w in per_worker), default=0.0),
            "worker_processes": len(per_worker),
            "threads": sorted({w["threads"] for w in per_worker})}


def child(data: list[str], engine: str, workers: int, config: str | None) -> dict:
    args = [sys.executable, __file__, *data, "--child", f"{engine}:{workers}"]
    args += ["--config", config] if config else []
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{engine}:{workers} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="+", help="audio folder, manifest or wav.scp")
    parser.add_argument("--settings", default=SETTINGS, help=f"default {SETTINGS}")
    parser.add_argument("--config", default=None, help="pipeline TOML")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, workers = args.child.split(":")
        print(json.dumps(run_setting(args.data, engine, int(workers), args.config)))
        return
    from diarefine.batch import collect_inputs

    first = collect_inputs(args.data)[0].audio
    child([str(first)], "local", 1, args.config)  # warm-up: the converted-model cache
    rows = []
    print(f"{'setting':10} {'files':>5} {'audio h':>8} {'wall s':>7} {'audio h/h':>9} "
          f"{'one worker busy h/h':>19} {'peak RSS/worker MB':>18} threads")
    for setting in args.settings.split(","):
        engine, workers = setting.split(":")
        row = child(args.data, engine, int(workers), args.config)
        rows.append(row)
        print(f"{setting:10} {row['recordings']:>5} {row['audio_s'] / 3600:>8.3f} "
              f"{row['wall_s']:>7.1f} {row['audio_h_per_h']:>9.1f} "
              f"{row['per_worker_h_per_h']:>19.1f} "
              f"{row['peak_rss_mb']:>18.0f} {row['threads']}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
