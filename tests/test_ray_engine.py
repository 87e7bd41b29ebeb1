"""The ray engine (`diarefine.engines.ray_pool`) on a local Ray of 2 CPUs: the same bytes
as the local engine, a worker killed mid-task, a driver killed mid-batch, failures
reported like the local engine's, refiner-data shards read back.

Ray is the ``ray`` extra (in the ``test`` extra): the tests skip with a reason where it is
not installed and fail where ``CI=true``. Cheap fake runners stand in for the pipeline
except in the byte-for-byte check. The fake runners live in this module, which the Ray
workers import (``tests/`` is put on their ``PYTHONPATH``).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diarefine.batch import BatchItem, Outputs, run_batch
from diarefine.core.annotation import Annotation, Turn
from diarefine.io.atomic import atomic_open
from needs import REPO, require, require_pipeline

TESTS = Path(__file__).resolve().parent
SR = 16_000


@pytest.fixture(scope="module")
def ray_session():
    require(importlib.util.find_spec("ray") is not None,
            "ray is not installed (pip install 'diarefine[ray]')")
    import ray

    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    ray.init(address="local", num_cpus=2, include_dashboard=False,
             object_store_memory=80 * 1024**2, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}})
    yield ray
    ray.shutdown()


@dataclass
class Fake:
    diarization: Annotation


@dataclass
class FakeRunner:
    """One turn per recording, its end the audio's first sample; ``pause`` seconds each."""

    pause: float = 0.0

    def __call__(self, uri: str, audio: Path) -> Fake:
        time.sleep(self.pause)
        if "bad" in uri:
            raise ValueError(f"{uri}: not audio\nsecond line")
        return Fake(Annotation(uri, (Turn(0.0, 1.0 + len(audio.read_text()), "A"),)))


@dataclass(frozen=True)
class KillingOutputs(Outputs):
    """Outputs whose writer kills its own process halfway through writing ``victim``'s
    RTTM, the first time only (``marker`` remembers)."""

    victim: str = ""
    marker: str = ""

    def write(self, outdir: Path, uri: str, result: object) -> None:
        if uri == self.victim and not Path(self.marker).exists():
            Path(self.marker).write_text(str(os.getpid()))
            with atomic_open(outdir / f"{uri}.rttm") as handle:
                handle.write("SPEAKER half")
                handle.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        super().write(outdir, uri, result)


@dataclass
class PoisonRunner(FakeRunner):
    """Kills its own process on every recording named ``poison``."""

    def __call__(self, uri: str, audio: Path) -> Fake:
        if uri == "poison":
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(uri, audio)


def fake_items(folder: Path, uris: list[str]) -> list[BatchItem]:
    folder.mkdir(parents=True, exist_ok=True)
    for uri in uris:
        (folder / f"{uri}.txt").write_text("x" * len(uri))
    return [BatchItem(uri, folder / f"{uri}.txt") for uri in uris]


def leftovers(outdir: Path) -> list[str]:
    return sorted(name for name in os.listdir(outdir) if name.endswith(".part"))


def test_same_outputs_and_failure_report_as_the_local_engine(ray_session, tmp_path: Path
                                                             ) -> None:
    items = fake_items(tmp_path / "in", ["a", "bb", "bad", "ccc"])
    seen: list[tuple[str, str | None]] = []
    local = run_batch(items, tmp_path / "local", FakeRunner)
    on_ray = run_batch(items, tmp_path / "ray", FakeRunner, engine="ray",
                       on_item=lambda uri, err: seen.append((uri, err)))
    assert sorted(on_ray.done) == sorted(local.done) == ["a", "bb", "ccc"]
    assert on_ray.failed == local.failed == {"bad": "ValueError: bad: not audio second line"}
    assert sorted(seen) == [("a", None), ("bad", on_ray.failed["bad"]), ("bb", None),
                            ("ccc", None)]
    for uri in on_ray.done:
        assert (tmp_path / "ray" / f"{uri}.rttm").read_bytes() == \
               (tmp_path / "local" / f"{uri}.rttm").read_bytes()
    again = run_batch(items, tmp_path / "ray", FakeRunner, engine="ray")
    assert sorted(again.skipped) == ["a", "bb", "ccc"] and again.done == []


