"""The simulated training sets of the boundary refiners, made by one command.

    python benchmarks/make_refiner_sets.py --data DIR [--out DIR] [--num N]

Four sets of train-split LibriSpeech speakers only (speaker-disjoint from the simulated
dev and test sets), so that the pipeline makes varied errors to learn from:

==========  ========  =======  ===============  ==================
set         overlap   speakers reverberation    noise
==========  ========  =======  ===============  ==================
simtrain-a  0.05      2-3      none             none
simtrain-b  0.12      2-4      RT60 0.15-0.4 s  pink, 15-35 dB SNR
simtrain-c  0.20      2-5      none             pink, 10-30 dB SNR
simtrain-d  0.30      3-5      RT60 0.2-0.6 s   pink, 20-40 dB SNR
==========  ========  =======  ===============  ==================

``--num`` conversations of 2-4 minutes each (default 15: about 3 hours in all). Each set
goes to ``OUT/<set>`` (default ``benchmarks/data``) with its ``manifest.jsonl``; same
command, same bytes; a rerun skips what is complete.

It also writes manifests of the real recordings by split, for ``diarefine refiner-data``
and ``benchmarks/refiners.py``: ``OUT/ami-train.jsonl``, ``ami-dev.jsonl``,
``ami-test.jsonl`` (the AMI excerpts, each split's UEM) and ``sample.jsonl`` (the pyannote
sample, scored over [0, 30 s]: ``OUT/sample.uem``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from paths import GENERATED, add_data_argument, data_folder

from diarefine.data.simset import SetSpec, simulate_set
from diarefine.data.simulate import SimulationConfig

DURATION = (120.0, 240.0)
SETS = {
    "simtrain-a": SimulationConfig(duration=DURATION, speakers=(2, 3), overlap=0.05,
                                   rt60=None, snr_db=None),
    "simtrain-b": SimulationConfig(duration=DURATION, speakers=(2, 4), overlap=0.12,
                                   rt60=(0.15, 0.4), snr_db=(15.0, 35.0)),
    "simtrain-c": SimulationConfig(duration=DURATION, speakers=(2, 5), overlap=0.20,
                                   rt60=None, snr_db=(10.0, 30.0)),
    "simtrain-d": SimulationConfig(duration=DURATION, speakers=(3, 5), overlap=0.30,
                                   rt60=(0.2, 0.6), snr_db=(20.0, 40.0)),
}


def real_manifests(shared: Path, out: Path) -> None:
    """Manifests of the AMI excerpts by split and of the pyannote sample."""
    import soundfile as sf

    from diarefine.data.manifest import Recording, write_manifest
    from diarefine.io import read_rttm
    from diarefine.io.atomic import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    ami = shared / "ami-excerpts"
    for name, subset in (("ami-train", "train"), ("ami-dev", "development"),
                         ("ami-test", "test")):
        # by the split's RTTM, as benchmarks/pipeline.py reads them (the .lst of the
        # train split misspells one uri, which `diarefine prepare` reports)
        rttm, uem = ami / f"debug.{subset}.rttm", ami / f"debug.{subset}.uem"
        refs = read_rttm(rttm)
        write_manifest(out / f"{name}.jsonl", [
            Recording(uri, ami / f"{uri}.wav", rttm, uem, duration=30.0,
                      speakers=refs[uri].speakers, split=name) for uri in sorted(refs)])
    sample = shared / "pyannote-sample"
    duration = sf.info(str(sample / "sample.wav")).duration
    atomic_write_text(out / "sample.uem", f"sample 1 0.000 {duration:.3f}\n")
    write_manifest(out / "sample.jsonl", [Recording(
        "sample", sample / "sample.wav", sample / "sample.rttm", out / "sample.uem",
        duration=duration, split="sample")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument("--out", type=Path, default=GENERATED)
    parser.add_argument("--num", type=int, default=15)
    args = parser.parse_args()
    data = data_folder(args.data, "librispeech-261", "ami-excerpts", "pyannote-sample")
    source = data / "librispeech-261"
    real_manifests(data, args.out)
    for seed, (name, config) in enumerate(SETS.items(), start=101):
        start = time.perf_counter()
        spec = SetSpec(num=args.num, split="train", seed=seed, uri=f"{name}-{{index:03d}}")
        result = simulate_set(source, args.out / name, spec, config)
        print(f"{name}: {result.generated} generated, {result.skipped} already complete in "
              f"{time.perf_counter() - start:.0f} s; {result.manifest}")


if __name__ == "__main__":
    main()
