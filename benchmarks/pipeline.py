"""Diarization accuracy and speed of the pipeline on the real recordings here.

    python benchmarks/pipeline.py --data DIR [--config FILE]
                                  [--sets ami-train,ami-dev,ami-test,sample]
                                  [--variants] [--threads 2] [--json OUT] [--oracle-speakers]
                                  [--repeat N] [--save DIR] [--against DIR]

``--data DIR`` (or ``$DIAREFINE_DATA``): the folder holding ``ami-excerpts/`` and
``pyannote-sample/``. Sets: the AMI excerpts by split (UEMs from the split's ``.uem``: the
whole 30 s), the pyannote two-speaker sample (scored over [0, 30 s]: it has no UEM), any
JSONL manifest given by its path (``diarefine prepare`` writes one; each recording's UEM,
else its whole audio), and, when built with
``benchmarks/make_simulated_testset.py``, the simulated test and dev sets (``simtest``,
``simdev``, their UEMs) and ``simdev30``: the first three 30 s pieces of each simulated
dev recording (60 files as long as the AMI excerpts; a selection set of the size the
two-file AMI dev split lacks).
For each set: DER and its components at collar 0 and 0.25 s per side, overlap scored,
computed by diarefine's md-eval-22-exact scorer; and the real-time factor (wall-clock
time of the whole per-file process, audio decoding included, / audio duration) with
``--threads`` torch threads; with ``--repeat N`` the sets are run N times, pass after
pass, and the RTF is the median pass (each pass is printed: this VM's passes differ by
about 10 %). ``AMI+sample`` pools the 14 AMI excerpts and the sample.
For AMI+sample, also a 95 % bootstrap interval of its DER over the 15 files
(``diarefine.metrics.bootstrap``). With ``--against DIR``, for every set and AMI+sample,
the DER difference to the RTTMs an earlier ``--save DIR`` run wrote and its 95 % paired
bootstrap interval (files resampled in pairs; RTTM times are rounded to the
millisecond, so a run against its own saved output differs by up to 0.01 points).
For AMI+sample also the DER by number
of reference speakers talking at once, and how much miss no system limited to 1, 2 or 3
simultaneous speakers can avoid (``diarefine score --by-count``). ``--variants`` runs,
instead of one configuration, the speed/accuracy variants of ``VARIANTS`` (each a set of
overrides of the defaults). A runtime that fails while running stops the benchmark (with
backend "auto" the pipeline would go on with torch, and the figures would be torch's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
from paths import GENERATED, Item, add_data_argument, data_folder, manifest_set

from diarefine.config import PipelineConfig
from diarefine.core import Annotation, Timeline
from diarefine.io import read_rttm, read_uem, write_rttm
from diarefine.metrics import ScoreSettings, score_corpus
from diarefine.metrics.bootstrap import bootstrap_der, bootstrap_difference, file_errors
from diarefine.metrics.speaker_count import CountBreakdown, corpus_breakdown, count_text

AMI_SPLITS = {"ami-train": "train", "ami-dev": "development", "ami-test": "test"}


def load_set(name: str, data: Path | None = None) -> list[Item]:
    """A set by name (``AMI_SPLITS``, ``sample``: from the data folder ``data`` or
    ``$DIAREFINE_DATA``; ``simtest``, ``simdev``, ``simdev30``: from ``benchmarks/data``),
    or a JSONL manifest by its path (a name ending in ``.jsonl``)."""
    if name.endswith(".jsonl"):
        return manifest_set(Path(name))
    if name in AMI_SPLITS:
        folder = data_folder(data, "ami-excerpts") / "ami-excerpts"
        refs = read_rttm(folder / f"debug.{AMI_SPLITS[name]}.rttm")
        uems = read_uem(folder / f"debug.{AMI_SPLITS[name]}.uem")
        return [Item(u, folder / f"{u}.wav", refs[u], uems[u]) for u in sorted(refs)]
    if name == "sample":
        folder = data_folder(data, "pyannote-sample") / "pyannote-sample"
        duration = sf.info(str(folder / "sample.wav")).duration
        ref = read_rttm(folder / "sample.rttm")["sample"]
        return [Item("sample", folder / "sample.wav", ref, Timeline([(0, duration)]))]
    if name in ("simtest", "simdev"):
        path = GENERATED / name / "manifest.jsonl"
        if not path.exists():
            raise SystemExit(f"{path} missing: run benchmarks/make_simulated_testset.py")
        return manifest_set(path)
    if name == "simdev30":
        return simulated_pieces()
    raise SystemExit(f"unknown set {name!r} (a set name or a manifest.jsonl)")


def set_label(name: str) -> str:
    """How a set is printed and saved: its name, or a manifest's file name stem."""
    return Path(name).stem if name.endswith(".jsonl") else name


