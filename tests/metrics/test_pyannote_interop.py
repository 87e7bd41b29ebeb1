"""Through pyannote.core and back, nothing changes; pyannote.metrics' DER of the
converted objects (collar 0, overlap scored, the same UEM) equals diarefine's."""

from __future__ import annotations

import numpy as np
import pytest

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.metrics.der import diarization_error
from needs import require
from randomdiar import perturb, random_annotation


def pyannote_modules() -> tuple:
    try:
        from pyannote.core import Segment
        from pyannote.core import Timeline as PTimeline
        from pyannote.metrics.diarization import DiarizationErrorRate
    except ImportError:
        require(False, "pyannote.core/pyannote.metrics are not installed "
                       "(pip install 'diarefine[test]')")
    return Segment, PTimeline, DiarizationErrorRate


@pytest.mark.parametrize("seed", range(12))
def test_round_trip_and_der_through_pyannote(seed: int) -> None:
    Segment, PTimeline, DiarizationErrorRate = pyannote_modules()
    rng = np.random.default_rng(seed)
    num = int(rng.integers(2, 5))
    reference = random_annotation(rng, f"rec{seed}", num, 60.0)
    hypothesis = perturb(rng, reference, num + int(rng.integers(-1, 2)))
    for annotation in (reference, hypothesis):
        # a round trip keeps every turn (a speaker's own touching turns stay two turns)
        assert Annotation.from_pyannote(annotation.to_pyannote()) == annotation
    start, end = float(rng.uniform(0, 5)), float(rng.uniform(50, 60))
    uem = Timeline([(start, end)])
    ours = diarization_error(reference, hypothesis, uem).components
    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    theirs = metric(reference.to_pyannote(), hypothesis.to_pyannote(),
                    uem=PTimeline([Segment(start, end)]), detailed=True)
    assert theirs["diarization error rate"] == pytest.approx(ours.der, abs=1e-9)
    assert theirs["total"] == pytest.approx(ours.scored, abs=1e-9)
    assert theirs["missed detection"] == pytest.approx(ours.miss, abs=1e-9)
    assert theirs["false alarm"] == pytest.approx(ours.false_alarm, abs=1e-9)
    assert theirs["confusion"] == pytest.approx(ours.confusion, abs=1e-9)
