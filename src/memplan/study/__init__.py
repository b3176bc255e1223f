"""The fit study: does each model's activation arena fit each budget, and after which step?

Stages, each building on the one before (the industrial study that motivates this counts
13% / 38% of networks fitting 2 / 4 MiB of L2 before buffer optimisation, 66% / 83% after):

=============  ================================================================================
``naive``      no reuse, no sharing: every activation its own bytes (`Plan.naive_bytes`)
``best``       file order, the best registered allocator (``best`` if present, else
               ``greedy_by_size``)
``order``      the best order (``heuristic``, or the file order when its arena is smaller) with
               tensor sharing (views, in-place, concat) when the planner offers it, and the
               same allocator
``int8``       the ``order`` stage with every float tensor at int8 (`quantize.with_dtype`)
``real-int8``  optional (``real_int8=True``): the model quantised for real by
               `quantize.quantize_model` (onnxruntime static QDQ, seeded random calibration),
               Q/DQ fused (`quantize.fold_qdq`), planned like ``order``
=============  ================================================================================

The ``int8`` what-if is instant; ``real-int8`` costs a quantisation per model (about 3 s for
SqueezeNet, 7 s for ShuffleNet, 80 s for the 550 MB VGG19, on one core) and says what an int8 runtime would really hold: the quantiser drops some ops
(Relu folds into the Q range) and keeps others in float, so it can differ from the what-if.

Models run in parallel, one process per model (``ProcessPoolExecutor``, as many workers as
cores); the table, the share of models fitting per stage and budget, and a CSV come out.
A model that fails to load or plan is reported in its row, not fatal to the study.
"""
from __future__ import annotations

import inspect
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable, Sequence

STAGES = ("naive", "best", "order", "int8")
ALL_STAGES = STAGES + ("real-int8",)


@dataclass(frozen=True)
class StudyRow:
    model: str
    arenas: dict[str, int] = field(default_factory=dict)  # stage -> arena bytes
    lower_bounds: dict[str, int] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    stage_errors: dict[str, str] = field(default_factory=dict)  # a stage that failed alone
    quantize_seconds: float = 0.0

    def fits(self, stage: str, budget: int) -> bool | None:
        arena = self.arenas.get(stage)
        return None if arena is None else arena <= budget


@dataclass(frozen=True)
class StudySettings:
    algorithm: str
    order: str
    sharing: bool
    alignment: int = 16
    time_limit: float = 10.0
    real_int8: bool = False
    seed: int = 0  # of the real-int8 calibration inputs
    samples: int = 8  # real-int8 calibration samples

    @property
    def stages(self) -> tuple[str, ...]:
        return ALL_STAGES if self.real_int8 else STAGES

    def describe(self) -> dict[str, str]:
        return {"naive": "no reuse, no sharing (every activation its own bytes)",
                "best": f"file order, {self.algorithm}",
                "order": f"{self.order} order{' + sharing' if self.sharing else ' (sharing not available)'}, "
                         f"{self.algorithm}",
                "int8": "as 'order', every float tensor int8 (what-if)",
                "real-int8": f"as 'order', on the onnxruntime static QDQ int8 model (seed {self.seed}, "
                             f"{self.samples} random calibration samples), Q/DQ fused"}


def default_settings(time_limit: float = 10.0, alignment: int = 16, *, real_int8: bool = False) -> StudySettings:
    """What the installed memplan offers: `best` allocator, `heuristic` order, sharing."""
    from ..alloc import ALGORITHMS
    from ..planner import plan
    from ..order.schedule import SCHEDULERS

    algorithm = "best" if "best" in ALGORITHMS else "greedy_by_size"
    order = "heuristic" if "heuristic" in SCHEDULERS else "file"
    sharing = "sharing" in inspect.signature(plan).parameters
    return StudySettings(algorithm, order, sharing, alignment, time_limit, real_int8)


def _plan(graph, settings: StudySettings, *, algorithm: str, order: str, sharing: bool):
    from ..alloc import get_algorithm
    from ..planner import plan

    accepted = inspect.signature(get_algorithm(algorithm)).parameters
    options = {"time_limit": settings.time_limit} if "time_limit" in accepted else {}
    if "sharing" in inspect.signature(plan).parameters:  # explicit: the planner's default may share
        from ..memory_model import Sharing

        options["sharing"] = Sharing() if sharing else Sharing.off()
    if "order_options" in inspect.signature(plan).parameters:
        options["order_options"] = {"time_limit": settings.time_limit}
    return plan(graph, algorithm=algorithm, order=order, alignment=settings.alignment, **options)


