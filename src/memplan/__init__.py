"""memplan: decide where every byte of a neural network lives on a small device.

    >>> import memplan
    >>> graph = memplan.load("zoo:resnet50")
    >>> plan = memplan.plan(graph, algorithm="greedy_by_size", alignment=16)
    >>> plan.arena_bytes, plan.lower_bound_bytes
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import InputError, MemplanError, ModelError, PlanError

if TYPE_CHECKING:
    from .graph.ir import Graph, Op, Tensor
    from .planner import Plan, plan
    from .problem import Block, Problem, Solution

__version__ = "0.2.0"

# Imported on first use (PEP 562), so that ``import memplan`` (and every command-line start)
# loads neither numpy nor the planner until something needs them.
_LAZY = {"Graph": "graph.ir", "Op": "graph.ir", "Tensor": "graph.ir", "Plan": "planner", "plan": "planner",
         "Block": "problem", "Problem": "problem", "Solution": "problem"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load(model: str, *, input_shapes: dict[str, tuple[int, ...]] | None = None, fold: bool = True) -> "Graph":
    """Read an ONNX file (or ``zoo:NAME``), a ``.tflite`` file (or ``mediapipe:NAME``) into a
    Graph with static shapes. ``fold`` (TFLite): float16 weights behind ``DEQUANTIZE`` become
    float32 weights, as TFLite Micro needs them (`graph.tflite.load`)."""
    from .graph.onnx import load as load_onnx
    from .graph.zoo import resolve

    model = str(model)
    if model.lower().endswith(".tflite") or model.startswith("mediapipe:"):
        from .graph.mediapipe import model_path
        from .graph.tflite import load as load_tflite

        path = model_path(model.removeprefix("mediapipe:")) if model.startswith("mediapipe:") else model
        return load_tflite(path, input_shapes=input_shapes, name=model, fold=fold)
    path, name = resolve(model)
    return load_onnx(path, input_shapes=input_shapes, name=name)


__all__ = ["load", "plan", "Plan", "Graph", "Op", "Tensor", "Block", "Problem", "Solution",
           "MemplanError", "ModelError", "PlanError", "InputError"]