#: ``simdev30``: this many 30 s pieces from the start of each simulated dev recording.
PIECES = 3


def simulated_pieces(seconds: float = 30.0) -> list[Item]:
    """The simulated dev set cut into pieces as long as the AMI excerpts: the first
    ``PIECES`` pieces of each recording (60 files), written once (atomically) under
    ``benchmarks/data/simdev30``, references and scoring regions cropped and shifted."""
    folder = GENERATED / "simdev30"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for item in load_set("simdev"):
        info = sf.info(str(item.audio))
        for k in range(min(PIECES, int(info.duration // seconds))):
            start, uri = k * seconds, f"{item.uri}-{k}"
            path = folder / f"{uri}.wav"
            if not path.exists():
                frames = int(round(seconds * info.samplerate))
                audio, rate = sf.read(str(item.audio), start=k * frames, frames=frames,
                                      dtype="float32")
                partial = path.with_suffix(".part")
                sf.write(str(partial), audio, rate, subtype="FLOAT", format="WAV")
                os.replace(partial, path)
            piece = Timeline([(start, start + seconds)])
            reference = Annotation(uri, item.reference.crop(piece).shifted(-start).turns)
            region = Timeline.from_array(item.uem.intersection(piece).bounds - start)
            items.append(Item(uri, path, reference, region))
    return items


VARIANTS = {
    "default": {},
    "pyannote-3.1-like (step 1, hard, per-chunk CAM++, AHC 0.7)": {
        "segmentation": {"step": 1.0, "decoding": "hard", "threshold": 0.5},
        "embedding": {"mode": "chunk", "fuse": False},
        "clustering": {"method": "ahc", "threshold": 0.7},
        "reconstruction": {"count": "active"}, "reassignment": {"weight": 0.0},
        "postprocess": {"min_duration_off": 0.0, "median_filter": 1}},
    "no reassignment, no median filter (previous defaults)": {
        "reassignment": {"weight": 0.0}, "postprocess": {"median_filter": 1}},
    "AHC only (no VBx)": {"clustering": {"method": "ahc"}},
    "step 1 (trunk)": {"segmentation": {"step": 1.0}},
    "step 2.5, per-chunk CAM++ (no reassignment: it needs the trunk)": {
        "embedding": {"mode": "chunk"}},
    "step 5 (trunk)": {"segmentation": {"step": 5.0}},
}


def evaluate(items: list[Item], hyps: dict[str, Annotation]) -> dict[str, dict[str, float]]:
    refs = {i.uri: i.reference for i in items}
    uem = {i.uri: i.uem for i in items}
    out = {}
    for collar in (0.0, 0.25):
        d = score_corpus(refs, hyps, uem, ScoreSettings(collar=collar)).overall.as_dict()
        out[f"collar {collar:g}"] = d
    return out


def run(config: PipelineConfig, sets: list[str], threads: int,
        save: Path | None = None, oracle_speakers: bool = False,
        repeat: int = 1, against: Path | None = None,
        data: Path | None = None) -> dict[str, object]:
    """Every set ``repeat`` times (pass after pass over all the sets, so that a slow spell
    of the machine hits every set alike); DER from the first pass, RTF the median pass.
    ``data``: the data folder of the named real sets (see `load_set`)."""
    import torch

    from diarefine.stages.pipeline import DiarizationPipeline

    torch.set_num_threads(threads)
    pipeline = DiarizationPipeline.from_pretrained(config)
    loaded = {set_label(name): load_set(name, data) for name in sets}
    sets = list(loaded)
    pipeline(str(next(iter(loaded.values()))[0].audio))  # warm-up, not timed
    seconds: dict[str, list[float]] = {name: [] for name in sets}
    audio: dict[str, float] = {}
    hyps: dict[str, dict[str, Annotation]] = {}
    for rep in range(repeat):
        for name, items in loaded.items():
            spent, length, found = 0.0, 0.0, {}
            for item in items:
                start = time.perf_counter()
                count = len(item.reference.speakers) if oracle_speakers else None
                out = pipeline(str(item.audio), uri=item.uri, num_speakers=count)
                spent += time.perf_counter() - start
                length += out.duration
                found[item.uri] = out.diarization
            seconds[name].append(spent)
            if rep == 0:
                audio[name], hyps[name] = length, found
                if save is not None:
                    for uri, annotation in found.items():
                        write_rttm(save / name / f"{uri}.rttm", annotation)

    def speed(names: list[str]) -> dict[str, object]:
        total = sum(audio[n] for n in names)
        passes = [sum(seconds[n][r] for n in names) / total for r in range(repeat)]
        return {"audio_seconds": total, "rtf": float(np.median(passes)), "rtf_passes": passes}

    results: dict[str, object] = {}
    for name, items in loaded.items():
        results[name] = {"files": len(items), **speed([name]), **evaluate(items, hyps[name])}
        if against is not None:
            results[name]["difference"] = der_interval(items, hyps[name],
                                                       saved(against, name, items))
    pooled_sets = [n for n in sets if n in AMI_SPLITS or n == "sample"]
    if pooled_sets:
        pooled = [item for n in pooled_sets for item in loaded[n]]
        pooled_hyps = {uri: a for n in pooled_sets for uri, a in hyps[n].items()}
        results["AMI+sample"] = {"files": len(pooled), **speed(pooled_sets),
                                 **evaluate(pooled, pooled_hyps)}
        results["AMI+sample"]["md-eval-22"] = mdeval_check(pooled, pooled_hyps)
        results["AMI+sample"]["interval"] = der_interval(pooled, pooled_hyps)
        if against is not None:
            other = {uri: a for n in pooled_sets for uri, a in
                     saved(against, n, loaded[n]).items()}
            results["AMI+sample"]["difference"] = der_interval(pooled, pooled_hyps, other)
        results["AMI+sample"]["by_count"] = corpus_breakdown(
            {i.uri: i.reference for i in pooled}, pooled_hyps,
            {i.uri: i.uem for i in pooled}).as_dict()
    return results


def saved(folder: Path, name: str, items: list[Item]) -> dict[str, Annotation]:
    """The RTTMs an earlier ``--save FOLDER`` run wrote for set ``name`` (a file it
    left without turns counts as an empty diarization)."""
    missing = [i.uri for i in items if not (folder / name / f"{i.uri}.rttm").is_file()]
    if missing:
        raise SystemExit(f"{folder / name} lacks {len(missing)} of the set's RTTMs "
                         f"(e.g. {missing[0]}.rttm): run --save {folder} with this set")
    return {i.uri: read_rttm(folder / name / f"{i.uri}.rttm").get(i.uri, Annotation(i.uri))
            for i in items}


def der_interval(items: list[Item], hyps: dict[str, Annotation],
                 against: dict[str, Annotation] | None = None) -> dict[str, float]:
    """95 % bootstrap interval over the files of the pooled DER at collar 0 (how much of
    a difference on these few recordings is luck of the draw) or, given ``against``, of
    the DER difference to those hypotheses, files resampled in pairs."""
    refs, uem = {i.uri: i.reference for i in items}, {i.uri: i.uem for i in items}
    errors, scored = file_errors(score_corpus(refs, hyps, uem, ScoreSettings(collar=0.0)))
    if against is None:
        return bootstrap_der(errors, scored).as_dict()
    other = file_errors(score_corpus(refs, against, uem, ScoreSettings(collar=0.0)))[0]
    return bootstrap_difference(errors, other, scored).as_dict()


def mdeval_check(items: list[Item], hyps: dict[str, Annotation]) -> dict[str, float] | None:
    """The pooled DER as NIST md-eval-22 itself computes it (if installed), collar 0 and
    0.25, the same UEMs (written with the RTTM's channel so that md-eval uses them)."""
    from diarefine.metrics.mdeval import find_mdeval, run_mdeval

    if find_mdeval() is None:
        return None
    refs = {i.uri: i.reference for i in items}
    uem = {i.uri: i.uem for i in items}
    return {f"collar {c:g}": run_mdeval(refs, hyps, uem, c).overall.der for c in (0.0, 0.25)}


def print_table(results: dict[str, dict]) -> None:
    print(f"{'set':12s} {'files':>5s} {'RTF':>7s} | {'DER c=0':>8s} {'miss':>6s} {'FA':>6s} "
          f"{'conf':>6s} | {'DER c=.25':>9s} {'JER':>6s}")
    for name, r in results.items():
        c0, c25 = r["collar 0"], r["collar 0.25"]
        scored = c0["scored"] or 1.0
        rtf = f"{r['rtf']:.4f}" if "rtf" in r else "-"
        print(f"{name:12s} {r['files']:5d} {rtf:>7s} | {100 * c0['der']:8.2f} "
              f"{100 * c0['miss'] / scored:6.2f} {100 * c0['false_alarm'] / scored:6.2f} "
              f"{100 * c0['confusion'] / scored:6.2f} | {100 * c25['der']:9.2f} "
              f"{100 * c0['jer']:6.2f}")


def strict_backends() -> None:
    """Make a runtime failure fatal: with backend "auto" the pipeline would go on with
    torch after a warning, and the figures measured would silently be torch's."""
    from diarefine.errors import BackendFallbackWarning

    warnings.filterwarnings("error", category=BackendFallbackWarning)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path)
    parser.add_argument("--sets", default="ami-train,ami-dev,ami-test,sample",
                        help="comma-separated set names (ami-train, ami-dev, ami-test, "
                             "sample, simtest, simdev, simdev30) or manifest .jsonl paths")
    add_data_argument(parser)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--save", type=Path, help="write the RTTMs to SAVE/<set>/<uri>.rttm")
    parser.add_argument("--oracle-speakers", action="store_true",
                        help="give the pipeline each reference's number of speakers")
    parser.add_argument("--against", type=Path,
                        help="RTTMs of an earlier --save run: bootstrap the DER difference")
    parser.add_argument("--repeat", type=int, default=1,
                        help="timed passes over the sets; RTF is the median pass")
    args = parser.parse_args()
    strict_backends()
    if args.variants:
        configs = {name: PipelineConfig.from_dict(v) for name, v in VARIANTS.items()}
    else:
        configs = {str(args.config or "defaults"): PipelineConfig.from_toml(args.config)
                   if args.config else PipelineConfig()}
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, torch threads {args.threads}")
    print("DER in % of scored speaker time, overlap scored, UEMs as described in the docstring")
    everything = {}
    for name, config in configs.items():
        results = run(config, args.sets.split(","), args.threads, args.save,
                      args.oracle_speakers, max(1, args.repeat), args.against, args.data)
        oracle = " + num_speakers from the references" if args.oracle_speakers else ""
        print(f"\nconfiguration: {name}{oracle}")
        print_table(results)
        if args.repeat > 1:
            print(f"RTF of each of the {args.repeat} passes (the table gives the median):")
            for set_name, r in results.items():
                print(f"  {set_name:12s} " + " ".join(f"{v:.4f}" for v in r["rtf_passes"]))
        if args.against:
            print(f"DER at collar 0 minus that of {args.against} (95 % paired bootstrap "
                  f"interval over the files):")
            for set_name, r in results.items():
                diff = r["difference"]
                print(f"  {set_name:12s} {100 * diff['value']:+6.2f} points "
                      f"({100 * diff['low']:+.2f} to {100 * diff['high']:+.2f})")
        check = results.get("AMI+sample", {}).get("md-eval-22")
        if check:
            print("AMI+sample scored by md-eval-22.pl itself: " + ", ".join(
                f"{k} {100 * v:.2f} %" for k, v in check.items()))
        if "AMI+sample" in results:
            band = results["AMI+sample"]["interval"]
            print(f"AMI+sample DER at collar 0, 95 % bootstrap interval over its "
                  f"{results['AMI+sample']['files']} files ({band['draws']} resamples): "
                  f"{100 * band['low']:.2f}-{100 * band['high']:.2f} %")
            counts = CountBreakdown(**{k: np.asarray(v) for k, v in
                                       results["AMI+sample"]["by_count"].items()})
            print("\nAMI+sample at collar 0 by number of speakers talking at once:")
            print(count_text(counts))
        everything[name] = {"config": config.to_dict(), "results": results}
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
