"""Batch outputs to a folder given by URI (`diarefine.io.remote`, `engines.uploading`),
through fsspec's ``file://`` backend (what an object store gets: the same calls): the
files arrive whole with their stamp, a rerun skips them, a settings change redoes them,
an upload cut short leaves the recording to be redone, and Ray writes the same bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from diarefine.batch import Outputs, run_batch
from diarefine.errors import DiarefineError
from diarefine.io.remote import RemoteFolder, is_uri
from test_ray_engine import FakeRunner, fake_items, ray_session  # noqa: F401

pytest.importorskip("fsspec")


def test_uri_or_path() -> None:
    assert is_uri("s3://bucket/run") and is_uri("file:///tmp/x")
    assert not is_uri("out") and not is_uri("/tmp/x") and not is_uri(Path("s3:/x"))
    assert not is_uri("C:\\out")


def test_outputs_arrive_whole_and_a_rerun_follows_the_settings(tmp_path: Path) -> None:
    items = fake_items(tmp_path / "in", ["a", "bb", "bad"])
    uri = (tmp_path / "remote" / "run").as_uri()
    first = run_batch(items, uri, FakeRunner, outputs=Outputs(settings="s1"))
    assert sorted(first.done) == ["a", "bb"] and list(first.failed) == ["bad"]
    folder = tmp_path / "remote" / "run"
    assert sorted(os.listdir(folder)) == ["a.rttm", "a.settings", "a.uploaded", "bb.rttm",
                                          "bb.settings", "bb.uploaded"]
    local = run_batch(items[:2], tmp_path / "local", FakeRunner, outputs=Outputs(settings="s1"))
    assert local.done == ["a", "bb"]
    for name in ("a.rttm", "bb.rttm", "a.settings"):
        assert (folder / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    again = run_batch(items[:2], uri, FakeRunner, outputs=Outputs(settings="s1"))
    assert sorted(again.skipped) == ["a", "bb"] and again.done == []
    changed = run_batch(items[:2], uri, FakeRunner, outputs=Outputs(settings="s2"))
    assert sorted(changed.done) == ["a", "bb"]
    assert (folder / "a.settings").read_text() == "s2\n"


def test_an_upload_cut_short_leaves_the_recording_to_redo(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    items = fake_items(tmp_path / "in", ["a"])
    uri = (tmp_path / "remote").as_uri()
    real = RemoteFolder.upload
    calls = []

    def failing(self: RemoteFolder, local: Path, name: str) -> None:
        calls.append(name)
        if len(calls) == 2:  # the RTTM went up; the settings stamp does not
            raise OSError("connection reset")
        real(self, local, name)

    monkeypatch.setattr(RemoteFolder, "upload", failing)
    cut = run_batch(items, uri, FakeRunner, outputs=Outputs(settings="s1"))
    assert list(cut.failed) == ["a"] and "connection reset" in cut.failed["a"]
    assert sorted(os.listdir(tmp_path / "remote")) == ["a.rttm"]  # no stamp, no .part
    monkeypatch.setattr(RemoteFolder, "upload", real)
    redo = run_batch(items, uri, FakeRunner, outputs=Outputs(settings="s1"))
    assert redo.done == ["a"] and (tmp_path / "remote" / "a.uploaded").exists()


def test_an_unusable_uri_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(DiarefineError, match="nosuchscheme://x"):
        run_batch(fake_items(tmp_path / "in", ["a"]), "nosuchscheme://x", FakeRunner)


def test_ray_workers_upload_the_local_engines_bytes(ray_session, tmp_path: Path  # noqa: F811
                                                    ) -> None:
    items = fake_items(tmp_path / "in", ["a", "bb", "ccc"])
    uri = (tmp_path / "remote").as_uri()
    report = run_batch(items, uri, FakeRunner, jobs=2, engine="ray",
                       outputs=Outputs(settings="s1"))
    assert sorted(report.done) == ["a", "bb", "ccc"]
    run_batch(items, tmp_path / "local", FakeRunner, outputs=Outputs(settings="s1"))
    for uri_ in ("a", "bb", "ccc"):
        assert (tmp_path / "remote" / f"{uri_}.rttm").read_bytes() == \
            (tmp_path / "local" / f"{uri_}.rttm").read_bytes()


def test_refiner_data_shards_by_uri_read_back_like_local_ones(tmp_path: Path) -> None:
    import numpy as np

    from diarefine.train.dataset import read_refiner_data
    from diarefine.train.refiner_data import ShardOutputs, _remote_index, write_shard_index
    from test_ray_engine import FakeShardRunner

    uris = ["a", "bb", "ccc"]
    outputs = ShardOutputs('{"x": 1}')
    remote = (tmp_path / "remote").as_uri()
    report = run_batch(fake_items(tmp_path / "in", uris), remote, FakeShardRunner,
                       outputs=outputs)
    assert sorted(report.done) == uris
    run_batch(fake_items(tmp_path / "in", uris), tmp_path / "local", FakeShardRunner,
              outputs=outputs)
    assert _remote_index(remote, uris, outputs.config) == \
        write_shard_index(tmp_path / "local", uris, outputs.config) == 2 + 3 + 4
    assert (tmp_path / "remote" / "index.json").read_bytes() == \
        (tmp_path / "local" / "index.json").read_bytes()
    local = read_refiner_data([tmp_path / "local" / "index.json"])
    for given in (f"{remote}/index.json", remote):
        got = read_refiner_data([given])
        assert got.recordings == local.recordings
        np.testing.assert_array_equal(got.frames, local.frames)
        np.testing.assert_array_equal(got.offset, local.offset)


@pytest.fixture()
def s3(monkeypatch: pytest.MonkeyPatch) -> object:
    """A bucket on moto's S3 server (localhost), reached through s3fs as a user would
    reach S3: credentials and ``AWS_ENDPOINT_URL`` in the environment."""
    import importlib.util

    from needs import require

    missing = [m for m in ("moto", "s3fs", "flask") if importlib.util.find_spec(m) is None]
    require(not missing, f"{missing} not installed (pip install 'diarefine[test]')")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                       ("AWS_DEFAULT_REGION", "us-east-1"),
                       ("AWS_ENDPOINT_URL", f"http://{host}:{port}")):
        monkeypatch.setenv(key, value)
    import fsspec
    import s3fs

    fsspec.config.conf.pop("s3", None)
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem()
    fs.mkdir("bucket")
    yield fs
    s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


def test_s3_outputs_arrive_whole_and_a_cut_upload_is_redone(s3: object, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    items = fake_items(tmp_path / "in", ["a", "bb"])
    local = run_batch(items, tmp_path / "local", FakeRunner, outputs=Outputs(settings="s1"))
    assert sorted(local.done) == ["a", "bb"]
    report = run_batch(items, "s3://bucket/run", FakeRunner, outputs=Outputs(settings="s1"))
    assert sorted(report.done) == ["a", "bb"]
    names = sorted(p.rsplit("/", 1)[1] for p in s3.ls("bucket/run", refresh=True))
    assert names == ["a.rttm", "a.settings", "a.uploaded", "bb.rttm", "bb.settings",
                     "bb.uploaded"]  # no temporary object left
    assert s3.cat_file("bucket/run/a.rttm") == (tmp_path / "local" / "a.rttm").read_bytes()
    assert run_batch(items, "s3://bucket/run", FakeRunner,
                     outputs=Outputs(settings="s1")).skipped == ["a", "bb"]
    real = RemoteFolder.upload

    def cut(self: RemoteFolder, path: Path, name: str) -> None:
        if name.endswith(".settings"):
            raise OSError("connection reset")
        real(self, path, name)

    monkeypatch.setattr(RemoteFolder, "upload", cut)
    failed = run_batch(items, "s3://bucket/run", FakeRunner, outputs=Outputs(settings="s2"))
    assert sorted(failed.failed) == ["a", "bb"]
    monkeypatch.setattr(RemoteFolder, "upload", real)
    redo = run_batch(items, "s3://bucket/run", FakeRunner, outputs=Outputs(settings="s2"))
    assert sorted(redo.done) == ["a", "bb"]
    assert s3.cat_file("bucket/run/a.settings") == b"s2\n"
