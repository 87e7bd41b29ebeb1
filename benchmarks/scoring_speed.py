"""Scoring speed: diarefine vs NIST md-eval-22 vs pyannote.metrics on one synthetic corpus.

The corpus: FILES recordings of 10 minutes, 10 speakers each, turns in sequence with
log-normal lengths (median 2.5 s), gaps that are negative (overlap) 25 % of the time,
backchannels over the main speaker; the system output moves every boundary (sigma 0.25 s),
swaps 5 % of the labels, drops 5 % of the turns and adds false alarms. Every scorer
reads the same RTTM/UEM files from disk (the UEM is [0, 600] per file) and the timing
includes reading them.

    python benchmarks/scoring_speed.py [--files 200] [--collar 0] [--skip-pyannote]

Prints the wall-clock time of each scorer, the ratios, and the DER each one reports.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from diarefine.core import Annotation, Timeline, Turn
from diarefine.io import load_rttms, read_uem, write_rttm, write_uem
from diarefine.metrics import ScoreSettings, diarization_error, score_corpus
from diarefine.metrics.mdeval import find_mdeval, parse_mdeval

DURATION, SPEAKERS = 600.0, 10


def conversation(rng: np.random.Generator, uri: str) -> Annotation:
    weights = rng.dirichlet(np.ones(SPEAKERS) * 0.8)
    turns, t, previous = [], float(rng.uniform(0, 2)), -1
    while t < DURATION:
        speaker = int(rng.choice(SPEAKERS, p=weights))
        if speaker == previous:
            continue
        length = float(rng.lognormal(np.log(2.5), 0.8))
        end = min(t + length, DURATION)
        turns.append(Turn(round(t, 3), round(end, 3), f"spk{speaker}"))
        if rng.random() < 0.15 and length > 2:  # a backchannel over this turn
            other = (speaker + 1 + int(rng.integers(SPEAKERS - 1))) % SPEAKERS
            b = t + float(rng.uniform(0.5, length - 0.6))
            turns.append(Turn(round(b, 3), round(b + float(rng.uniform(0.2, 0.6)), 3),
                              f"spk{other}"))
        gap = float(rng.normal(0.2, 0.6))
        t, previous = end + (gap if gap > -length / 2 else -length / 2), speaker
    return Annotation(uri, tuple(turns)).merge_overlaps()[0]


def system_output(rng: np.random.Generator, ref: Annotation) -> Annotation:
    names = {s: f"S{i}" for i, s in enumerate(rng.permutation(ref.speakers))}
    turns = []
    for t in ref.turns:
        if rng.random() < 0.05:
            continue
        label = names[t.speaker] if rng.random() > 0.05 else f"S{rng.integers(SPEAKERS)}"
        start = max(0.0, t.start + float(rng.normal(0, 0.25)))
        end = min(DURATION, t.end + float(rng.normal(0, 0.25)))
        if end > start + 0.01:
            turns.append(Turn(round(start, 3), round(end, 3), label))
    for _ in range(int(rng.integers(5, 15))):
        start = float(rng.uniform(0, DURATION - 2))
        turns.append(Turn(round(start, 3), round(start + float(rng.uniform(0.3, 2)), 3),
                          f"S{rng.integers(SPEAKERS)}"))
    return Annotation(ref.uri, tuple(turns)).merge_overlaps()[0]


def make_corpus(folder: Path, files: int, seed: int) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(seed)
    refs = [conversation(rng, f"rec{i:03d}") for i in range(files)]
    hyps = [system_output(rng, r) for r in refs]
    paths = folder / "ref.rttm", folder / "hyp.rttm", folder / "all.uem"
    write_rttm(paths[0], refs)
    write_rttm(paths[1], hyps)
    write_uem(paths[2], {r.uri: Timeline([(0, DURATION)]) for r in refs})
    return paths


def timed(fn):  # noqa: ANN001, ANN201
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def run_diarefine(ref: Path, hyp: Path, uem: Path, collar: float, full: bool) -> float:
    refs, hyps, regions = load_rttms(ref), load_rttms(hyp), read_uem(uem)
    if full:
        return score_corpus(refs, hyps, regions, ScoreSettings(collar=collar)).overall.der.der
    total = None
    for uri, r in refs.items():
        c = diarization_error(r, hyps[uri], regions[uri], collar).components
        total = c if total is None else total + c
    return total.der


def run_mdeval(ref: Path, hyp: Path, uem: Path, collar: float) -> float:
    import subprocess

    out = subprocess.run(["perl", find_mdeval(), "-r", str(ref), "-s", str(hyp), "-u",
                          str(uem), "-c", str(collar)], capture_output=True, text=True,
                         check=True).stdout
    return parse_mdeval(out.replace("for ALL", "for ALL")).overall.der


def run_pyannote(ref: Path, hyp: Path, uem: Path, collar: float) -> float:
    from pyannote.core import Annotation as PA
    from pyannote.core import Segment
    from pyannote.core import Timeline as PT
    from pyannote.metrics.diarization import DiarizationErrorRate

    def load(path: Path) -> dict[str, PA]:
        out: dict[str, PA] = {}
        for line in path.read_text().splitlines():
            f = line.split()
            a = out.setdefault(f[1], PA(uri=f[1]))
            a[Segment(float(f[3]), float(f[3]) + float(f[4])), len(a)] = f[7]
        return out

    refs, hyps = load(ref), load(hyp)
    regions = {}
    for line in uem.read_text().splitlines():
        f = line.split()
        regions[f[0]] = PT([Segment(float(f[2]), float(f[3]))])
    metric = DiarizationErrorRate(collar=2 * collar)  # pyannote's collar is the total width
    for uri, r in refs.items():
        metric(r, hyps[uri], uem=regions[uri])
    return abs(metric)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--collar", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-pyannote", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_corpus(Path(tmp), args.files, args.seed)
        refs = load_rttms(paths[0])
        turns = sum(len(r) for r in refs.values())
        print(f"corpus: {args.files} files x {DURATION / 60:.0f} min, {SPEAKERS} speakers, "
              f"{turns} reference turns; collar {args.collar} s per side, overlap scored, "
              f"UEM [0, {DURATION:.0f}]")
        print(f"machine: {platform.processor() or platform.machine()}, "
              f"python {platform.python_version()}")
        results = {
            "diarefine (DER only)": timed(lambda: run_diarefine(*paths, args.collar, False)),
            "diarefine (DER+JER+B3+MI+NMI)": timed(
                lambda: run_diarefine(*paths, args.collar, True)),
        }
        if find_mdeval():
            results["md-eval-22"] = timed(lambda: run_mdeval(*paths, args.collar))
        if not args.skip_pyannote:
            results["pyannote.metrics"] = timed(lambda: run_pyannote(*paths, args.collar))
    base = results["diarefine (DER only)"][0]
    print(f"{'scorer':32s} {'seconds':>9s} {'x diarefine':>12s} {'DER %':>9s}")
    for name, (seconds, der) in results.items():
        print(f"{name:32s} {seconds:9.2f} {seconds / base:12.1f} {100 * der:9.3f}")


if __name__ == "__main__":
    main()