def test_a_worker_killed_while_writing_is_retried_and_leaves_no_half_file(
        ray_session, tmp_path: Path) -> None:
    """b's worker dies once halfway through writing b.rttm: b is retried and done. The
    worker of "poison" dies every time: poison alone fails, after Ray's retries."""
    items = fake_items(tmp_path / "in", ["a", "b", "poison", "c", "d"])
    marker = tmp_path / "killed"
    outputs = KillingOutputs(victim="b", marker=str(marker))
    report = run_batch(items, tmp_path / "out", PoisonRunner, outputs=outputs, engine="ray")
    assert marker.exists()  # the worker did die, halfway through b.rttm
    assert sorted(report.done) == ["a", "b", "c", "d"]
    assert report.failed == {"poison": "its worker process died on each of 3 tries (killed, "
                                       "out of memory, or crashed)"}
    for item in items[:2] + items[3:]:
        text = (tmp_path / "out" / f"{item.uri}.rttm").read_text()
        assert text.startswith(f"SPEAKER {item.uri} 1 ") and text.endswith("\n"), text
    assert leftovers(tmp_path / "out") == []


def test_a_worker_that_cannot_start_fails_every_recording_with_its_reason(
        ray_session, tmp_path: Path) -> None:
    items = fake_items(tmp_path / "in", ["a", "b", "c"])
    report = run_batch(items, tmp_path / "out", BrokenFactory(), engine="ray")
    assert sorted(report.failed) == ["a", "b", "c"] and not report.done
    assert all("no models here" in reason and "\n" not in reason
               for reason in report.failed.values()), report.failed


class BrokenFactory:
    def __call__(self) -> FakeRunner:
        raise RuntimeError("no models here")


DRIVER = """
import ray, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from diarefine.batch import BatchItem, run_batch
from test_ray_engine import FakeRunner
ray.init(address="local", num_cpus=1, include_dashboard=False,
         object_store_memory=80 * 1024**2, logging_level="WARNING",
         runtime_env={{"env_vars": {{"PYTHONPATH": {tests!r}}}}})
items = [BatchItem(p.stem, p) for p in sorted(Path({inputs!r}).glob("*.txt"))]
run_batch(items, Path({outdir!r}), lambda: FakeRunner(pause=0.5), engine="ray")
"""


def test_a_killed_driver_resumes_where_it_stopped(ray_session, tmp_path: Path) -> None:
    uris = ["a", "b", "c", "d", "e", "f"]
    items = fake_items(tmp_path / "in", uris)
    out = tmp_path / "out"
    script = DRIVER.format(tests=str(TESTS), inputs=str(tmp_path / "in"), outdir=str(out))
    driver = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not list(out.glob("*.rttm")) and time.monotonic() < deadline:
            assert driver.poll() is None, driver.stderr.read() if driver.stderr else ""
            time.sleep(0.1)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver, its Ray and its workers
        driver.wait()
    first = sorted(p.stem for p in out.glob("*.rttm"))
    assert 1 <= len(first) < len(uris)
    report = run_batch(items, out, FakeRunner, engine="ray")
    assert sorted(report.skipped) == first
    assert sorted(report.done + report.skipped) == uris and not report.failed
    assert sorted(p.stem for p in out.glob("*.rttm")) == uris and leftovers(out) == []


