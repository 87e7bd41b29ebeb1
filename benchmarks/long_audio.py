"""Peak memory and speed of the pipeline on one long recording (default: 2 hours).

    python benchmarks/long_audio.py [--hours 2] [--threads 2] [--rate 16000] [--config FILE]

The recording is the bundled demo conversation (58.8 s, 3 speakers) repeated with
a little noise (so no two copies are identical) up to the requested length, written as
a 16 kHz (or ``--rate``) 16-bit WAV in a temporary folder. The whole diarization runs in
a fresh process whose peak resident memory (``ru_maxrss``) is reported, together with
the wall-clock time and the real-time factor. The memory of the written WAV file itself
is not counted (it is read block by block).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from paths import REPO

CHILD = """
import json, resource, sys, time, torch
torch.set_num_threads(int(sys.argv[2]))
from diarefine.config import PipelineConfig
from diarefine.stages.pipeline import DiarizationPipeline
start = time.perf_counter()
config = PipelineConfig.from_toml(sys.argv[3]) if len(sys.argv) > 3 else PipelineConfig()
pipeline = DiarizationPipeline.from_pretrained(config)
pipeline.segmenter.runner()  # the backends are built now, as part of the loading
pipeline.embedder.trunk(torch.zeros(1, 400, 80))
loaded = time.perf_counter()
out = pipeline(sys.argv[1])
end = time.perf_counter()
print(json.dumps({"load_s": loaded - start, "diarize_s": end - loaded,
                  "duration_s": out.duration, "speakers": len(out.diarization.speakers),
                  "turns": len(out.diarization),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_recording(path: Path, hours: float, rate: int) -> float:
    demo, sr = sf.read(str(REPO / "examples" / "demo.flac"), dtype="float32")
    rng = np.random.default_rng(0)
    total = int(hours * 3600 * rate)
    with sf.SoundFile(str(path), "w", rate, 1, subtype="PCM_16") as out:
        written = 0
        while written < total:
            piece = demo if rate == sr else np.interp(
                np.arange(int(len(demo) * rate / sr)) * sr / rate, np.arange(len(demo)), demo)
            piece = (piece + rng.normal(0, 1e-3, len(piece))).astype(np.float32)
            piece = piece[: total - written]
            out.write(piece)
            written += len(piece)
    return total / rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--config", type=Path, help="a pipeline configuration (TOML)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        seconds = make_recording(path, args.hours, args.rate)
        start = time.perf_counter()
        extra = [str(args.config)] if args.config else []
        proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(args.threads),
                               *extra], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
    fallbacks = [line for line in proc.stderr.splitlines() if "BackendFallbackWarning" in line]
    if fallbacks:  # the figures would be torch's, not the configured runtimes'
        raise SystemExit("a runtime failed and the pipeline went on with torch:\n"
                         + "\n".join(fallbacks))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"recording: {seconds / 3600:.2f} h at {args.rate} Hz (demo repeated); "
          f"torch threads {args.threads}")
    print(f"peak resident memory: {result['peak_rss_mb']:.0f} MB")
    print(f"model loading: {result['load_s']:.1f} s; diarization: {result['diarize_s']:.1f} s "
          f"(RTF {result['diarize_s'] / seconds:.4f}); whole process: {wall:.1f} s "
          f"(RTF {wall / seconds:.4f})")
    print(f"output: {result['speakers']} speakers, {result['turns']} turns")
    print(f"(this parent process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
          " MB, not included)")


if __name__ == "__main__":
    main()
