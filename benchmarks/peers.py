"""diarefine's default pipeline against senko 0.2.2, timed in turn, file by file, in one process.

    python benchmarks/peers.py --data DIR [--sets ami-train,ami-dev,ami-test,sample]
                               [--repeat 3] [--threads 2]

The issue's speed aim (RTF <= 0.02) was set beside a measurement of senko on this machine
(RTF 0.025-0.033); this VM's speed drifts by 10-30 % from one hour to the next (docs/speed.md),
so an absolute RTF from another day says little. Here both systems live in one process and
take turns on every file (which one goes first alternates), ``--repeat`` passes over the sets
(``benchmarks/pipeline.py``'s set names), so that a slow spell hits both alike.

senko as a CPU user runs it: ``Diarizer(device="cpu")`` (silero VAD, then CAM++ on 1.5 s
sub-segments, then clustering; senko's pyannote VAD runs only on CUDA or CoreML), fed the
decoded samples with ``diarize_samples``; its timed call includes reading the file, as does
diarefine's. Its output is ``merged_segments`` (what ``senko.save_rttm`` writes; one speaker
at a time). senko is imported here only: its import points numba's cache at
``~/.cache/senko`` and wraps ``numba.njit`` for the whole process, so ``HOME`` is pointed at a
temporary folder first.

Printed: each system's RTF per pass and over all passes, the time ratio per pass, and both
systems' DER (collar 0 and 0.25 s, overlap scored, the sets' UEMs; diarefine's
md-eval-22-exact scorer) over all the files.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable

import numpy as np
import soundfile as sf
from paths import add_data_argument
from pipeline import load_set, strict_backends
from speed_ab import take_turns

from diarefine.core import Annotation
from diarefine.metrics import ScoreSettings, score_corpus


def _senko_fbank(audio: np.ndarray, subsegments: list[tuple[float, float]],
                 *, sample_offset: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """senko's fbank step as its CUDA path computes it (kaldifeat: 80 log-mel bins, 25 ms
    frames every 10 ms, each sub-segment padded to 400 samples, then its mean removed),
    by diarefine's equal fbank. Returns senko's flat features, frames per sub-segment,
    offsets into the flat array and the number of bins."""
    from diarefine.features.fbank import compute_fbank

    pieces, frames, offsets, offset = [], [], [], 0
    for start_s, end_s in subsegments:
        start = int(start_s * 16000) - sample_offset
        length = min(max(int((end_s - start_s) * 16000), 1), len(audio) - start)
        piece = audio[start:start + length]
        if len(piece) < 400:
            piece = np.pad(piece, (0, 400 - len(piece)))
        features = compute_fbank(piece, mean_normalize=True).reshape(-1)
        pieces.append(features)
        frames.append(len(features) // 80)
        offsets.append(offset)
        offset += len(features)
    flat = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return flat, np.array(frames, dtype=np.int64), np.array(offsets, dtype=np.int64), 80


def senko_system(threads: int) -> Callable[[str, str], Annotation]:
    """A callable: (16 kHz audio path, uri) -> senko's diarization as an Annotation."""
    os.environ["HOME"] = tempfile.mkdtemp(prefix="senko-home-")
    import senko  # noqa: PLC0415  (after HOME is moved)
    import torch

    diarizer = senko.Diarizer(device="cpu", warmup=True, quiet=True)
    diarizer._extract_fbank_features = _senko_fbank  # its own library: illegal instruction
    diarizer.logical_cores = threads  # senko sets torch's threads to this at every call
    torch.set_num_threads(threads)

    def run(path: str, uri: str) -> Annotation:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
        result = diarizer.diarize_samples(samples.mean(axis=1), rate)
        turns = [(s["start"], s["end"], s["speaker"])
                 for s in (result or {}).get("merged_segments", []) if s["end"] > s["start"]]
        return Annotation.from_tuples(uri, turns)

    return run


def diarefine_system(threads: int) -> Callable[[str, str], Annotation]:
    import torch

    from diarefine.stages.pipeline import DiarizationPipeline

    torch.set_num_threads(threads)
    pipeline = DiarizationPipeline.from_pretrained()
    return lambda path, uri: pipeline(path, uri=uri).diarization


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="ami-train,ami-dev,ami-test,sample",
                        help="set names of benchmarks/pipeline.py or manifest .jsonl paths")
    add_data_argument(parser)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    strict_backends()

    items = [item for name in args.sets.split(",") for item in load_set(name, args.data)]
    systems = {"diarefine": diarefine_system(args.threads),
               "senko": senko_system(args.threads)}
    for system in systems.values():  # warm-up (conversions, numba compilation), not timed
        system(str(items[0].audio), items[0].uri)
    names = list(systems)
    seconds, outputs = take_turns(
        {k: (lambda item, run=run: run(str(item.audio), item.uri)) for k, run in systems.items()},
        items, args.repeat)
    audio = sum(sf.info(str(item.audio)).duration for item in items)
    print(f"{len(items)} files ({args.sets}), {audio:.0f} s of audio, {args.repeat} passes, "
          f"{args.threads} threads, turn about per file")
    for key in names:
        passes = " ".join(f"{s / audio:.4f}" for s in seconds[key])
        print(f"  {key:9s} RTF per pass {passes}; all passes "
              f"{seconds[key].sum() / audio / args.repeat:.4f}")
    ratio = seconds["diarefine"] / seconds["senko"]
    print(f"  diarefine / senko time per pass {' '.join(f'{r:.3f}' for r in ratio)}; "
          f"all passes {seconds['diarefine'].sum() / seconds['senko'].sum():.3f}")
    refs = {item.uri: item.reference for item in items}
    uem = {item.uri: item.uem for item in items}
    for key in names:
        scores = [score_corpus(refs, outputs[key], uem, ScoreSettings(collar=c)).overall.der
                  for c in (0.0, 0.25)]
        d = scores[0]
        print(f"  {key:9s} DER collar 0 {100 * d.der:.2f} % (miss {100 * d.miss / d.scored:.2f}, "
              f"FA {100 * d.false_alarm / d.scored:.2f}, "
              f"confusion {100 * d.confusion / d.scored:.2f}); "
              f"collar 0.25 {100 * scores[1].der:.2f} %")


if __name__ == "__main__":
    main()
