"""A fit study as a grid: models x devices x dtypes x stages x budgets, run cell by cell.

A **cell** is one model, one device (or none), one dtype, one stage and one budget; its
result is the stage's arena (and lower bound) and, with a device, the plan placed on the
device's tiers (`placement.place`): does it fit, what spills, how many bytes move per
inference. Stages (`STAGES`, extensible with `register_stage`):

=============  =========================================================================
``naive``      no reuse: file order, every buffer its own bytes (allocator ``naive``)
``best``       file order, no sharing, the study's allocator
``order``      the better of the ``heuristic`` order and the file order, sharing on
``int8``       ``order`` on the graph with every float tensor int8 (what-if); fixes the dtype
``real-int8``  ``order`` on the onnxruntime static-QDQ int8 model, Q/DQ fused (ONNX only);
               fixes the dtype
=============  =========================================================================

Most stages do not depend on the budget: their cells have ``budget = 0`` and a budget is
applied when the results are read (fits = arena <= budget). A stage registered with
``uses_budget=True`` (such as a ``tiled`` stage that tiles until the arena fits) gets one
cell per budget and sees it in `StageInput.budget`. A stage with a fixed ``dtype`` (``int8``,
``real-int8``) runs once per model and device whatever the dtype axis says, with that dtype.

The unit of work is a `Task`: one model, dtype, stage and budget, planned once and placed on
every device it lists, so one task gives one cell per device. Tasks are plain picklable
values; `run_task` runs one anywhere (this process, a process pool, a Ray worker) from the
model's path or from its bytes.
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ..errors import InputError, MemplanError

MODEL_SUFFIXES = (".onnx", ".tflite")
DEFAULT_STAGES = ("naive", "best", "order", "int8")


# ---------------------------------------------------------------- models

@dataclass(frozen=True)
class ModelRef:
    """A model of the study: its display ``name``, a local ``path`` and the SHA-256 of its
    bytes (the cache key). A model that cannot be read keeps ``error`` and a hash of its
    name, so its cells fail with that message (and are retried on the next run)."""
    name: str
    path: str
    hash: str
    suffix: str = ".onnx"
    size: int = 0
    error: str = ""


def expand_models(specs: Sequence[str]) -> list[ModelRef]:
    """``zoo`` (the nine zoo models), ``mediapipe`` (the fourteen), ``zoo:NAME``,
    ``mediapipe:NAME``, a directory (every .onnx/.tflite under it), a glob, ``@list.txt``
    (one spec a line) or a file path. Duplicates by content are dropped (first name kept)."""
    refs, seen = [], set()
    for name in _names(specs):
        ref = model_ref(name)
        if ref.hash not in seen:
            seen.add(ref.hash)
            refs.append(ref)
    return refs


def _names(specs: Sequence[str]) -> list[str]:
    from ..graph.mediapipe import MODELS as MEDIAPIPE
    from ..graph.zoo import MODELS as ZOO

    out: list[str] = []
    for spec in specs:
        if spec == "zoo":
            out += [f"zoo:{m}" for m in ZOO]
        elif spec == "mediapipe":
            out += [f"mediapipe:{m}" for m in MEDIAPIPE]
        elif spec.startswith("@"):
            out += _names(_list_file(spec[1:]))
        elif os.path.isdir(spec):
            found = sorted(os.path.join(d, f) for d, _, files in os.walk(spec) for f in files
                           if f.lower().endswith(MODEL_SUFFIXES))
            if not found:
                raise InputError(f"{spec}: directory holds no .onnx or .tflite model")
            out += found
        elif any(c in spec for c in "*?[") and not os.path.exists(spec):
            found = sorted(p for p in glob.glob(spec, recursive=True) if p.lower().endswith(MODEL_SUFFIXES))
            if not found:
                raise InputError(f"{spec}: the pattern matches no .onnx or .tflite file")
            out += found
        else:
            out.append(spec)
    return out


def _list_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"@{path}: cannot read the model list ({getattr(exc, 'strerror', None) or exc})") from None
    return [line for line in lines if line and not line.startswith("#")]


def model_ref(spec: str) -> ModelRef:
    try:
        path = _local_path(spec)
        with open(path, "rb") as f:
            data = f.read()
    except MemplanError as exc:
        return _broken(spec, str(exc))
    except OSError as exc:
        return _broken(spec, f"{spec}: cannot read ({exc.strerror or 'no such file'})")
    suffix = ".tflite" if path.lower().endswith(".tflite") else ".onnx"
    return ModelRef(spec, os.path.abspath(path), hashlib.sha256(data).hexdigest(), suffix, len(data))


def _broken(spec: str, error: str) -> ModelRef:
    if "No such file" in error or "no such file" in error:
        error = f"{spec}: no such file"
    return ModelRef(spec, "", "unreadable:" + hashlib.sha256(spec.encode()).hexdigest()[:32], error=error)


def _local_path(spec: str) -> str:
    if spec.startswith("zoo:"):
        from ..graph.zoo import zoo_path

        return zoo_path(spec)
    if spec.startswith("mediapipe:"):
        from ..graph.mediapipe import model_path

        return model_path(spec.removeprefix("mediapipe:"))
    return spec


def load_model(path: str, name: str):
    """The Graph of a local model file, under its study name."""
    if path.lower().endswith(".tflite"):
        from ..graph.tflite import load as load_tflite

        return load_tflite(path, name=name)
    from ..graph.onnx import load

    return load(path, name=name)


# ---------------------------------------------------------------- devices

@dataclass(frozen=True)
class DeviceRef:
    """A device of the study (``name``, the profile, and the SHA-256 of its TOML: the key).
    ``NO_DEVICE`` is the plain arena study, no placement."""
    name: str
    hash: str
    device: object = None  # memplan.tiers.devices.Device, shipped to workers as a value


NO_DEVICE = DeviceRef("-", "-")


def expand_devices(specs: Sequence[str]) -> list[DeviceRef]:
    """Bundled names, TOML paths, or ``all`` (every bundled device)."""
    from ..tiers.devices import HERE, bundled, load_device

    names: list[str] = []
    for spec in specs:
        names += bundled() if spec == "all" else [spec]
    out = []
    for spec in dict.fromkeys(names):
        device = load_device(spec)  # an unknown device or a bad file: InputError, exit 2
        path = spec if (os.sep in spec or spec.endswith(".toml")) else os.path.join(HERE, f"{spec}.toml")
        with open(path, "rb") as f:
            out.append(DeviceRef(device.name, hashlib.sha256(f.read()).hexdigest(), device))
    return out


# ---------------------------------------------------------------- settings and stages

@dataclass(frozen=True)
class GridSettings:
    """Everything besides the model, device, dtype, stage and budget that decides a cell.
    Its `key` is part of every cell's key: change a setting and the cells are recomputed."""
    algorithm: str = "best"
    order: str = "heuristic"
    alignment: int = 16
    time_limit: float = 10.0
    seed: int = 0  # real-int8 calibration
    samples: int = 8  # real-int8 calibration samples
    weights: str = "auto"  # placement: weight mode
    placement_method: str = "greedy"  # placement: spill search (greedy: fast and deterministic)
    pictures: str = "order"  # the stage whose buffer layout is kept for the report ("" for none)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StageInput:
    graph: object  # the model's Graph, at the cell's dtype
    path: str  # the local model file (real-int8 quantises it)
    settings: GridSettings
    dtype: str
    budget: int  # 0 unless the stage uses budgets


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[StageInput], tuple]  # -> (graph planned, Plan)
    description: str
    uses_budget: bool = False
    dtype: str | None = None  # a stage that fixes the dtype


