"""Running a study grid: the driver loop and its two backends.

The driver (`run_grid`) asks the database which cells are already ``ok``, trims each task
to its missing devices, hands the tasks to a backend and commits every task's cells as soon
as they come back, so an interrupted run loses at most the tasks in flight. Both backends
run the same function, `study_grid.run_task`, and yield results in completion order:

- `PoolBackend`: a local ``ProcessPoolExecutor`` (``--jobs N``; 1 runs in this process).
  Workers read the models from their paths (same machine).
- `RayBackend` (``--ray``: a local Ray runtime; ``--ray-address HOST:PORT``: an existing
  cluster). Each model's bytes go into Ray's object store once (``ray.put``) and travel to
  whichever node runs its tasks; with ``shared_paths`` the workers read the paths instead
  (a file system every node mounts). Ray is an optional dependency (``memplan[ray]``).

What stays serial: expanding the grid (hashing every model file), the database look-up of
finished cells, and the commits (one SQLite transaction per task, in the driver).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Sequence

from ..errors import InputError
from .grid import Grid, Task, TaskResult, one_line, run_task


@dataclass
class Progress:
    """What the progress bar shows: cells done, failed, running, in all."""
    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    cells: int
    skipped: int
    done: int
    failed: int
    wall_seconds: float
    backend: str
    workers: int


def pending_tasks(grid: Grid, db) -> tuple[list[Task], int]:
    """(tasks trimmed to the cells not yet ``ok`` in ``db``, how many cells were skipped)."""
    tasks = grid.tasks()
    finished = db.finished(k for t in tasks for k in t.keys())
    out, skipped = [], 0
    for t in tasks:
        missing = tuple(d for d in t.devices if t.key(d) not in finished)
        skipped += len(t.devices) - len(missing)
        if missing:
            out.append(replace(t, devices=missing))
    return out, skipped


def run_grid(grid: Grid, db, backend, *, on_progress: Callable[[Progress], None] | None = None) -> RunSummary:
    start = time.perf_counter()
    tasks, skipped = pending_tasks(grid, db)
    total = grid.cell_count()
    state = Progress(total, skipped, running=0)
    run_id = db.start_run(grid, backend.name, backend.workers, total, skipped)
    if on_progress:
        on_progress(state)
    results = backend.run(tasks, state)
    try:
        for result in results:
            db.record(result, run_id)  # committed now: an interruption loses only the tasks in flight
            ok = sum(c.status == "ok" for c in result.cells)
            state.done += ok
            state.failed += len(result.cells) - ok
            if on_progress:
                on_progress(state)
    finally:
        results.close()
        wall = time.perf_counter() - start
        db.finish_run(run_id, wall)
    return RunSummary(run_id, total, skipped, state.done, state.failed, wall, backend.name, backend.workers)


def _crashed(task: Task, exc: BaseException) -> TaskResult:
    """A worker that died (killed, out of memory): the task's cells fail with the reason."""
    from .task import _failed

    message = f"worker failed: {one_line(exc)}"
    return TaskResult(task, tuple(_failed(task, d, message) for d in task.devices))


