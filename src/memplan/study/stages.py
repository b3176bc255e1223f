"""The stages of a grid study and the settings that decide a cell besides its model,
device, dtype, stage and budget. Stages (`STAGES`, extensible with `register_stage`):

=============  =========================================================================
``naive``      no reuse: file order, every buffer its own bytes (allocator ``naive``)
``best``       file order, no sharing, the study's allocator
``order``      the better of the ``heuristic`` order and the file order, sharing on
``int8``       ``order`` on the graph with every float tensor int8 (what-if); fixes the dtype
``real-int8``  ``order`` on the onnxruntime static-QDQ int8 model, Q/DQ fused (ONNX only);
               fixes the dtype
``tiled``      patch-based execution under the cell's budget (`memplan.study.tiled`,
               registered there; uses the budget)
=============  =========================================================================

Most stages do not depend on the budget: their cells have ``budget = 0`` and a budget is
applied when the results are read (fits = arena <= budget). A stage registered with
``uses_budget=True`` (such as a ``tiled`` stage that tiles until the arena fits) gets one
cell per budget and sees it in `StageInput.budget`. A stage with a fixed ``dtype`` (``int8``,
``real-int8``) runs once per model and device whatever the dtype axis says, with that dtype.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import InputError

DEFAULT_STAGES = ("naive", "best", "order", "int8")


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
    max_overhead: float = 0.15  # tiled: the most extra MACs a tiling may cost

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        if out["max_overhead"] == 0.15:  # added later: at its default, the keys of older studies stay valid
            del out["max_overhead"]
        return out

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
        raise InputError(f"--stages: unknown stage {unknown[0]!r}; choose from: {', '.join(STAGES)}")
    return tuple(dict.fromkeys(names))


def check_dtypes(names: Sequence[str]) -> tuple[str, ...]:
    from ..graph.quantize import DTYPES

    for n in names:
        if n not in DTYPES:
            raise InputError(f"--dtypes: unknown dtype {n!r}; choose from: {', '.join(DTYPES)}")
    return tuple(dict.fromkeys(names))
