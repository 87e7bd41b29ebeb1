"""``diarefine refiner-data``: real targets stored with their windows, read back, and the
splits kept apart (the pipeline runs on the pyannote sample: slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diarefine.data.manifest import Recording, write_manifest
from diarefine.io.rttm import read_rttm
from diarefine.stages.refinement.features import CHANNELS, NUM_FRAMES
from diarefine.stages.refinement.oracle import boundary_targets
from diarefine.train.dataset import RecordingRow, RefinerData, check_disjoint, read_refiner_data
from needs import require, require_pipeline


def fake(uris: list[str], speakers: list[tuple[str, ...]]) -> RefinerData:
    from diarefine.core import Annotation

    rows = tuple(RecordingRow(u, "s", sp, Annotation(u), Annotation(u), None)
                 for u, sp in zip(uris, speakers))
    z = np.zeros(0)
    return RefinerData(np.zeros((0, 1, 1), np.float32), np.zeros((0, 1), np.float32),
                       z.astype(np.float32), z.astype(bool), z, z.astype(np.int64),
                       z.astype(np.int64), rows, ("s",))


def test_disjointness_is_checked_by_recording_and_by_speaker() -> None:
    train = fake(["a", "b"], [("s1", "s2"), ("s3",)])
    assert check_disjoint(train, fake(["c"], [("s4",)])) == []
    assert check_disjoint(train, fake(["b"], [("s9",)])) == ["recordings in both: ['b']"]
    assert check_disjoint(train, fake(["c"], [("s2", "s5")])) == ["speakers in both: ['s2']"]


def test_the_ami_excerpts_splits_share_no_speaker(shared_data: Path) -> None:
    """The refiners train on AMI train and select on AMI dev: they must share no speaker
    (the simulated sets' speaker splits are tested in tests/data/test_splits.py)."""
    ami = {}
    for name in ("train", "development", "test"):
        refs = read_rttm(shared_data / "ami-excerpts" / f"debug.{name}.rttm")
        ami[name] = {s for a in refs.values() for s in a.speakers}
    assert not (ami["train"] & ami["development"]) and not (ami["train"] & ami["test"])


@pytest.mark.slow
def test_refiner_data_stores_real_targets_with_their_windows(shared_data: Path,
                                                             tmp_path: Path) -> None:
    require_pipeline()
    pytest.importorskip("h5py")
    sample = shared_data / "pyannote-sample"
    require(sample.is_dir(), f"{sample} is absent")
    (tmp_path / "sample.uem").write_text("sample 1 0.000 30.000\n")
    folder = tmp_path / "corpus"  # a folder holding manifest.jsonl, as `simulate` writes
    folder.mkdir()
    write_manifest(folder / "manifest.jsonl", [Recording(
        "sample", sample / "sample.wav", sample / "sample.rttm", tmp_path / "sample.uem",
        speakers=("s1", "s2"), split="sample")])
    out = tmp_path / "data.h5"
    proc = subprocess.run([sys.executable, "-m", "diarefine", "refiner-data", str(folder),
                           "-o", str(out), "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = read_refiner_data([out])
    assert data.frames.shape[1:] == (NUM_FRAMES, len(CHANNELS))
    (row,) = data.recordings
    assert (row.uri, row.source, row.speakers) == ("sample", "corpus", ("s1", "s2"))
    # the stored targets are the matching of the stored system output to the reference
    from diarefine.core import Timeline

    targets = boundary_targets(read_rttm(sample / "sample.rttm")["sample"], row.system,
                               Timeline([(0, 30)]))
    keep = np.flatnonzero(targets.in_region)
    np.testing.assert_array_equal(data.index, keep)
    np.testing.assert_allclose(data.offset, targets.offset[keep].astype(np.float32))
    assert data.matched.sum() > 10 and (~data.matched).sum() >= 1
    assert np.isnan(data.offset[~data.matched]).all()
    np.testing.assert_allclose(data.time, targets.bounds.times[keep])
    # the window is centred on the boundary: the system output of A changes there
    a = data.frames[:, :, CHANNELS.index("sys_a")]
    onset = np.array([targets.bounds.directions[i] == "onset" for i in keep])
    assert (a[onset, 99] == 0).mean() > 0.9 and (a[onset, 101] == 1).mean() > 0.9
    # each window's B is stored: the system speaker whose output fills the sys_b channel
    from diarefine.stages.refinement.features import RATE, covered, speaker_spans

    assert data.partner is not None and set(data.partner) <= set(row.system.speakers) | {""}
    assert (data.partner != "").mean() > 0.9
    spans = speaker_spans(row.system.support(0.1))  # the joined turns the windows read
    times = data.time[:, None] + (np.arange(NUM_FRAMES) - NUM_FRAMES // 2) * RATE
    for i in np.flatnonzero(data.partner != ""):
        np.testing.assert_array_equal(data.frames[i, :, CHANNELS.index("sys_b")],
                                      covered(spans, data.partner[i], times[i]))
    import h5py

    with h5py.File(out) as h5:
        assert json.loads(h5.attrs["channels"]) == list(CHANNELS)
        assert h5["boundaries/frames"].dtype == np.float32
    # a second file with the same recording is refused when read together
    from diarefine.errors import DiarefineError

    with pytest.raises(DiarefineError, match="more than one file"):
        read_refiner_data([out, out])


@pytest.mark.slow
def test_the_stored_refinement_equals_the_pipelines(shared_data: Path, tmp_path: Path) -> None:
    """What the benchmark and the threshold choices score (the stored system output with a
    refiner's moves and activity edits applied, `refined_outputs`) is what the pipeline
    with that refiner writes: the default refiner (with activity edits) on the sample."""
    require_pipeline()
    pytest.importorskip("h5py")
    from diarefine.config import PipelineConfig
    from diarefine.stages.pipeline import DiarizationPipeline, _clip
    from diarefine.stages.refinement import build_refiner
    from diarefine.train.evaluate import refined_outputs

    sample = shared_data / "pyannote-sample"
    require(sample.is_dir(), f"{sample} is absent")
    (tmp_path / "sample.uem").write_text("sample 1 0.000 30.000\n")
    write_manifest(tmp_path / "m.jsonl", [Recording(
        "sample", sample / "sample.wav", sample / "sample.rttm", tmp_path / "sample.uem")])
    proc = subprocess.run([sys.executable, "-m", "diarefine", "refiner-data",
                           str(tmp_path / "m.jsonl"), "-o", str(tmp_path / "d.h5"), "--quiet"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = read_refiner_data([tmp_path / "d.h5"])
    refiner = build_refiner(PipelineConfig().refiner.name)
    assert refiner.activity is not None and refiner.activity.active  # type: ignore[attr-defined]
    offset, confidence, probs = refiner.predict_all(data.frames, data.static)  # type: ignore[attr-defined]
    moves = np.where(confidence >= refiner.abstain, offset, np.nan)  # type: ignore[attr-defined]
    stored = refined_outputs(data, moves, activity=(probs, refiner.activity))["sample"]  # type: ignore[attr-defined]
    out = DiarizationPipeline.from_pretrained()(sample / "sample.wav", uri="sample")
    expected = _clip(stored, out.duration)
    got = out.diarization
    def spans(annotation: object) -> list[tuple[float, float, str]]:
        return [(round(t.start, 3), round(t.end, 3), t.speaker)
                for t in annotation.turns]  # type: ignore[attr-defined]

    assert spans(got) != spans(data.recordings[0].system)  # the refiner changed something
    assert len(got.turns) == len(expected.turns)
    for a, b in zip(got.turns, expected.turns):
        assert a.speaker == b.speaker
        assert abs(a.start - b.start) < 1e-3 and abs(a.end - b.end) < 1e-3
