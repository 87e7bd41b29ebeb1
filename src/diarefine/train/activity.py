"""The activity head's targets (from the references, never synthetic) and the choice of
the activity edits' thresholds on the selection sets.

For every stored window, frame ``k`` at ``time + (k - HALF) * RATE``: the target of
column A (the boundary's speaker) and B (the window's other speaker) is whether the
reference speaker DER's mapping gives that system speaker speaks there (a system speaker
the mapping leaves out should be silent: target 0). The mask leaves out frames outside
the scoring region and column B where the window has no B.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from diarefine.errors import DiarefineError
from diarefine.metrics.der import diarization_error
from diarefine.stages.refinement.activity import ActivitySettings
from diarefine.stages.refinement.edits import boundaries_of
from diarefine.stages.refinement.features import HALF, RATE, covered, speaker_spans
from diarefine.train.dataset import RefinerData

#: the grid the thresholds are chosen from (add above 1 / cut below 0: that edit off)
ADD = (0.5, 0.6, 0.7, 0.8, 0.9, 2.0)
CUT = (0.5, 0.4, 0.3, 0.2, 0.1, -1.0)
MIN_RUN = (0.1, 0.3)


def activity_targets(data: RefinerData, num_frames: int = 2 * HALF
                     ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """(targets (n, W, 2), mask (n, W, 2)) of every window of ``data`` (module docstring)."""
    if data.partner is None:
        raise DiarefineError("these refiner-data files predate the window's speaker B "
                             "(/boundaries/partner): make them again with refiner-data")
    n = len(data)
    target = np.zeros((n, num_frames, 2), dtype=np.float32)
    mask = np.zeros((n, num_frames, 2), dtype=bool)
    offsets = (np.arange(num_frames) - num_frames // 2) * RATE
    for r, rec in enumerate(data.recordings):
        rows = np.flatnonzero(data.recording == r)
        if len(rows) == 0:
            continue
        mapping = diarization_error(rec.reference, rec.system, rec.uem).mapping
        to_reference = {system: ref for ref, system in mapping.items()}
        speakers = boundaries_of(rec.system).speakers
        spans = speaker_spans(rec.reference)
        region = rec.uem if rec.uem is not None and len(rec.uem.bounds) else None
        for i in rows:
            times = data.time[i] + offsets
            inside = times >= 0
            if region is not None:
                inside &= region.covers(times)
            for column, speaker in ((0, speakers[data.index[i]]), (1, data.partner[i])):
                if not speaker:
                    continue
                target[i, :, column] = covered(spans, to_reference.get(speaker), times)
                mask[i, :, column] = inside
    return target, mask


def activity_weights(data: RefinerData, target: NDArray[np.float32], mask: NDArray[np.bool_],
                     missed_weight: float = 1.0) -> NDArray[np.float32]:
    """(n, W, 2) loss weights of the activity targets: 0 outside ``mask``,
    ``missed_weight`` where the reference speaker speaks and the output (the windows'
    ``sys_a`` / ``sys_b`` channels) is silent, 1 elsewhere."""
    from diarefine.stages.refinement.features import CHANNELS

    output = np.stack([data.frames[:, :, CHANNELS.index(c)] for c in ("sys_a", "sys_b")],
                      axis=-1) > 0.5
    weights = mask.astype(np.float32)
    weights[mask & (target > 0.5) & ~output] = missed_weight
    return weights


def choose_activity(score: Callable[[ActivitySettings], tuple[float, dict[str, float]]]
                    ) -> tuple[ActivitySettings, list[tuple[dict, float, dict[str, float]]]]:
    """The settings with the lowest pooled selection DER among those that leave no
    selection or guard source (simulated dev, AMI dev, ...) worse than no activity edit;
    ``score(settings)`` -> (pooled DER, DER per source). Returns the settings and every
    (settings, pooled, per source) tried; a tie keeps no edit, or the setting tried first."""
    off = ActivitySettings()
    base_pooled, base = score(off)
    curve = [(off.to_dict(), base_pooled, base)]
    best, best_key = off, (round(base_pooled, 6), 0)
    for add, cut, min_run in itertools.product(ADD, CUT, MIN_RUN):
        settings = ActivitySettings(add, cut, min_run)
        if not settings.active:
            continue
        pooled, per_source = score(settings)
        curve.append((settings.to_dict(), pooled, per_source))
        harmless = all(per_source[k] <= base[k] + 1e-9 for k in base)
        if harmless and (round(pooled, 6), 1) < best_key:
            best, best_key = settings, (round(pooled, 6), 1)
    return best, curve
