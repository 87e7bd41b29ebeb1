"""The ray engine: one task per recording on a pool of Ray actors, each holding one runner
(models loaded once per worker).

The pool has one actor per CPU of the cluster (one per GPU with ``device="cuda"``), at
most one per recording. Each actor runs :func:`diarefine.batch.run_one`, which writes the
recording's outputs atomically into the output folder (which every node must see: a
shared filesystem). The driver only hands out recordings and collects ``(uri, error)``.

A worker process that dies (killed, out of memory, its node lost) is restarted by Ray
(``max_restarts``) and its task retried (``max_task_retries``); a task whose worker died
on every try is reported as failed like any other recording. An actor that cannot be
built or restarted any more leaves the pool; if none is left, the recordings not yet run
are reported as failed with its reason.

Without an address Ray starts on this machine (``num_cpus`` = ``jobs``, or every CPU)
and is shut down at the end; with one (``host:port``, ``auto`` or ``ray://...``) the
driver joins that cluster. A Ray already initialised by the caller is used as it is.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import ray

from diarefine.batch import BatchItem, Runner, Writer, one_line, run_one
from diarefine.errors import DiarefineError

#: restarts of one actor (its process died) before it leaves the pool
MAX_RESTARTS = 8
#: retries of one task whose actor died while running it (so 1 + 2 tries in all)
MAX_TASK_RETRIES = 2
#: object store of a Ray started here: the tasks pass paths and short strings only
LOCAL_OBJECT_STORE = 128 * 1024**2
#: environment variables forwarded to the workers of a cluster when the driver has them
FORWARDED_ENV = ("DIAREFINE_CACHE_DIR",)


class _Worker:
    """One runner per actor process, built once; ``run`` is one recording."""

    def __init__(self, factory: Callable[[], Runner], outdir: Path, outputs: Writer) -> None:
        self.runner = factory()
        self.outdir, self.outputs = outdir, outputs

    def run(self, item: BatchItem) -> tuple[str, str | None]:
        return run_one(self.runner, item, self.outdir, self.outputs)

    def ping(self) -> int:
        return os.getpid()


def _connect(address: str | None, jobs: int | None) -> bool:
    """Join ``address`` or start Ray here; True when this call started it."""
    if ray.is_initialized():
        return False
    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    runtime_env = {"env_vars": env} if env else None
    if address is None:
        ray.init(address="local", num_cpus=jobs or os.cpu_count(), include_dashboard=False,
                 object_store_memory=LOCAL_OBJECT_STORE, logging_level=logging.WARNING,
                 runtime_env=runtime_env)
    else:
        ray.init(address=address, logging_level=logging.WARNING, runtime_env=runtime_env)
    return True


def _pool_size(gpus: bool, todo: int) -> int:
    resources = ray.cluster_resources()
    size = int(resources.get("GPU" if gpus else "CPU", 0))
    if size < 1:
        raise DiarefineError("the Ray cluster has no GPU (--device cuda)" if gpus
                             else "the Ray cluster has no CPU")
    return min(size, todo)


def _reason(exc: BaseException) -> str:
    """One line: what the worker's error says, without Ray's traceback around it."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return one_line(f"{type(cause).__name__}: {cause}")
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if "creation task" in str(exc) and lines:  # the constructor's own exception, last
        return one_line(f"worker could not start: {lines[-1]}")
    if isinstance(exc, ray.exceptions.RayActorError):
        return (f"its worker process died on each of {1 + MAX_TASK_RETRIES} tries (killed, "
                "out of memory, or crashed)")
    return one_line(f"{type(exc).__name__}: {lines[0] if lines else exc}")


def _alive(actor: object) -> bool:
    """Whether the actor answers (waits while Ray restarts it)."""
    try:
        ray.get(actor.ping.remote())  # type: ignore[attr-defined]
        return True
    except ray.exceptions.RayError:
        return False


def run_on_ray(todo: Sequence[BatchItem], outdir: Path, runner_factory: Callable[[], Runner],
               outputs: Writer, record: Callable[[str, str | None], None],
               jobs: int | None = None, address: str | None = None,
               device: str = "cpu") -> None:
    """Run ``todo`` on the pool; ``record(uri, error_or_None)`` as each task completes."""
    if not todo:
        return
    started = _connect(address, jobs)
    try:
        gpus = device.startswith("cuda")
        worker = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0, max_restarts=MAX_RESTARTS,
                            max_task_retries=MAX_TASK_RETRIES)(_Worker)
        out = Path(os.path.abspath(outdir))  # the workers' working folders are not ours
        actors = [worker.remote(runner_factory, out, outputs)
                  for _ in range(_pool_size(gpus, len(todo)))]
        _drive(actors, deque(BatchItem(i.uri, Path(os.path.abspath(i.audio))) for i in todo),
               record)
    finally:
        if started:
            ray.shutdown()


def _drive(actors: list, queue: deque[BatchItem],
           record: Callable[[str, str | None], None]) -> None:
    """Keep every live actor busy with one recording until the queue is empty."""
    pending = {}
    for actor in actors:
        if queue:
            item = queue.popleft()
            pending[actor.run.remote(item)] = (actor, item)
    lost = "no Ray worker left"
    while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        actor, item = pending.pop(ref)
        try:
            uri, error = ray.get(ref)
            alive = True
        except ray.exceptions.RayError as exc:
            uri, error = item.uri, _reason(exc)
            alive = _alive(actor)
            lost = f"no Ray worker left ({error})"
        record(uri, error)
        if alive and queue:
            item = queue.popleft()
            pending[actor.run.remote(item)] = (actor, item)
    while queue:
        record(queue.popleft().uri, lost)
