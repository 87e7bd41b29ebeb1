"""Score system RTTMs against references: per file and overall, every metric at once.

* DER and its components exactly as md-eval-22 (:mod:`diarefine.metrics.der`); the
  overall DER comes from summed components.
* JER (dscore), B3, MI and NMI on 10 ms frames of the evaluated region, no collar, no
  overlap removal (:mod:`~diarefine.metrics.jer`, :mod:`~diarefine.metrics.clustering`).

Files are matched on their uri. A reference without a system output is scored against
an empty one (all miss), as md-eval does. A system output without a reference is
reported and not scored: md-eval iterates over reference files only, even when a UEM
lists the file. UEM lines are matched on the uri; a channel that differs from the
reference's is reported (md-eval would silently ignore that UEM). A reference without a
UEM line is scored over md-eval's default region (first to last reference time).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import reduce

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.errors import DiarefineWarning
from diarefine.io.uem import Uem
from diarefine.metrics.clustering import ClusteringCounts, contingency
from diarefine.metrics.der import DerComponents, diarization_error
from diarefine.metrics.frames import DEFAULT_STEP, frame_counts, label_codes
from diarefine.metrics.jer import JerDetail, jer_detail, overall_jer

METRIC_KEYS = ("der", "miss", "false_alarm", "confusion", "scored", "jer",
               "b3_precision", "b3_recall", "b3_f1", "mi", "nmi")


@dataclass(frozen=True)
class ScoreSettings:
    collar: float = 0.0
    skip_overlap: bool = False
    step: float = DEFAULT_STEP


@dataclass(frozen=True)
class Scores:
    """All metrics of one file or of a whole set (see :data:`METRIC_KEYS`)."""

    der: DerComponents
    jer: float
    clustering: ClusteringCounts

    def as_dict(self) -> dict[str, float | None]:
        """Rates as fractions, times in seconds; NaN becomes None (JSON null)."""
        b3 = self.clustering.b3
        mi, nmi = self.clustering.mi_nmi
        values = {
            "der": self.der.der, "miss": self.der.miss, "false_alarm": self.der.false_alarm,
            "confusion": self.der.confusion, "scored": self.der.scored, "jer": self.jer,
            "b3_precision": b3[0], "b3_recall": b3[1], "b3_f1": b3[2], "mi": mi, "nmi": nmi,
        }
        return {k: (None if math.isnan(v) else float(v)) for k, v in values.items()}


def with_rates(values: Mapping[str, float | None]) -> dict[str, float | None]:
    """`Scores.as_dict` (component times in seconds) plus each component as a fraction of
    the scored time: ``miss_rate``, ``false_alarm_rate``, ``confusion_rate`` (None when
    nothing was scored)."""
    out = dict(values)
    scored = values["scored"] or 0.0
    for key in ("miss", "false_alarm", "confusion"):
        out[f"{key}_rate"] = values[key] / scored if scored > 0 else None  # type: ignore[operator]
    return out


@dataclass(frozen=True)
class FileScore:
    uri: str
    scores: Scores
    mapping: dict[str, str]
    jer_detail: JerDetail


@dataclass(frozen=True)
class ScoreReport:
    files: dict[str, FileScore]
    overall: Scores
    settings: ScoreSettings
    missing_hypothesis: tuple[str, ...] = ()
    missing_reference: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "overall": self.overall.as_dict(),
            "files": {uri: f.scores.as_dict() for uri, f in sorted(self.files.items())},
        }


def score_file(
    reference: Annotation,
    hypothesis: Annotation,
    uem: Timeline | None = None,
    settings: ScoreSettings = ScoreSettings(),
) -> FileScore:
    """Every metric of one recording."""
    result = diarization_error(reference, hypothesis, uem, settings.collar, settings.skip_overlap)
    sweep = result.sweep
    frames = frame_counts(sweep.cuts, settings.step) * sweep.inside(result.regions.evaluated)
    detail = jer_detail(sweep.ref, sweep.hyp, frames)
    cm = contingency(label_codes(sweep.ref), label_codes(sweep.hyp), frames)
    counts = ClusteringCounts.from_contingency(cm)
    return FileScore(reference.uri, Scores(result.components, detail.jer, counts),
                     result.mapping, detail)


def _listed(uris: list[str]) -> str:
    shown = ", ".join(uris[:5])
    return shown + (f" and {len(uris) - 5} more" if len(uris) > 5 else "")


def file_notes(
    references: Mapping[str, Annotation],
    hypotheses: Mapping[str, Annotation],
    uem: Mapping[str, Timeline] | None,
    without_system: str = "no system output; scored as all missed speech",
    without_reference: str = "system output without reference; not scored (as md-eval)",
) -> list[str]:
    """One note per kind of mismatch between references, system outputs and UEM, naming
    the files (the rules of :func:`paired_files`)."""
    groups: dict[str, list[str]] = {}

    def add(message: str, uri: str) -> None:
        groups.setdefault(message, []).append(uri)

    for uri in sorted(set(references) - set(hypotheses)):
        add(without_system, uri)
    for uri in sorted(set(hypotheses) - set(references)):
        add(without_reference, uri)
    for uri in sorted(set(references) & set(hypotheses)):
        ref_ch, hyp_ch = references[uri].channel, hypotheses[uri].channel
        if ref_ch.lower() != hyp_ch.lower():
            add(f"reference channel {ref_ch!r} differs from the system's {hyp_ch!r}; "
                "matched on the uri", uri)
    if uem is not None:
        channels = uem.channels if isinstance(uem, Uem) else {}
        for uri in sorted(references):
            ref_ch = references[uri].channel
            if uri not in uem:
                add("no UEM line; scored over md-eval's default region", uri)
            elif uri in channels and channels[uri].lower() != ref_ch.lower():
                add(f"UEM channel {channels[uri]!r} differs from the reference channel "
                    f"{ref_ch!r}; UEM used anyway (md-eval would silently ignore it)", uri)
    return [f"{message}: {_listed(uris)}" for message, uris in groups.items()]


def paired_files(
    references: Mapping[str, Annotation],
    hypotheses: Mapping[str, Annotation],
    uem: Mapping[str, Timeline] | None,
) -> Iterator[tuple[Annotation, Annotation, Timeline | None]]:
    """(reference, system output, UEM region or None) of every reference uri, sorted.

    A reference without system output is paired with an empty one; a system output
    without reference is left out, as md-eval iterates over references only.
    """
    for uri in sorted(references):
        hypothesis = hypotheses.get(uri, Annotation(uri, (), references[uri].channel))
        yield references[uri], hypothesis, (uem.get(uri) if uem is not None else None)


def score_corpus(
    references: Mapping[str, Annotation],
    hypotheses: Mapping[str, Annotation],
    uem: Mapping[str, Timeline] | None = None,
    settings: ScoreSettings = ScoreSettings(),
) -> ScoreReport:
    """Score every reference uri; warns (DiarefineWarning) about each mismatch."""
    notes = file_notes(references, hypotheses, uem)
    for note in notes:
        warnings.warn(note, DiarefineWarning, stacklevel=2)
    files = {ref.uri: score_file(ref, hyp, region, settings)
             for ref, hyp, region in paired_files(references, hypotheses, uem)}
    overall = Scores(
        reduce(lambda a, b: a + b, (f.scores.der for f in files.values()), DerComponents()),
        overall_jer(f.jer_detail for f in files.values()),
        reduce(lambda a, b: a + b, (f.scores.clustering for f in files.values()),
               ClusteringCounts()),
    )
    return ScoreReport(
        files, overall, settings,
        missing_hypothesis=tuple(sorted(set(references) - set(hypotheses))),
        missing_reference=tuple(sorted(set(hypotheses) - set(references))),
        notes=tuple(notes),
    )