def study_model(spec: str, settings: StudySettings) -> StudyRow:
    """Every stage for one model (a path or ``zoo:NAME``). Runs in a worker process."""
    import time

    from .. import load
    from ..errors import MemplanError
    from ..graph.quantize import with_dtype

    start = time.perf_counter()
    arenas, bounds = {}, {}
    try:
        graph = load(spec)
        base = _plan(graph, settings, algorithm=settings.algorithm, order="file", sharing=False)
        arenas["naive"], bounds["naive"] = base.naive_bytes, base.lower_bound_bytes
        arenas["best"], bounds["best"] = base.arena_bytes, base.lower_bound_bytes
        best = _plan(graph, settings, algorithm=settings.algorithm, order=settings.order, sharing=settings.sharing)
        order = settings.order
        if best.arena_bytes > base.arena_bytes and not settings.sharing:  # file order is a candidate too
            best, order = base, "file"
        elif settings.sharing and settings.order != "file":
            shared_file = _plan(graph, settings, algorithm=settings.algorithm, order="file", sharing=True)
            if shared_file.arena_bytes < best.arena_bytes:
                best, order = shared_file, "file"
        arenas["order"], bounds["order"] = best.arena_bytes, best.lower_bound_bytes
        small = _plan(with_dtype(graph, "int8"), settings, algorithm=settings.algorithm, order=order,
                      sharing=settings.sharing)
        arenas["int8"], bounds["int8"] = small.arena_bytes, small.lower_bound_bytes
    except MemplanError as exc:
        return StudyRow(spec, arenas, bounds, str(exc), time.perf_counter() - start)
    stage_errors, quantize_seconds = {}, 0.0
    if settings.real_int8:
        try:
            real, quantize_seconds = _real_int8(spec, settings, order)
            arenas["real-int8"], bounds["real-int8"] = real.arena_bytes, real.lower_bound_bytes
        except MemplanError as exc:
            stage_errors["real-int8"] = str(exc)
    return StudyRow(spec, arenas, bounds, "", time.perf_counter() - start, stage_errors, quantize_seconds)


def _real_int8(spec: str, settings: StudySettings, order: str):
    """(plan of the fused QDQ int8 model, seconds spent quantising)."""
    import tempfile
    import time

    from .. import load
    from ..graph.quantize import fold_qdq, quantize_model

    with tempfile.TemporaryDirectory(prefix="memplan-study-") as tmp:
        out = os.path.join(tmp, "int8.onnx")
        start = time.perf_counter()
        quantize_model(spec, out, seed=settings.seed, samples=settings.samples)
        seconds = time.perf_counter() - start
        graph = fold_qdq(load(out))
    return _plan(graph, settings, algorithm=settings.algorithm, order=order, sharing=settings.sharing), seconds


def run_study(models: Sequence[str], settings: StudySettings, *, jobs: int | None = None,
              progress: Callable[[StudyRow], None] | None = None) -> list[StudyRow]:
    """Rows in the order of ``models``. ``jobs``: worker processes (default: all cores;
    1 runs in this process). ``progress`` is called once per finished model."""
    jobs = jobs or os.cpu_count() or 1
    rows: dict[str, StudyRow] = {}
    if jobs == 1 or len(models) <= 1:
        for m in models:
            rows[m] = study_model(m, settings)
            if progress:
                progress(rows[m])
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(models))) as pool:
            futures = {pool.submit(study_model, m, settings): m for m in models}
            for fut in as_completed(futures):
                row = fut.result()
                rows[futures[fut]] = row
                if progress:
                    progress(row)
    return [rows[m] for m in models]


def stages_of(rows: Sequence[StudyRow]) -> tuple[str, ...]:
    """The stages the rows ran: the four base ones, and ``real-int8`` when any row has it."""
    extra = any("real-int8" in r.arenas or "real-int8" in r.stage_errors for r in rows)
    return ALL_STAGES if extra else STAGES


def shares(rows: Sequence[StudyRow], budgets: Sequence[int]) -> dict[tuple[str, int], float]:
    """(stage, budget) -> fraction of the models whose arena fits, among those where that
    stage planned."""
    out = {}
    for s in stages_of(rows):
        ok = [r for r in rows if not r.error and s in r.arenas]
        for b in budgets:
            out[(s, b)] = sum(bool(r.fits(s, b)) for r in ok) / len(ok) if ok else 0.0
    return out


def to_csv(rows: Sequence[StudyRow], budgets: Sequence[int]) -> str:
    """One line per model and stage: arena, lower bound, and fits (0/1) per budget."""
    import csv
    import io

    from ..units import format_size

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["model", "stage", "arena_bytes", "lower_bound_bytes"]
               + [f"fits_{format_size(b).replace(' ', '')}" for b in budgets] + ["error"])
    for r in rows:
        for s in stages_of(rows):
            if s in r.arenas:
                w.writerow([r.model, s, r.arenas[s], r.lower_bounds.get(s, "")]
                           + [int(r.arenas[s] <= b) for b in budgets] + [""])
            elif s in r.stage_errors:
                w.writerow([r.model, s, "", ""] + [""] * len(budgets) + [r.stage_errors[s]])
        if r.error:
            w.writerow([r.model, "", "", ""] + [""] * len(budgets) + [r.error])
    return out.getvalue()


def markdown(rows: Sequence[StudyRow], budgets: Sequence[int]) -> str:
    """The study table (arena per stage, fits per budget) and the share row, as Markdown."""
    from ..units import format_size

    names = [format_size(b) for b in budgets]
    stages = stages_of(rows)
    head = ["model"] + list(stages)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"| {r.model} | " + " | ".join(["error"] * len(stages)) + " |")
            continue
        lines.append(f"| {r.model} | " + " | ".join(cell(r, s, budgets) for s in stages) + " |")
    share = shares(rows, budgets)
    for b, name in zip(budgets, names):
        lines.append(f"| **fits {name}** | " + " | ".join(f"{share[(s, b)]:.0%}" for s in stages) + " |")
    return "\n".join(lines)


def cell(row: StudyRow, stage: str, budgets: Sequence[int]) -> str:
    """``3.93 MiB ✗✓``: the arena and a mark per budget; ``error`` for a failed stage."""
    from ..units import format_size

    if stage not in row.arenas:
        return "error" if stage in row.stage_errors else "-"
    return f"{format_size(row.arenas[stage])} " + "".join("✓" if row.fits(stage, b) else "✗" for b in budgets)