STAGES: dict[str, Stage] = {}


def register_stage(stage: Stage) -> None:
    """Add a stage (e.g. ``tiled``) to every study; the name must be new."""
    if stage.name in STAGES:
        raise ValueError(f"stage {stage.name!r} is already registered")
    STAGES[stage.name] = stage


def _plan(graph, s: GridSettings, *, order: str, sharing: bool, algorithm: str | None = None):
    import inspect

    from ..alloc import get_algorithm
    from ..memory_model import Sharing
    from ..planner import plan

    algorithm = algorithm or s.algorithm
    options = {"time_limit": s.time_limit} if "time_limit" in inspect.signature(get_algorithm(algorithm)).parameters \
        else {}
    return plan(graph, algorithm=algorithm, order=order, alignment=s.alignment,
                sharing=Sharing() if sharing else Sharing.off(), order_options={"time_limit": s.time_limit}, **options)


def _naive(x: StageInput):
    return x.graph, _plan(x.graph, x.settings, order="file", sharing=False, algorithm="naive")


def _best(x: StageInput):
    return x.graph, _plan(x.graph, x.settings, order="file", sharing=False)


def _ordered(graph, s: GridSettings):
    """The heuristic order and the file order, both with sharing: the smaller arena (file on ties)."""
    candidates = [_plan(graph, s, order="file", sharing=True)]
    if s.order != "file":
        candidates.append(_plan(graph, s, order=s.order, sharing=True))
    return graph, min(candidates, key=lambda p: p.arena_bytes)


