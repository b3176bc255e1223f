"""Quantisation: a what-if on the graph, and real int8 models made with onnxruntime.

``with_dtype(graph, "int8")`` answers "how much memory at int8?" instantly: it rewrites the
dtype of every floating-point tensor (activations and weights) and leaves integer tensors
(shapes, indices) alone, so the whole pipeline — order, lifetimes, offsets, validator,
placement — runs unchanged on the result. It is a *what-if*: scales, zero points and
accumulators of a real int8 kernel are not modelled.

``quantize_model(path, out_path, seed=0)`` makes a real QDQ int8 model with
``onnxruntime.quantization.quantize_static`` (static, MinMax calibration over seeded random
inputs unless the user gives calibration data), after ``quant_pre_process`` (shape inference
and graph optimisation; it folds constant sub-graphs such as the zoo's ``ConstantOfShape``
weights into initializers, which the quantiser needs to see weights at all).

A QDQ model, planned as written, carries float tensors between ``DequantizeLinear`` and
``QuantizeLinear``; a runtime fuses each ``DQ -> op -> Q`` into one int8 kernel.
``fold_qdq(graph)`` does that fusion on the Graph so the plan reflects int8 storage: every
``DequantizeLinear`` is bypassed (its readers read the int8 tensor), and every
``QuantizeLinear`` whose float input has it as the only reader is absorbed into the producer,
which then writes the int8 tensor directly.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import zipfile
from typing import Mapping

import numpy as np

from ..errors import InputError, ModelError
from ..fileio import check_output, write_atomic
from .ir import Graph

FLOAT_DTYPES = frozenset({"float32", "float64", "float16", "bfloat16"})
DTYPES = {"int8": "int8", "int16": "int16", "fp16": "float16", "fp32": "float32"}


def with_dtype(graph: Graph, dtype: str) -> Graph:
    """The same graph with every float tensor stored as ``dtype`` (int8, int16, fp16, fp32)."""
    if dtype not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}; choose one of: {', '.join(DTYPES)}")
    target = DTYPES[dtype]
    tensors = {name: dataclasses.replace(t, dtype=target) if t.dtype in FLOAT_DTYPES else t
               for name, t in graph.tensors.items()}
    return dataclasses.replace(graph, tensors=tensors, source=f"{graph.source or graph.name} @{dtype}")


def fold_qdq(graph: Graph) -> Graph:
    """Fuse QuantizeLinear/DequantizeLinear into their neighbours (see the module docstring)."""
    outputs = set(graph.outputs)
    rename: dict[str, str] = {}
    ops = []
    for op in graph.ops:  # bypass DequantizeLinear
        if op.op_type == "DequantizeLinear" and op.outputs[0] not in outputs:
            rename[op.outputs[0]] = rename.get(op.inputs[0], op.inputs[0])
            continue
        ops.append(op)
    const_dq = {op.outputs[0]: op.inputs[0] for op in graph.const_ops if op.op_type == "DequantizeLinear"}
    rename.update({f: q for f, q in const_dq.items() if f not in outputs})

    def fix(t: str) -> str:
        return rename.get(t, t)

    ops = [dataclasses.replace(op, inputs=tuple(fix(t) for t in op.inputs)) for op in ops]
    readers: dict[str, int] = {}
    for op in ops:
        for t in set(op.inputs):
            readers[t] = readers.get(t, 0) + 1
    producer = {t: k for k, op in enumerate(ops) for t in op.outputs if t}
    absorbed: dict[str, str] = {}  # float tensor -> the int8 tensor its producer now writes
    kept = []
    for op in ops:
        if op.op_type == "QuantizeLinear":
            src = op.inputs[0]
            if src in producer and readers.get(src) == 1 and src not in outputs and src not in graph.inputs:
                absorbed[src] = op.outputs[0]
                continue
        kept.append(op)
    kept = [dataclasses.replace(op, outputs=tuple(absorbed.get(t, t) for t in op.outputs)) for op in kept]
    used = {t for op in kept for t in op.inputs + op.outputs if t} | set(graph.inputs) | outputs
    tensors = {n: t for n, t in graph.tensors.items() if n in used}
    return dataclasses.replace(graph, ops=tuple(kept), tensors=tensors,
                               source=f"{graph.source or graph.name} (QDQ folded)")


class _RandomReader:
    """onnxruntime CalibrationDataReader over seeded random inputs (or given arrays)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._feeds = iter(feeds)

    def get_next(self):
        return next(self._feeds, None)