def test_engine_choices_are_checked_before_any_work(tmp_path: Path) -> None:
    from diarefine.errors import DiarefineError

    items = fake_items(tmp_path / "in", ["a"])
    with pytest.raises(DiarefineError, match="only with the ray engine"):
        run_batch(items, tmp_path / "out", FakeRunner, address="auto")
    with pytest.raises(DiarefineError, match="unknown engine 'dask'"):
        run_batch(items, tmp_path / "out", FakeRunner, engine="dask")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_pipeline_on_ray_writes_the_local_engines_bytes(ray_session, shared_data: Path,
                                                            tmp_path: Path) -> None:
    import functools

    import torch

    from diarefine.config import PipelineConfig
    from diarefine.runner import PipelineRunner

    require_pipeline()
    sample = shared_data / "pyannote-sample" / "sample.wav"
    require(sample.is_file(), f"{sample} is absent")
    x, sr = sf.read(sample, dtype="float32")
    items = []
    for uri, start in (("first", 0), ("second", 12)):
        sf.write(tmp_path / f"{uri}.wav", x[start * SR:(start + 12) * SR], sr, subtype="FLOAT")
        items.append(BatchItem(uri, tmp_path / f"{uri}.wav"))
    factory = functools.partial(PipelineRunner, PipelineConfig())
    outputs = Outputs(exclusive=True, embeddings=True, settings="s", confidence=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each Ray worker (OMP_NUM_THREADS=1)
    try:
        local = run_batch(items, tmp_path / "local", factory, outputs=outputs)
    finally:
        torch.set_num_threads(threads)
    on_ray = run_batch(items, tmp_path / "ray", factory, outputs=outputs, engine="ray")
    assert sorted(local.done) == sorted(on_ray.done) == ["first", "second"]
    names = sorted(os.listdir(tmp_path / "local"))
    assert names == sorted(os.listdir(tmp_path / "ray")) and len(names) == 10
    for name in names:
        assert (tmp_path / "ray" / name).read_bytes() == \
               (tmp_path / "local" / name).read_bytes(), name
    assert np.load(tmp_path / "ray" / "second.embeddings.npz").files  # whole, readable


def fake_shard(uri: str, n: int) -> object:
    """A recording's refiner data, made up: ``n`` boundaries, one of them spurious."""
    from diarefine.core.timeline import Timeline
    from diarefine.data.manifest import Recording
    from diarefine.stages.refinement.features import CHANNELS, NUM_FRAMES
    from diarefine.train.refiner_data import RecordingData, Shard

    rng = np.random.default_rng(len(uri) + n)
    offset = rng.normal(size=n)
    offset[0] = np.nan
    turns = Annotation(uri, (Turn(0.5, 2.0, "A"), Turn(1.5, 3.0, "B")))
    data = RecordingData(rng.random((n, NUM_FRAMES, len(CHANNELS)), dtype=np.float32),
                         rng.random((n, 5), dtype=np.float32), offset, ~np.isnan(offset),
                         np.arange(n) + 0.25, np.arange(n), turns, turns, Timeline([(0, 3)]))
    return Shard("corpus", Recording(uri, Path(f"{uri}.wav"), speakers=(f"{uri}-spk",)), data)


@dataclass
class FakeShardRunner:
    def __call__(self, uri: str, audio: Path) -> object:
        return fake_shard(uri, len(uri) + 1)


def test_refiner_data_shards_made_on_ray_read_back_like_one_file(ray_session, tmp_path: Path
                                                                 ) -> None:
    from diarefine.errors import DiarefineError
    from diarefine.train.dataset import read_refiner_data
    from diarefine.train.refiner_data import ShardOutputs, write_refiner_h5, write_shard_index

    uris = ["a", "bb", "ccc"]
    outputs = ShardOutputs('{"x": 1}')
    report = run_batch(fake_items(tmp_path / "in", uris), tmp_path / "shards", FakeShardRunner,
                       outputs=outputs, engine="ray")
    assert sorted(report.done) == uris
    assert write_shard_index(tmp_path / "shards", uris, outputs.config) == 2 + 3 + 4
    shards = [fake_shard(uri, len(uri) + 1) for uri in uris]
    write_refiner_h5(tmp_path / "one.h5", [(s.source, s.recording, s.data) for s in shards],
                     outputs.config)
    one = read_refiner_data([tmp_path / "one.h5"])
    for given in (tmp_path / "shards" / "index.json", tmp_path / "shards"):
        read = read_refiner_data([given])
        assert [r.uri for r in read.recordings] == uris and read.sources == ("corpus",)
        for key in ("frames", "static", "offset", "matched", "time", "index", "recording"):
            np.testing.assert_array_equal(getattr(read, key), getattr(one, key), err_msg=key)
        assert read.recordings == one.recordings
    # a shard made with another configuration is made again; the same one is skipped
    again = run_batch(fake_items(tmp_path / "in", uris), tmp_path / "shards",
                      FakeShardRunner, outputs=ShardOutputs('{"x": 2}'))
    assert sorted(again.done) == uris
    (tmp_path / "shards" / "bb.h5").unlink()
    with pytest.raises(DiarefineError, match="absent"):
        read_refiner_data([tmp_path / "shards" / "index.json"])