def _order(x: StageInput):
    return _ordered(x.graph, x.settings)


def _int8(x: StageInput):
    from ..graph.quantize import with_dtype

    return _ordered(with_dtype(x.graph, "int8"), x.settings)


def _real_int8(x: StageInput):
    import tempfile

    from ..graph.onnx import load
    from ..graph.quantize import fold_qdq, quantize_model

    if not x.path.lower().endswith(".onnx"):
        raise InputError(f"{x.graph.name}: real-int8 quantises ONNX models (onnxruntime); this is not one")
    with tempfile.TemporaryDirectory(prefix="memplan-study-") as tmp:
        out = os.path.join(tmp, "int8.onnx")
        quantize_model(x.path, out, seed=x.settings.seed, samples=x.settings.samples)
        graph = fold_qdq(load(out, name=x.graph.name))
    return _ordered(graph, x.settings)


for _stage in (Stage("naive", _naive, "no reuse (file order, allocator naive)"),
               Stage("best", _best, "file order, no sharing, the study's allocator"),
               Stage("order", _order, "best of heuristic and file order, sharing on"),
               Stage("int8", _int8, "as 'order' with every float tensor int8 (what-if)", dtype="int8"),
               Stage("real-int8", _real_int8, "as 'order' on the onnxruntime static QDQ int8 model, Q/DQ fused",
                     dtype="int8")):
    register_stage(_stage)


def check_stages(names: Sequence[str]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        hint = " ('tiled' comes with the tiling module)" if "tiled" in unknown else ""
        raise InputError(f"--stages: unknown stage {unknown[0]!r}{hint}; choose from: {', '.join(STAGES)}")
    return tuple(dict.fromkeys(names))


def check_dtypes(names: Sequence[str]) -> tuple[str, ...]:
    from ..graph.quantize import DTYPES

    for n in names:
        if n not in DTYPES:
            raise InputError(f"--dtypes: unknown dtype {n!r}; choose from: {', '.join(DTYPES)}")
    return tuple(dict.fromkeys(names))


# ---------------------------------------------------------------- the grid

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
class Grid:
    models: tuple[ModelRef, ...]
    devices: tuple[DeviceRef, ...] = (NO_DEVICE,)
    dtypes: tuple[str, ...] = ("fp32",)
    stages: tuple[str, ...] = DEFAULT_STAGES
    budgets: tuple[int, ...] = ()
    settings: GridSettings = GridSettings()

    def tasks(self) -> list[Task]:
        """Model-major, so that results of one model arrive together; a stage with a fixed
        dtype once per model, a stage using budgets once per budget."""
        from .. import __version__

        out = []
        for m in self.models:
            for dtype in self.dtypes:
                for name in self.stages:
                    stage = STAGES[name]
                    if stage.dtype and (dtype != self.dtypes[0]):
                        continue
                    for budget in (self.budgets if stage.uses_budget else (0,)):
                        out.append(Task(m, stage.dtype or dtype, name, budget, self.devices, self.settings,
                                        __version__))
        return out

    def cell_count(self) -> int:
        return sum(len(t.devices) for t in self.tasks())


# ---------------------------------------------------------------- running one task

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
    planned_graph, plan = STAGES[task.stage].run(x)
    plan_seconds = time.perf_counter() - start
    base = dict(model=task.model.name, status="ok", arena_bytes=plan.arena_bytes,
                lower_bound_bytes=plan.lower_bound_bytes, naive_bytes=plan.naive_bytes,
                weights_bytes=plan.weights_bytes, order_method=plan.order_method, algorithm=plan.algorithm,
                plan_seconds=plan_seconds, worker=worker_name())
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


__all__ = ["ModelRef", "DeviceRef", "NO_DEVICE", "GridSettings", "Stage", "StageInput", "STAGES", "register_stage",
           "Grid", "Task", "TaskResult", "Cell", "CellKey", "run_task", "expand_models", "expand_devices"]