def calibration_feeds(graph: Graph, *, seed: int = 0, samples: int = 8,
                      data: Mapping[str, np.ndarray] | None = None) -> list[dict[str, np.ndarray]]:
    """One dict per calibration sample. ``data`` maps input name -> array with a leading sample
    axis (e.g. an ``.npz``); otherwise standard normal floats (uniform 0..9 for integer inputs)."""
    rng = np.random.default_rng(seed)
    if data is not None:
        missing = [n for n in graph.inputs if n not in data]
        if missing:
            raise InputError(f"calibration data has no array for input(s) {', '.join(missing)}")
        count = min(len(data[n]) for n in graph.inputs)
        return [{n: np.asarray(data[n][k]) for n in graph.inputs} for k in range(count)]
    feeds = []
    for _ in range(samples):
        feed = {}
        for name in graph.inputs:
            t = graph.tensors[name]
            if t.dtype in FLOAT_DTYPES:
                feed[name] = rng.standard_normal(t.shape).astype(t.dtype)
            else:
                feed[name] = rng.integers(0, 10, size=t.shape).astype(t.dtype)
        feeds.append(feed)
    return feeds


def quantize_model(path: str, out_path: str, seed: int = 0, calibration: str | Mapping | None = None, *,
                   samples: int = 8, preprocess: bool = True) -> dict:
    """Write a static QDQ int8 model of ``path`` to ``out_path`` (atomically). Returns notes:
    ``{"preprocessed": bool, "note": str, "samples": int}``."""
    from .onnx import load
    from .zoo import resolve

    src, name = resolve(path)
    graph = load(src, name=name)
    data = calibration
    if isinstance(calibration, str):
        try:
            data = dict(np.load(calibration))
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"{calibration}: cannot read calibration data ({exc}); give an .npz "
                             f"with one array per input, samples first") from None
    feeds = calibration_feeds(graph, seed=seed, samples=samples, data=data)
    check_output(out_path)
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    notes = {"preprocessed": False, "note": "", "samples": len(feeds)}
    with tempfile.TemporaryDirectory(prefix="memplan-quant-") as tmp:
        model_in = _initializers_not_inputs(src, os.path.join(tmp, "in.onnx"))
        if preprocess:
            pre = os.path.join(tmp, "pre.onnx")
            try:
                from onnxruntime.quantization.shape_inference import quant_pre_process

                quant_pre_process(model_in, pre, skip_symbolic_shape=True)
                model_in, notes["preprocessed"] = pre, True
            except ImportError as exc:  # optional dependencies of the pre-processor
                notes["note"] = f"pre-processing skipped ({exc})"
            except Exception as exc:  # noqa: BLE001 - onnxruntime raises many kinds here
                notes["note"] = f"pre-processing failed, quantising the model as is ({_short(exc)})"
        out_tmp = os.path.join(tmp, "out.onnx")
        try:
            quantize_static(model_in, out_tmp, _RandomReader(feeds), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax, per_channel=False)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"{path}: onnxruntime could not quantise the model ({_short(exc)})") from None
        with open(out_tmp, "rb") as f:  # the temporary directory may be on another file system
            write_atomic(out_path, f.read())
    return notes


def _initializers_not_inputs(src: str, dst: str) -> str:
    """Old-IR models (the zoo's) list initializers as graph inputs too, which tells onnxruntime
    they may be overridden, so nothing computed from them is folded and the quantiser asks for
    them as inputs. Drop them from the inputs (the one place besides ``onnx_import`` that edits
    a protobuf: the quantiser works on files)."""
    import onnx

    model = onnx.load(src)
    names = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in names]
    if len(inputs) == len(model.graph.input):
        return src
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    if model.ir_version < 4:
        model.ir_version = 4
    onnx.save(model, dst)
    return dst


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]
