"""Refinements applied to stored pipeline outputs, and their scores: what the abstention
threshold is chosen by (selection sets) and what the benchmark reports (held-out sets).

Applying a refiner's corrections here is exactly what the pipeline stage does
(`~diarefine.stages.refinement.learned.LearnedRefiner`): the same boundaries of the same
system output, the same windows, the same `apply_moves` with change points linked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from diarefine.core.annotation import Annotation
from diarefine.metrics import ScoreSettings, score_corpus
from diarefine.stages.refinement.activity import ActivitySettings, activity_edits
from diarefine.stages.refinement.edits import apply_moves, boundaries_of, change_links
from diarefine.train.dataset import RefinerData


def refined_outputs(data: RefinerData, moves: NDArray[np.float64],
                    rows: Sequence[int] | None = None,
                    activity: tuple[NDArray, ActivitySettings] | None = None
                    ) -> dict[str, Annotation]:
    """Each recording's system output with ``moves`` (n,) seconds applied to its stored
    boundaries (0: unmoved; NaN: abstained), then the activity edits of ``activity``
    (probabilities (n, W, 2), settings) where given, cut at the end of its scoring region
    (the pipeline cuts at the end of the audio; the UEMs of the sets here cover whole
    files)."""
    out = {}
    chosen = range(len(data.recordings)) if rows is None else rows
    for r in chosen:
        rec = data.recordings[r]
        bounds = boundaries_of(rec.system)
        mine = np.flatnonzero(data.recording == r)
        asked = {int(data.index[i]): float(moves[i]) for i in mine
                 if np.isfinite(moves[i]) and moves[i] != 0.0}
        refined = apply_moves(bounds, asked, change_links(bounds)) if asked else rec.system
        end = float(rec.uem.bounds[-1, 1]) if rec.uem is not None and len(rec.uem.bounds) \
            else None
        edit = activity is not None and activity[1].active and len(mine) > 0
        if edit:
            assert activity is not None and data.partner is not None
            refined = activity_edits(refined, data.time[mine],
                                     [bounds.speakers[j] for j in data.index[mine]],
                                     list(data.partner[mine]), activity[0][mine], activity[1],
                                     end)
        if (asked or edit) and end is not None:
            refined = refined.with_turns(type(t)(t.start, min(t.end, end), t.speaker)
                                         for t in refined.turns if t.start < end)
        out[rec.uri] = refined
    return out


def der_of(data: RefinerData, hypotheses: dict[str, Annotation], collar: float = 0.0,
           rows: Sequence[int] | None = None) -> float:
    """Pooled DER (%) of ``hypotheses`` on the recordings ``rows`` of ``data`` (all by
    default), each with its UEM, overlap scored, ``collar`` per side."""
    chosen = range(len(data.recordings)) if rows is None else rows
    recs = [data.recordings[r] for r in chosen]
    result = score_corpus({r.uri: r.reference for r in recs},
                          {r.uri: hypotheses[r.uri] for r in recs},
                          {r.uri: r.uem for r in recs if r.uem is not None},
                          ScoreSettings(collar=collar))
    return 100 * result.overall.der.der


def der_by_source(data: RefinerData, hypotheses: dict[str, Annotation]
                  ) -> tuple[float, dict[str, float]]:
    """The pooled DER (%) of all the recordings of ``data`` and that of each source
    (input set), as `der_of`, from one scoring."""
    from functools import reduce

    from diarefine.metrics.der import DerComponents

    recs = data.recordings
    result = score_corpus({r.uri: r.reference for r in recs},
                          {r.uri: hypotheses[r.uri] for r in recs},
                          {r.uri: r.uem for r in recs if r.uem is not None}, ScoreSettings())
    per_source = {}
    for source in data.sources:
        parts = [result.files[r.uri].scores.der for r in recs if r.source == source]
        per_source[source] = 100 * reduce(lambda a, b: a + b, parts, DerComponents()).der
    return 100 * result.overall.der.der, per_source
