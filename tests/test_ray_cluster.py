"""Joining an existing Ray cluster (``--address``): a head started by ``ray start --head``
in its own process group, a driver in another process that joins it by address and
writes to a folder and to a ``file://`` URI: the same bytes as the local engine. The
multi-machine case minus the network (one machine here)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diarefine.batch import Outputs, run_batch
from needs import require
from test_ray_engine import TESTS, FakeRunner, fake_items

DRIVER = """
import sys
from pathlib import Path
from diarefine.batch import BatchItem, Outputs, run_batch
from test_ray_engine import FakeRunner
inputs, address = Path(sys.argv[1]), sys.argv[2]
items = [BatchItem(u, inputs / f"{u}.txt") for u in ("a", "bb", "ccc")]
for out in sys.argv[3:]:
    report = run_batch(items, out if "://" in out else Path(out), FakeRunner, engine="ray",
                       address=address, jobs=None, outputs=Outputs(settings="s"))
    print(report.summary())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def head() -> object:
    require(importlib.util.find_spec("ray") is not None,
            "ray is not installed (pip install 'diarefine[ray]')")
    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable))
    require(ray_cli is not None, "the ray command is not beside this Python")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(TESTS), "RAY_AUTH_MODE": "disabled",
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([ray_cli, "start", "--head", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats", "--block"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the head, its raylet and workers
        proc.wait(30)


def test_a_driver_joins_a_running_cluster_by_address(head: tuple, tmp_path: Path) -> None:
    address, env = head
    items = fake_items(tmp_path / "in", ["a", "bb", "ccc"])
    run_batch(items, tmp_path / "local", FakeRunner, outputs=Outputs(settings="s"))
    outs = [str(tmp_path / "joined"), (tmp_path / "uploaded").as_uri()]
    deadline = time.monotonic() + 60
    while True:  # the head takes a few seconds to accept drivers
        proc = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path / "in"), address,
                               *outs], env=env, capture_output=True, text=True, timeout=120)
        if proc.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("3 diarized, 0 already done (skipped), 0 failed") == 2
    for folder in ("joined", "uploaded"):
        for uri in ("a", "bb", "ccc"):
            assert (tmp_path / folder / f"{uri}.rttm").read_bytes() == \
                (tmp_path / "local" / f"{uri}.rttm").read_bytes()
