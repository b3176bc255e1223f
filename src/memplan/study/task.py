"""The unit of work is a `Task`: one model, dtype, stage and budget, planned once and placed on
every device it lists, so one task gives one cell per device. Tasks are plain picklable
values; `run_task` runs one anywhere (this process, a process pool, a Ray worker) from the
model's path or from its bytes.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass

from ..errors import InputError, MemplanError
from .refs import DeviceRef, ModelRef, load_model
from .stages import STAGES, GridSettings, StageInput
from . import tiled as _tiled  # noqa: F401  (registers the 'tiled' stage wherever a task runs)


@dataclass(frozen=True)
class CellKey:
    model_hash: str
    device_hash: str
    dtype: str
    stage: str
    budget: int
    settings_key: str
    version: str


@dataclass(frozen=True)
class Task:
    """One model, dtype, stage and budget, placed on each of ``devices``: one cell per device."""
    model: ModelRef
    dtype: str
    stage: str
    budget: int
    devices: tuple[DeviceRef, ...]
    settings: GridSettings
    version: str

    def keys(self) -> list[CellKey]:
        return [self.key(d) for d in self.devices]

    def key(self, device: DeviceRef) -> CellKey:
        return CellKey(self.model.hash, device.hash, self.dtype, self.stage, self.budget, self.settings.key,
                       self.version)


@dataclass(frozen=True)
class Cell:
    """The result of one cell. ``status`` is ``ok`` or ``failed`` (``error`` says why)."""
    key: CellKey
    model: str
    device: str
    status: str
    error: str = ""
    arena_bytes: int | None = None
    lower_bound_bytes: int | None = None
    naive_bytes: int | None = None
    weights_bytes: int | None = None
    order_method: str = ""
    algorithm: str = ""
    fits_device: bool | None = None
    bytes_moved: int | None = None
    spilled: int | None = None
    est_seconds: float | None = None
    placement: str = ""  # one line: weight modes, spills or the shortfall
    plan_seconds: float = 0.0
    place_seconds: float = 0.0
    worker: str = ""
    untiled_bytes: int | None = None  # tiled stage: the arena without tiling
    macs_overhead: float | None = None  # tiled stage: extra MACs of the tiling (0.07 = 7% more)
    tiling: str = ""  # tiled stage: split node and grid, e.g. "n46 3x3" ("" untiled)
    note: str = ""  # tiled stage: why the plan is untiled ("fits untiled", "untiled: ...")


@dataclass(frozen=True)
class TaskResult:
    task: Task
    cells: tuple[Cell, ...]
    picture: bytes = b""  # zlib JSON [[offset, size, first, last], ...] of the plan's buffers
    seconds: float = 0.0


def run_task(task: Task, data: bytes | None = None) -> TaskResult:
    """Run ``task`` here: load the model (from ``data`` when given, else its path), plan the
    stage once, place it on every device. Never raises for a model or plan problem: that
    becomes a failed cell with the one-line message."""
    import tempfile

    from .. import __version__

    start = time.perf_counter()
    try:
        if task.model.error:
            raise InputError(task.model.error)
        if task.version != __version__:
            raise InputError(f"worker runs memplan {__version__}, the study {task.version}: install the same version")
        if data is None:
            return _run_planned(task, task.model.path, start)
        with tempfile.TemporaryDirectory(prefix="memplan-cell-") as tmp:
            path = os.path.join(tmp, "model" + task.model.suffix)
            with open(path, "wb") as f:
                f.write(data)
            return _run_planned(task, path, start)
    except Exception as exc:  # noqa: BLE001 - a failed cell, whatever the cause
        message = one_line(exc)
        cells = tuple(_failed(task, d, message) for d in task.devices)
        return TaskResult(task, cells, seconds=time.perf_counter() - start)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, MemplanError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def worker_name() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _failed(task: Task, device: DeviceRef, message: str) -> Cell:
    return Cell(task.key(device), task.model.name, device.name, "failed", message, worker=worker_name())


def _run_planned(task: Task, path: str, start: float) -> TaskResult:
    from ..graph.quantize import with_dtype

    graph = load_model(path, task.model.name)
    if task.dtype != "fp32" and not STAGES[task.stage].dtype:  # a stage with its own dtype converts itself
        graph = with_dtype(graph, task.dtype)
    x = StageInput(graph, path, task.settings, task.dtype, task.budget)
    planned = STAGES[task.stage].run(x)  # (graph, plan) or (graph, plan, extra Cell fields)
    planned_graph, plan = planned[:2]
    plan_seconds = time.perf_counter() - start
    base = dict(model=task.model.name, status="ok", arena_bytes=plan.arena_bytes,
                lower_bound_bytes=plan.lower_bound_bytes, naive_bytes=plan.naive_bytes,
                weights_bytes=plan.weights_bytes, order_method=plan.order_method, algorithm=plan.algorithm,
                plan_seconds=plan_seconds, worker=worker_name(), **(planned[2] if len(planned) > 2 else {}))
    cells = tuple(_place(task, d, planned_graph, plan, base) for d in task.devices)
    picture = picture_blob(plan) if task.settings.pictures == task.stage else b""
    return TaskResult(task, cells, picture, time.perf_counter() - start)


def _place(task: Task, device: DeviceRef, graph, plan, base: dict) -> Cell:
    from ..tiers.placement import place
    from ..tiers.traffic import step_macs

    if device.device is None:
        return Cell(task.key(device), device=device.name, **base)
    start = time.perf_counter()
    try:
        tp = place(graph, plan, device.device, weights=task.settings.weights, method=task.settings.placement_method,
                   time_limit=task.settings.time_limit, macs=step_macs(graph, plan))
    except Exception as exc:  # noqa: BLE001 - this device's cell fails alone
        return dataclasses.replace(Cell(task.key(device), device=device.name, **base), status="failed",
                                   error=one_line(exc), place_seconds=time.perf_counter() - start)
    return Cell(task.key(device), device=device.name, fits_device=tp.fits, bytes_moved=tp.bytes_moved,
                spilled=len(tp.spilled), est_seconds=tp.seconds, placement=placement_line(tp),
                place_seconds=time.perf_counter() - start, **base)


def placement_line(tp) -> str:
    """``R 1.2 MiB S 3.4 MiB, 2 spilled`` when it fits; the short tiers when it does not."""
    from ..units import format_size

    if not tp.fits:
        return "short: " + "; ".join(f"{name} by {format_size(over)}" for name, over in tp.shortfalls)
    letters = {"resident": "R", "stream": "S", "in-place": "P"}
    modes = " ".join(f"{letters.get(m, m)} {format_size(b)}" for m, (_, b) in tp.mode_totals().items())
    spilled = len(tp.spilled)
    return (modes or "no weights") + (f", {spilled} spilled" if spilled else "")


def picture_blob(plan) -> bytes:
    import zlib

    rows = [[b.offset, b.size, b.first_step, b.last_step] for b in plan.buffers]
    return zlib.compress(json.dumps({"arena": plan.arena_bytes, "steps": len(plan.order), "buffers": rows},
                                    separators=(",", ":")).encode())


def picture_data(blob: bytes) -> dict:
    import zlib

    return json.loads(zlib.decompress(blob))
