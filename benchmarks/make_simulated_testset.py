"""The fixed simulated test set that the other benchmarks use, made by one command.

    python benchmarks/make_simulated_testset.py --data DIR [--set test|dev] [--out DIR]
                                                [--overwrite]

30 conversations of 2-5 minutes with 2-5 speakers each, only held-out (test-split) speakers
of ``DIR/librispeech-261`` (``--data DIR``, or ``$DIAREFINE_DATA``; ``--source`` names the
LibriSpeech folder itself) (its 10 test-other speakers and the train-clean
speakers that hash to test), 12 % target overlap, mild synthetic reverberation
(RT60 0.15-0.4 s) and pink noise at 15-35 dB SNR, seed 2026. Tight references (Silero VAD
speech regions only). Same command, same bytes; a rerun skips what is complete.

Writes ``OUT/manifest.jsonl`` (plus audio/, rttm/, uem/, meta/) and prints the set's
statistics (``benchmarks/dataset_stats.py`` prints the same for any manifest).
The output folder is git-ignored: the set is rebuilt from the shared data, never committed.

``--set dev`` makes the development set instead (``benchmarks/data/simdev``): 20
conversations of 3-6 minutes, 2-5 dev-split speakers, 15 % overlap, RT60 0.15-0.5 s,
seed 11. Defaults that matter only for recordings longer than a minute (VBx) were
chosen on it; the test set is only ever measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from paths import GENERATED, add_data_argument, data_folder

from diarefine.data.manifest import load_references, load_scoring_regions, read_manifest
from diarefine.data.simset import SetSpec, simulate_set
from diarefine.data.simulate import SimulationConfig
from diarefine.data.stats import collect, format_stats

SPEC = SetSpec(num=30, split="test", seed=2026, uri="simtest-{index:03d}")
CONFIG = SimulationConfig(duration=(120.0, 300.0), speakers=(2, 5), overlap=0.12,
                          rt60=(0.15, 0.4), snr_db=(15.0, 35.0), noise="pink")
# The development set (--set dev): held-out dev-split speakers, longer recordings; the
# clustering defaults for recordings longer than a minute were chosen on it.
DEV_SPEC = SetSpec(num=20, split="dev", seed=11, uri="simdev-{index:03d}")
DEV_CONFIG = SimulationConfig(duration=(180.0, 360.0), speakers=(2, 5), overlap=0.15,
                              rt60=(0.15, 0.5), snr_db=(15.0, 35.0), noise="pink")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument("--source", type=Path, help="the LibriSpeech folder "
                        "(default: DIR/librispeech-261 of --data)")
    parser.add_argument("--set", choices=("test", "dev"), default="test")
    parser.add_argument("--out", type=Path, help="default: benchmarks/data/simtest (simdev)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    if args.source is None:
        args.source = data_folder(args.data, "librispeech-261") / "librispeech-261"
    elif not args.source.is_dir():
        sys.exit(f"error: source folder {args.source} is absent")
    start = time.perf_counter()

    def hook(step: str, artifact: object) -> None:
        if step == "conversation":
            print(f"  {artifact.uri}  {artifact.duration:6.1f} s  "  # type: ignore[attr-defined]
                  f"{artifact.num_speakers} speakers", file=sys.stderr)  # type: ignore[attr-defined]

    spec, config = (SPEC, CONFIG) if args.set == "test" else (DEV_SPEC, DEV_CONFIG)
    args.out = args.out or GENERATED / f"sim{args.set}"
    result = simulate_set(args.source, args.out, spec, config, overwrite=args.overwrite,
                          hook=hook)
    print(f"{result.generated} generated, {result.skipped} already complete in "
          f"{time.perf_counter() - start:.0f} s; manifest {result.manifest}", file=sys.stderr)
    recordings = [r for r in read_manifest(result.manifest) if r.uri in
                  {rec.uri for rec in result.records}]
    refs, regions = load_references(recordings), load_scoring_regions(recordings)
    stats = collect((refs[r.uri], regions[r.uri]) for r in recordings).as_dict()
    print(format_stats(f"simulated {args.set} set ({args.out.name})", stats))


if __name__ == "__main__":
    main()
