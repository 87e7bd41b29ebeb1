"""The hysteresis baseline of the refiners: onset/offset thresholds of the speech and
overlap decisions, chosen on the selection sets, reported on the held-out sets.

    python benchmarks/hysteresis_baseline.py [--data benchmarks/data]

``[reconstruction] speech_off_threshold`` / ``overlap_off_threshold`` give the powerset
count hysteresis: speech (a further speaker) starts where its probability exceeds the
threshold above and lasts until it falls below the lower one. Each recording of the
selection sets (simulated dev + AMI dev) and of the held-out sets (simulated test, AMI
test, the pyannote sample) is diarized once by the default pipeline without refiner; its
segmentation, chunk assignment, speaker centroids and window embeddings are kept, and
every setting replays the stages after them (reconstruction, reassignment,
post-processing), which the script checks gives the pipeline's own output at the default
setting. At any other setting the replay is an approximation: the pipeline picks the
single-speaker windows it embeds for the reassignment from the count, and the replay keeps
the default count's windows (re-embedding them would cost the CAM++ trunk pass again).
So the setting it chooses is then run by the real pipeline (``diarefine benchmark
--config benchmarks/configs/thresholds-baseline.toml``), whose figures are the ones to
quote (docs/refinement.md). The search is coordinate-wise on the pooled selection DER
(collar 0, overlap scored, each recording's UEM): the speech pair with the overlap
decision as it is, then the overlap pair. The best setting is compared with the defaults
on the held-out sets with the 95 % paired bootstrap interval.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from paths import GENERATED
from postprocess_baselines import SETS, compared, diarized

from diarefine.config import PipelineConfig, RefinerConfig
from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.metrics import ScoreSettings, score_corpus
from diarefine.stages.clustering.assign import assign_chunks
from diarefine.stages.pipeline import DiarizationPipeline, _clip
from diarefine.stages.reassign import reassign
from diarefine.stages.reconstruction import reconstruct

SPEECH = [(on, round(on - d, 2)) for on in (0.5, 0.6, 0.7, 0.8, 0.9) for d in (0.0, 0.1, 0.2)]
OVERLAP = [(on, round(on - d, 2)) for on in (0.3, 0.4, 0.5, 0.6, 0.7) for d in (0.0, 0.1, 0.2)]


@dataclass
class Kept:
    """What a setting replays from, for one recording."""

    uri: str
    reference: Annotation
    uem: Timeline | None
    duration: float
    scores: object  # ChunkScores
    assignment: np.ndarray
    centroids: np.ndarray
    windows: object  # WindowEmbeddings
    output: Annotation  # the pipeline's own


def keep(pipeline: DiarizationPipeline, manifests: list[Path]) -> list[Kept]:
    out = []
    for rec, ref, uem, result, seen in diarized(pipeline, manifests):
        assignment, centroids = assign_chunks(seen["embeddings"], seen["clustering"])
        assert np.array_equal(assignment, seen["assignment"]), rec.uri
        out.append(Kept(rec.uri, ref, uem, result.duration, seen["segmentation"], assignment,
                        centroids, seen["windows"], result.diarization))
    return out


def replay(pipeline: DiarizationPipeline, items: list[Kept], recon: object) -> dict:
    hyps = {}
    for k in items:
        frames = reconstruct(k.scores, k.assignment, len(k.centroids), k.duration, None,
                             **vars(recon))
        frames = reassign(frames, k.windows, k.centroids, pipeline.reassignment)
        names = [f"SPEAKER_{s:02d}" for s in range(len(k.centroids))]
        hyps[k.uri] = _clip(pipeline.postprocessor(frames, k.uri, names)[0], k.duration)
    return hyps


def score(items: list[Kept], hyps: dict) -> object:
    return score_corpus({k.uri: k.reference for k in items}, hyps,
                        {k.uri: k.uem for k in items if k.uem is not None},
                        ScoreSettings(collar=0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=GENERATED,
                        help="folder of the selection and held-out manifests "
                             "(benchmarks/make_refiner_sets.py writes them)")
    args = parser.parse_args()
    config = PipelineConfig().replace(refiner=RefinerConfig("none"))
    pipeline = DiarizationPipeline.from_pretrained(config)
    default = pipeline.reconstruction
    items = {name: keep(pipeline, [args.data / m for m in files])
             for name, files in SETS.items()}
    same = replay(pipeline, items["select"], default)
    assert all(same[k.uri] == k.output for k in items["select"]), "replay differs"

    def selection_der(recon: object) -> float:
        return 100 * score(items["select"], replay(pipeline, items["select"], recon)
                           ).overall.der.der

    base = selection_der(default)
    print(f"selection DER, defaults (speech {default.speech_threshold}, overlap "
          f"{default.overlap_threshold}, no hysteresis): {base:.2f} %")
    best, best_der = default, base
    for name, grid in (("speech", SPEECH), ("overlap", OVERLAP)):
        for on, off in grid:
            recon = dataclasses.replace(best, **{f"{name}_threshold": on,
                                                 f"{name}_off_threshold": off})
            der = selection_der(recon)
            print(f"  {name} on {on} off {off}: {der:.2f} %")
            if der < best_der - 1e-9:
                best, best_der = recon, der
    print("(replayed with the default count's reassignment windows: an approximation; "
          "run the chosen setting through the pipeline for its figures)")
    print(f"best on selection: speech {best.speech_threshold}/{best.speech_off_threshold}, "
          f"overlap {best.overlap_threshold}/{best.overlap_off_threshold}: {best_der:.2f} %")
    for name in ("simdev", "ami-dev"):  # the two selection sets apart (not used to choose)
        part = [k for k in items["select"] if k.uri.startswith("dev") == (name == "ami-dev")]
        a = score(part, replay(pipeline, part, best))
        b = score(part, {k.uri: k.output for k in part})
        print(f"{name} ({len(part)} recordings): defaults {100 * b.overall.der.der:.2f} %, "
              f"best {100 * a.overall.der.der:.2f} %")
    for name in ("simtest", "ami-test+sample"):
        print(compared(name, score(items[name], replay(pipeline, items[name], best)),
                       score(items[name], {k.uri: k.output for k in items[name]})))


if __name__ == "__main__":
    main()
