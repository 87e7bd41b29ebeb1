"""Boundary refiners judged on the pipeline's real output: the issue's evaluation table.

    python benchmarks/refiners.py [--data DIR] [--refiners none,shift,mlp,...]
                                  [--json OUT] [--plot DIR] [--verify N]

Reads the refiner-data files that ``diarefine refiner-data`` wrote (``DIR/select.h5``:
simulated dev + AMI dev, the selection sets; ``DIR/heldout.h5``: simulated test, AMI
test and the pyannote sample, report only; or the shard folders ``DIR/select/`` and
``DIR/heldout/``), which hold the default pipeline's output of
every recording and, for each of its boundaries, the window a refiner reads. Every
refiner is applied as the pipeline stage applies it (the same windows, the same
`apply_moves` with change points linked), to the same files, in one run.

Per set (and AMI test + sample pooled), rows: the unrefined baseline, each refiner, the
oracle (every matched boundary moved onto its reference boundary: the ceiling of moving
boundaries) and oracle-activity (inside ±1 s of every system boundary each system speaker
copies its mapped reference speaker: the ceiling of the activity edits); columns: boundary
error of the matched boundaries (``diarefine boundaries``: DER's speaker mapping, one-to-
one matching within 0.5 s; mean, median, share within 50 / 100 / 200 ms), DER at collar 0
and 0.25 s per side (overlap scored, md-eval semantics, each recording's UEM), the DER
difference to the baseline with its 95 % paired bootstrap interval over the files, and
the gate verdict on the boundary-error cut (> 10 %: continue; 5-10 %: marginal; < 5 %:
stop). Then, for ``--analyse`` (default: the first learned refiner listed), where it
helps and where it hurts: by kind and direction, and by the size of the original error
(its boundary moves); for a refiner with activity edits, what they add to its moves (DER
components, seconds added and cut).
``--verify N`` runs the real pipeline with that refiner on N held-out recordings and
checks that its output equals the table's.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from paths import REPO

from diarefine.metrics import ScoreSettings, score_corpus
from diarefine.metrics.bootstrap import bootstrap_difference, file_errors
from diarefine.metrics.boundaries import analyze_boundaries
from diarefine.stages.refinement import LEARNED, ShiftRefiner, build_refiner
from diarefine.stages.refinement.edits import boundaries_of, change_links, effective_moves
from diarefine.stages.refinement.oracle import activity_oracle, oracle_refine
from diarefine.train.baselines import shift_moves
from diarefine.train.dataset import RefinerData, read_refiner_data
from diarefine.train.evaluate import refined_outputs

SETS = {  # name -> (file, sources)
    "simdev (select)": ("select.h5", ("simdev",)),
    "ami-dev (select)": ("select.h5", ("ami-dev",)),
    "simtest": ("heldout.h5", ("simtest",)),
    "ami-test": ("heldout.h5", ("ami-test",)),
    "sample": ("heldout.h5", ("sample",)),
    "ami-test+sample": ("heldout.h5", ("ami-test", "sample")),
}
BUCKETS = (50, 100, 200)
#: where the activity edits are analysed: (file, sources)
ACTIVITY_SETS = (("select.h5", ("simdev",)), ("select.h5", ("ami-dev",)),
                 ("heldout.h5", ("simtest",)), ("heldout.h5", ("ami-test", "sample")))


@dataclass
class Row:
    name: str
    mae: float
    median: float
    within: tuple[float, ...]
    matched: int
    der: float
    der25: float
    diff: dict[str, float] | None
    cut: float

    def verdict(self) -> str:
        if self.name in ("baseline", "oracle", "oracle-activity"):
            return ""
        return "continue" if self.cut > 10 else "marginal" if self.cut >= 5 else "stop"


@dataclass
class Edits:
    """What refiner ``name`` does to the stored boundaries: ``moves`` (n,) seconds (NaN:
    abstains) and, with an activity head, (probabilities (n, W, 2), settings)."""

    moves: np.ndarray
    activity: tuple | None = None


def edits_of(name: str, data: RefinerData) -> Edits:
    if name == "none":
        return Edits(np.zeros(len(data)))
    refiner = build_refiner(name)
    if isinstance(refiner, ShiftRefiner):
        return Edits(shift_moves(data, refiner.shifts))
    offset, confidence, probs = refiner.predict_all(  # type: ignore[attr-defined]
        data.frames, data.static)
    moves = np.where(confidence >= refiner.abstain, offset, np.nan)  # type: ignore[attr-defined]
    return Edits(moves, None if probs is None else (probs, refiner.activity))  # type: ignore[attr-defined]


def outputs_of(data: RefinerData, edits: Edits, rows: list[int]) -> dict:
    return refined_outputs(data, edits.moves, rows, edits.activity)


def evaluate(data: RefinerData, rows: list[int], outputs: dict, base: dict | None) -> Row:
    recs = [data.recordings[r] for r in rows]
    refs = {r.uri: r.reference for r in recs}
    uems = {r.uri: r.uem for r in recs if r.uem is not None}
    hyps = {r.uri: outputs[r.uri] for r in recs}
    scores = [score_corpus(refs, hyps, uems, ScoreSettings(collar=c)) for c in (0.0, 0.25)]
    stats = analyze_boundaries(refs, hyps, uems).overall
    diff = None
    if base is not None:
        errors, scored = file_errors(scores[0])
        base_errors, _ = file_errors(score_corpus(refs, {u: base[u] for u in refs}, uems,
                                                  ScoreSettings(collar=0.0)))
        interval = bootstrap_difference(errors, base_errors, scored)
        diff = {k: 100 * v for k, v in interval.as_dict().items() if k in ("value", "low", "high")}
    return Row("", stats.mean_abs_ms, stats.median_abs_ms,
               tuple(100 * stats.within[b] for b in BUCKETS), stats.matched,
               100 * scores[0].overall.der.der, 100 * scores[1].overall.der.der, diff, 0.0)


def table(name: str, data: RefinerData, sources: tuple[str, ...], refiners: list[str],
          edits: dict[str, Edits]) -> list[Row]:
    rows = [r for r, rec in enumerate(data.recordings) if rec.source in sources]
    base = {data.recordings[r].uri: data.recordings[r].system for r in rows}
    out = []
    for refiner in ["none", *refiners, "oracle", "oracle-activity"]:
        if refiner in ("oracle", "oracle-activity"):
            ceiling = oracle_refine if refiner == "oracle" else activity_oracle
            outputs = {data.recordings[r].uri: ceiling(
                data.recordings[r].reference, data.recordings[r].system,
                data.recordings[r].uem) for r in rows}
        else:
            outputs = outputs_of(data, edits[refiner], rows)
        row = evaluate(data, rows, outputs, None if refiner == "none" else base)
        row.name = "baseline" if refiner == "none" else refiner
        out.append(row)
    for row in out:
        row.cut = 100 * (1 - row.mae / out[0].mae) if out[0].mae else 0.0
    print(f"\n{name}: {len(rows)} recordings")
    print(f"{'refiner':<20} {'MAE ms':>7} {'median':>7} {'@50':>5} {'@100':>5} {'@200':>5} "
          f"{'matched':>7} {'DER c0':>7} {'c0.25':>6}  {'dDER c0 [95 % CI]':<24} {'cut %':>6} gate")
    for r in out:
        d = (f"{r.diff['value']:+.2f} [{r.diff['low']:+.2f}, {r.diff['high']:+.2f}]"
             if r.diff else "")
        print(f"{r.name:<20} {r.mae:7.1f} {r.median:7.1f} {r.within[0]:5.1f} {r.within[1]:5.1f} "
              f"{r.within[2]:5.1f} {r.matched:7d} {r.der:7.2f} {r.der25:6.2f}  {d:<24} "
              f"{r.cut:6.1f} {r.verdict()}")
    return out


def analysis(data: RefinerData, sources: tuple[str, ...], moves: np.ndarray, name: str,
             plot: Path | None) -> dict:
    """Where refiner ``name`` helps and hurts on the matched boundaries of ``sources``:
    by kind and direction and by the size of the original error (the move each boundary
    really got, change points linked)."""
    from diarefine.train.baselines import groups_of

    rows = [r for r, rec in enumerate(data.recordings) if rec.source in sources]
    applied = np.zeros(len(data))
    for r in rows:
        bounds = boundaries_of(data.recordings[r].system)
        mine = np.flatnonzero(data.recording == r)
        asked = {int(data.index[i]): float(moves[i]) for i in mine if np.isfinite(moves[i])}
        delta = effective_moves(len(bounds), asked, change_links(bounds))
        applied[mine] = delta[data.index[mine]]
    keep = np.isin(data.recording, rows) & data.matched
    before = 1000 * np.abs(data.offset[keep])
    after = 1000 * np.abs(data.offset[keep] - applied[keep])
    groups = np.array([f"{k}/{d}" for k, d in groups_of(data)])[keep]
    out: dict = {"by_group": {}, "by_error": {}}
    print(f"\nwhere {name} helps and hurts ({', '.join(sources)}; matched boundaries, "
          f"error against the originally matched reference boundary)")
    print(f"{'group':<18} {'n':>5} {'MAE before':>10} {'after':>7} {'better':>7} {'worse':>6}")

    def line(label: str, mask: np.ndarray) -> dict:
        n = int(mask.sum())
        entry = {"n": n, "before": float(before[mask].mean()) if n else float("nan"),
                 "after": float(after[mask].mean()) if n else float("nan"),
                 "better": int((after[mask] < before[mask] - 1e-6).sum()),
                 "worse": int((after[mask] > before[mask] + 1e-6).sum())}
        print(f"{label:<18} {n:5d} {entry['before']:10.1f} {entry['after']:7.1f} "
              f"{entry['better']:7d} {entry['worse']:6d}")
        return entry

    for group in sorted(set(groups)):
        out["by_group"][group] = line(group, groups == group)
    edges = (0, 50, 100, 200, 500)
    for lo, hi in zip(edges, edges[1:]):
        out["by_error"][f"{lo}-{hi}"] = line(f"orig {lo}-{hi} ms", (before >= lo) & (before < hi))
    out["all"] = line("all", np.ones(len(before), bool))
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plot.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(before, after, s=4, alpha=0.4)
        ax.plot([0, 500], [0, 500], color="grey", linewidth=1)
        ax.set_xlabel("|error| before (ms)")
        ax.set_ylabel(f"|error| after {name} (ms)")
        ax.set_title(f"{name} on {'+'.join(sources)}")
        fig.tight_layout()
        fig.savefig(plot / f"{name}-{'+'.join(sources)}.png", dpi=120)
        plt.close(fig)
    return out


def activity_analysis(data: RefinerData, sources: tuple[str, ...], edits: Edits, name: str
                      ) -> dict:
    """What the activity edits of refiner ``name`` add to its boundary moves on the
    recordings of ``sources``: DER components (% of the scored speech, collar 0) of the
    output before refinement, with the moves only, and with the moves and the edits, and
    the speaker-seconds the edits added and cut."""
    rows = [r for r, rec in enumerate(data.recordings) if rec.source in sources]
    recs = [data.recordings[r] for r in rows]
    refs = {r.uri: r.reference for r in recs}
    uems = {r.uri: r.uem for r in recs if r.uem is not None}
    stages = {"before refinement": {r.uri: r.system for r in recs},
              "moves only": outputs_of(data, Edits(edits.moves), rows),
              "moves + activity": outputs_of(data, edits, rows)}
    print(f"\nwhat {name}'s activity edits do ({', '.join(sources)}; DER components in % "
          f"of the scored speech, collar 0)")
    print(f"{'output':<18} {'DER':>6} {'miss':>6} {'FA':>6} {'conf':>6} {'added s':>8} "
          f"{'cut s':>7}")
    out = {}
    for label, hyps in stages.items():
        der = score_corpus(refs, hyps, uems, ScoreSettings(collar=0.0)).overall.der
        added = cut = 0.0
        if label == "moves + activity":
            for uri, hyp in hyps.items():
                moved = stages["moves only"][uri]
                for speaker in set(hyp.speakers) | set(moved.speakers):
                    new, old = hyp.speaker_timeline(speaker), moved.speaker_timeline(speaker)
                    added += new.difference(old).duration()
                    cut += old.difference(new).duration()
        out[label] = {"der": 100 * der.der, "miss": 100 * der.miss / der.scored,
                      "false_alarm": 100 * der.false_alarm / der.scored,
                      "confusion": 100 * der.confusion / der.scored,
                      "added_s": added, "cut_s": cut}
        e = out[label]
        print(f"{label:<18} {e['der']:6.2f} {e['miss']:6.2f} {e['false_alarm']:6.2f} "
              f"{e['confusion']:6.2f} {added:8.1f} {cut:7.1f}")
    return out


def head_diagnostics(data: RefinerData, sources: tuple[str, ...], edits: Edits) -> dict:
    """How the activity head sees the central ±1 s of the windows of ``sources`` that the
    edits use, against its targets: of the frames where the reference speaker speaks and
    the output is silent (missed), the share the head puts at or above 0.5 and 0.9; of the
    frames where the output speaks and the reference speaker does not (false), the share at
    or below 0.4; of the frames where both speak, the share at or below 0.4 (right speech
    a cut at 0.4 would remove)."""
    from diarefine.stages.refinement.activity import REACH
    from diarefine.stages.refinement.features import CHANNELS, HALF
    from diarefine.train.activity import activity_targets

    assert edits.activity is not None
    rows = np.flatnonzero(np.isin([data.recordings[r].source for r in data.recording], sources))
    part = data.subset(rows)
    target, mask = activity_targets(part)
    central = slice(HALF - REACH, HALF + REACH + 1)
    probs = edits.activity[0][rows][:, central]
    target, mask = target[:, central] > 0.5, mask[:, central]
    output = np.stack([part.frames[:, central, CHANNELS.index(c)] for c in ("sys_a", "sys_b")],
                      axis=-1) > 0.5
    missed, false, right = mask & target & ~output, mask & ~target & output, mask & target & output
    out = {"frames": int(mask.sum()), "missed_share": float(missed.sum() / mask.sum()),
           "missed_at_0.5": float(np.mean(probs[missed] >= 0.5)),
           "missed_at_0.9": float(np.mean(probs[missed] >= 0.9)),
           "false_share": float(false.sum() / mask.sum()),
           "false_at_0.4": float(np.mean(probs[false] <= 0.4)),
           "right_at_0.4": float(np.mean(probs[right] <= 0.4))}
    print(f"{'+'.join(sources):<18} {out['frames']:8d} {100 * out['missed_share']:7.1f} "
          f"{100 * out['missed_at_0.5']:8.1f} {100 * out['missed_at_0.9']:8.1f} "
          f"{100 * out['false_share']:7.1f} {100 * out['false_at_0.4']:8.1f} "
          f"{100 * out['right_at_0.4']:8.1f}")
    return out


def verify(data: RefinerData, name: str, count: int) -> None:
    """The real pipeline with refiner ``name`` on ``count`` held-out recordings gives the
    outputs this table scores, within a millisecond (data files written before 2026-12-03
    15:30 hold float16 windows: against the pipeline's float32 a correction then moves by
    up to 3 ms)."""
    from diarefine.config import PipelineConfig, RefinerConfig
    from diarefine.data.manifest import read_manifest
    from diarefine.stages.pipeline import DiarizationPipeline, _clip

    audio = {r.uri: r.audio for m in (REPO / "benchmarks" / "data").glob("**/*.jsonl")
             for r in read_manifest(m)}
    pipeline = DiarizationPipeline.from_pretrained(PipelineConfig(refiner=RefinerConfig(name)))
    edits = edits_of(name, data)
    for r, rec in enumerate(data.recordings[:count]):
        out = pipeline(audio[rec.uri], uri=rec.uri)
        got = out.diarization
        expected = _clip(outputs_of(data, edits, [r])[rec.uri], out.duration)
        same = len(got.turns) == len(expected.turns) and all(
            a.speaker == b.speaker and abs(a.start - b.start) < 1e-3 and abs(a.end - b.end) < 1e-3
            for a, b in zip(got.turns, expected.turns))
        print(f"verify {name} on {rec.uri}: {'same' if same else 'DIFFERENT'} "
              f"({len(got.turns)} turns)")
        if not same:
            raise SystemExit(1)


def data_file(folder: Path, name: str) -> Path:
    """``folder/select.h5``, or the shard folder ``folder/select/`` (its index.json)."""
    shards = folder / Path(name).stem / "index.json"
    return shards if not (folder / name).exists() and shards.exists() else folder / name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "benchmarks" / "data" / "refiner")
    parser.add_argument("--refiners", default="shift," + ",".join(LEARNED))
    parser.add_argument("--analyse", default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--verify", type=int, default=0)
    args = parser.parse_args()
    refiners = [r for r in args.refiners.split(",") if r]
    available = [r for r in refiners if r == "shift" or (REPO / "src" / "diarefine" / "weights"
                                                         / "refiners" / f"{r}.safetensors"
                                                         ).is_file() or r.endswith(".safetensors")]
    for missing in sorted(set(refiners) - set(available)):
        print(f"(no checkpoint of {missing}: not in the table)")
    files = {f: read_refiner_data([data_file(args.data, f)]) for f in ("select.h5", "heldout.h5")}
    edits = {f: {r: edits_of(r, d) for r in ["none", *available]} for f, d in files.items()}
    report: dict = {"sets": {}}
    for name, (file, sources) in SETS.items():
        rows = table(name, files[file], sources, available, edits[file])
        report["sets"][name] = [r.__dict__ for r in rows]
    learned = [r for r in available if r != "shift"]
    target = args.analyse or (learned[0] if learned else None)
    if target:
        for sources in (("simtest",), ("ami-test", "sample")):
            report.setdefault("analysis", {})["+".join(sources)] = analysis(
                files["heldout.h5"], sources, edits["heldout.h5"][target].moves, target,
                args.plot)
        if edits["heldout.h5"][target].activity is not None:
            for file, sources in ACTIVITY_SETS:
                report.setdefault("activity", {})["+".join(sources)] = activity_analysis(
                    files[file], sources, edits[file][target], target)
            print(f"\nthe activity head in the central ±1 s of the windows (% of frames)\n"
                  f"{'set':<18} {'frames':>8} {'missed':>7} {'>=0.5':>8} {'>=0.9':>8} "
                  f"{'false':>7} {'<=0.4':>8} {'right<=0.4':>10}")
            for file, sources in ACTIVITY_SETS:
                report.setdefault("head", {})["+".join(sources)] = head_diagnostics(
                    files[file], sources, edits[file][target])
        if args.verify:
            verify(files["heldout.h5"], target, args.verify)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