class PoolBackend:
    """``jobs`` worker processes on this machine (1: in this process, no pool)."""

    def __init__(self, jobs: int | None = None):
        self.workers = jobs or os.cpu_count() or 1
        self.name = "pool" if self.workers > 1 else "serial"

    def run(self, tasks: Sequence[Task], state: Progress) -> Iterator[TaskResult]:
        if self.workers == 1 or len(tasks) <= 1:
            for t in tasks:
                state.running = len(t.devices)
                yield run_task(t)
            state.running = 0
            return
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)))
        try:
            futures = {pool.submit(run_task, t): t for t in tasks}
            pending = set(futures)
            while pending:
                state.running = sum(len(futures[f].devices) for f in pending if f.running())
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for f in done:
                    try:
                        yield f.result()
                    except Exception as exc:  # noqa: BLE001 - BrokenProcessPool and the like
                        yield _crashed(futures[f], exc)
            state.running = 0
        finally:  # interrupted: drop the queued tasks instead of finishing them
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pass


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--ray-address {address!r}: write HOST:PORT, e.g. 10.0.0.5:6379 (the head node's GCS port)")
    return host, int(port)


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail fast (one line) instead of letting Ray retry an address nobody answers."""
    import socket

    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            speaks_grpc = _answers_http2(sock)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise InputError(f"--ray-address {address}: no Ray cluster answers there ({reason}); start one with "
                         f"`ray start --head --port {port}` or check the address") from None
    if not speaks_grpc:
        raise InputError(f"--ray-address {address}: a server answers there but it is not a Ray cluster's GCS "
                         f"(it does not speak gRPC); give the head node's GCS port (`ray start --head` prints it)")


# HTTP/2's client preface and an empty SETTINGS frame: a gRPC server (Ray's GCS) answers with
# its own SETTINGS frame. Anything else would leave ray.init retrying for minutes.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _answers_http2(sock) -> bool:
    sock.sendall(_HTTP2_PREFACE)
    header = b""
    while len(header) < 9:
        chunk = sock.recv(9 - len(header))
        if not chunk:
            return False
        header += chunk
    return header[3] == 4 and header[5:9] == bytes(4)


def _token_auth_for_join() -> None:
    """A cluster from `ray start --head` has token authentication on by default (Ray >= 2.59),
    but Ray's driver sends the token to an explicit address only when RAY_AUTH_MODE=token is
    set (read when Ray is imported), and otherwise retries for a minute. Set it when the user chose no mode and a token is
    at hand (where Ray itself looks: RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token)."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    if (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
            or os.path.isfile(os.path.expanduser("~/.ray/auth_token"))):
        os.environ["RAY_AUTH_MODE"] = "token"


class RayBackend:
    """Tasks as Ray remote functions (one CPU each) on a local runtime or a cluster."""

    def __init__(self, address: str | None = None, *, jobs: int | None = None, shared_paths: bool = False):
        if address:
            check_reachable(address)
            _token_auth_for_join()
        try:
            import ray
        except ImportError:
            raise InputError("--ray needs Ray: pip install 'memplan[ray]'") from None
        self.ray = ray
        self.shared_paths = shared_paths
        options = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR", configure_logging=False)
        env = {"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}} if os.environ.get("PYTHONPATH") else None
        try:
            if address:
                ray.init(address=address, runtime_env=env, **options)
            else:
                # "local": a runtime of our own, not a cluster someone else started on this machine
                ray.init(address="local", num_cpus=jobs or os.cpu_count() or 1, runtime_env=env, **options)
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
            raise InputError(f"Ray: cannot start or join the runtime{' at ' + address if address else ''} "
                             f"({one_line(exc)})") from None
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self.name = "ray" if address is None else f"ray@{address}"
        self._remote = ray.remote(num_cpus=1, max_retries=0)(run_task)

    def run(self, tasks: Sequence[Task], state: Progress) -> Iterator[TaskResult]:
        ray = self.ray
        data: dict[str, object] = {}
        refs = {}
        for t in tasks:
            payload = None
            if not self.shared_paths and t.model.path:
                if t.model.hash not in data:  # one copy per model in the object store
                    with open(t.model.path, "rb") as f:
                        data[t.model.hash] = ray.put(f.read())
                payload = data[t.model.hash]
            refs[self._remote.remote(t, payload)] = t
        pending = list(refs)
        try:
            while pending:
                state.running = min(sum(len(refs[r].devices) for r in pending), self.workers)
                done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                for r in done:
                    try:
                        yield ray.get(r)
                    except Exception as exc:  # noqa: BLE001 - a worker crash, out of memory
                        yield _crashed(refs[r], exc)
            state.running = 0
        finally:  # interrupted: cancel what has not finished
            for r in pending:
                ray.cancel(r, force=True)

    def close(self) -> None:
        self.ray.shutdown()
