"""TensorFlow Lite Micro: memplan's plan as TFLM's offline plan, and proof in the runtime.

TFLM reads an offline plan from the model's metadata entry ``OfflineMemoryAllocation``
(``micro_allocation_info.cc``): a buffer of little-endian int32 words
``[version=1, subgraph=0, number of tensors, offset of tensor 0, offset of tensor 1, …]``,
one offset per tensor of every subgraph; ``-1`` lets TFLM plan that tensor itself. Offsets
are relative to the start of TFLM's planned region (the arena *head*). TFLM ignores the
offset of a tensor it never plans (a constant, a variable, a zero-byte tensor). Its
``GreedyMemoryPlanner`` puts the offline buffers at their offsets without checking them and
then places the online ones (the ``-1`` tensors and every kernel *scratch buffer*) greedily
in the gaps, so the head TFLM reports is memplan's arena plus whatever scratch does not fit
in a gap. Each buffer's size is rounded up to 16 bytes (``MicroArenaBufferAlignment``),
so plans for TFLM use an alignment that is a multiple of 16.

TFLM runs the operators in file order. When memplan's order differs, ``export_model``
writes the operators in memplan's order: lifetimes are defined by that order, so the file
must follow it.

``fold_fp16_dequantize``: converters store weights as float16 behind ``DEQUANTIZE`` ops
that TFLM cannot run (its kernel dequantizes int8/int16/uint8 only). The helper replaces
each ``DEQUANTIZE(constant float16)`` by the float32 constant it computes (exactly
``float16 -> float32``, as the op would), removes the op, and drops the tensors and buffers
nothing uses any more. ``DENSIFY`` of a constant sparse tensor is folded the same way
(TFLM has no DENSIFY kernel). Everything else — other metadata, signatures, buffers —
is kept.

Files are written with the schema's object API (``tflite-micro``'s ``schema_py_generated``)
and then re-aligned by TFLM's own ``tflite_flatbuffer_align`` so buffer data keeps the
16-byte alignment the schema asks for.
"""
from __future__ import annotations

import os
import re
import struct
import tempfile
from dataclasses import dataclass

import numpy as np

from ..errors import MemplanError, PlanError
from ..graph.tflite import TFLiteModel, from_model, parse_model, schema
from ..graph.tflite_edit import to_bytes

OFFLINE_METADATA = "OfflineMemoryAllocation"
TFLM_ALIGNMENT = 16
ONLINE = -1
DEFAULT_ARENA = 64 << 20


class RuntimeFailure(MemplanError):
    """TFLite Micro refused or failed to run a model."""


# --- the offline plan -----------------------------------------------------------------------------

def offline_offsets(tfl: TFLiteModel, plan) -> list[int]:
    """One int32 per tensor: memplan's arena offset, or -1 where TFLM plans (or ignores) it."""
    offsets = plan.tensor_offsets
    return [offsets.get(name, ONLINE) for name in tfl.names]


def offline_words(offsets: list[int], subgraph: int = 0) -> bytes:
    return struct.pack(f"<{3 + len(offsets)}i", 1, subgraph, len(offsets), *offsets)


def read_offline_plan(data: bytes) -> list[int] | None:
    """The offsets stored under ``OfflineMemoryAllocation``, or None when there are none."""
    model = parse_model(data)
    for m in model.metadata or []:
        if _text(m.name) == OFFLINE_METADATA:
            raw = np.asarray(model.buffers[m.buffer].data, dtype=np.uint8).tobytes()
            words = struct.unpack(f"<{len(raw) // 4}i", raw)
            return list(words[3:3 + words[2]])
    return None


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


def check_plan_for_tflm(tfl: TFLiteModel, plan) -> None:
    if plan.alignment % TFLM_ALIGNMENT:
        raise PlanError(f"TFLite Micro aligns every arena buffer to {TFLM_ALIGNMENT} bytes; plan with "
                        f"--alignment {TFLM_ALIGNMENT} (or a larger power of two), not {plan.alignment}")
    if sorted(plan.order) != sorted(op.name for op in tfl.graph.ops):
        raise PlanError(f"the plan is for a different model: its operators are not those of "
                        f"{tfl.graph.source}")
    from ..limits import INT32_MAX

    far = [b for b in plan.buffers if b.offset + b.size > INT32_MAX]
    if far:
        raise PlanError(f"buffer {far[0].id} ends at byte {far[0].offset + far[0].size}, beyond TFLite Micro's "
                        f"int32 offsets (at most {INT32_MAX})")
    shared = [b for b in plan.buffers if len(b.tensors) > 1 and not _concat_in_place(tfl.graph, b.names)]
    if shared:
        raise PlanError(f"buffer {shared[0].id} holds several tensors ({', '.join(shared[0].names)}); "
                        f"TFLite Micro cannot share storage between tensors: plan without in-place sharing")


def _concat_in_place(graph, names) -> bool:
    """A buffer holding CONCATENATION outputs and their inputs at their slices (memplan's
    concat sharing, possibly nested): TFLM runs it as it is, its concat kernel copying each
    input onto itself. Every member but one is an input of a concat whose output is a member."""
    members = set(names)
    hosted = set()
    for name in members:
        p = graph.producer.get(name)
        op = graph.ops[p] if p is not None else None
        if op is not None and op.op_type == "CONCATENATION" and op.outputs[0] == name:
            hosted |= members & set(op.inputs)
    return len(members - hosted) == 1


def export_model(tfl: TFLiteModel, plan) -> bytes:
    """The model with ``plan`` as its offline plan, operators in the plan's order.

    Existing metadata and buffers are kept; an existing ``OfflineMemoryAllocation`` entry is
    replaced. The tensor list is not renumbered, so offsets index the same tensors."""
    fb = schema()
    check_plan_for_tflm(tfl, plan)
    model = tfl.model
    sg = model.subgraphs[0]
    position = {op.name: op.attrs["index"] for op in tfl.graph.ops}
    original = list(sg.operators or [])
    words = offline_words(offline_offsets(tfl, plan))
    buffer = fb.BufferT(data=np.frombuffer(words, dtype=np.uint8).copy())
    old_ops, old_buffers, old_metadata = sg.operators, model.buffers, model.metadata
    try:
        sg.operators = [original[position[name]] for name in plan.order]
        metadata = [m for m in (model.metadata or []) if _text(m.name) != OFFLINE_METADATA]
        model.buffers = list(model.buffers) + [buffer]
        metadata.append(fb.MetadataT(name=OFFLINE_METADATA, buffer=len(model.buffers) - 1))
        model.metadata = metadata
        return to_bytes(model)
    finally:  # the parsed model stays as it was read
        sg.operators, model.buffers, model.metadata = old_ops, old_buffers, old_metadata


def load_bytes(data: bytes, source: str) -> TFLiteModel:
    return from_model(parse_model(data, source), source=source)


# --- running TFLM ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunResult:
    """One inference in TFLM: its outputs and the arena it reported (bytes)."""

    outputs: tuple[np.ndarray, ...]
    head: int          # the planned, non-persistent region ("Arena allocation head")
    tail: int          # persistent runtime structs ("Arena allocation tail")
    used: int          # head + tail ("Arena allocation total")
    log: str


_ARENA = re.compile(r"Arena allocation (head|tail|total) (\d+) bytes")


def parse_allocations(log: str) -> dict[str, int]:
    """``{"head": N, "tail": N, "total": N}`` from ``print_allocations()`` output."""
    return {k: int(v) for k, v in _ARENA.findall(log)}


def seeded_inputs(tfl: TFLiteModel, seed: int = 0) -> list[np.ndarray]:
    """Deterministic inputs: uniform in [-1, 1) for floats, the full range for integers."""
    rng = np.random.default_rng(seed)
    arrays = []
    for name in tfl.graph.inputs:
        t = tfl.graph.tensors[name]
        dtype = np.dtype(t.dtype)
        if dtype.kind == "f":
            arrays.append(rng.uniform(-1.0, 1.0, t.shape).astype(dtype))
        elif dtype.kind == "b":
            arrays.append(rng.integers(0, 2, t.shape).astype(dtype))
        else:
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, info.max, t.shape, endpoint=True).astype(dtype))
    return arrays


class _CaptureFd:
    """Collect what native code writes to a file descriptor (TFLM logs to stderr)."""

    def __init__(self, fd: int = 2):
        self.fd, self.text = fd, ""

    def __enter__(self):
        self.tmp = tempfile.TemporaryFile()
        self.saved = os.dup(self.fd)
        os.dup2(self.tmp.fileno(), self.fd)
        return self

    def __exit__(self, *exc):
        os.dup2(self.saved, self.fd)
        os.close(self.saved)
        self.tmp.seek(0)
        self.text = self.tmp.read().decode("utf-8", "replace")
        self.tmp.close()
        return False


def run(data: bytes, inputs: list[np.ndarray], *, arena_size: int = DEFAULT_ARENA) -> RunResult:
    """Run one inference in ``tflite_micro.runtime.Interpreter`` and read back its arena."""
    try:
        from tflite_micro import runtime
    except ImportError:
        raise RuntimeFailure("running TFLite Micro needs the tflite extra; from a clone of memplan: "
                             "pip install -e '.[tflite]' (or make, which installs it)") from None
    capture = _CaptureFd()
    try:
        with capture:
            interpreter = runtime.Interpreter.from_bytes(bytes(data), arena_size=arena_size)
            for i, array in enumerate(inputs):
                interpreter.set_input(array, i)
            interpreter.invoke()
            interpreter.print_allocations()
    except (RuntimeError, ValueError) as exc:
        reason = "; ".join(line for line in capture.text.splitlines() if line.strip())[:300]
        raise RuntimeFailure(f"TFLite Micro could not run the model: {exc}{' (' + reason + ')' if reason else ''}") \
            from None
    count = schema().Model.GetRootAs(bytearray(data), 0).Subgraphs(0).OutputsLength()
    outputs = [np.array(interpreter.get_output(i), copy=True) for i in range(count)]
    sizes = parse_allocations(capture.text)
    if "head" not in sizes:
        raise RuntimeFailure("TFLite Micro did not report its arena (no 'Arena allocation head' line)")
    return RunResult(tuple(outputs), sizes["head"], sizes.get("tail", 0), sizes.get("total", 0), capture.text)


@dataclass(frozen=True)
class Verification:
    """TFLM with its own planner against TFLM with memplan's offline plan, same input."""

    tflm: RunResult
    memplan: RunResult
    plan_arena: int
    lower_bound: int

    @property
    def identical(self) -> bool:
        a, b = self.tflm.outputs, self.memplan.outputs
        return len(a) == len(b) and all(x.shape == y.shape and x.dtype == y.dtype and
                                        x.tobytes() == y.tobytes() for x, y in zip(a, b))


def verify(original: bytes, planned: bytes, tfl: TFLiteModel, plan, *, seed: int = 0,
           arena_size: int = DEFAULT_ARENA) -> Verification:
    """Run ``original`` (TFLM plans) and ``planned`` (memplan's offline plan) on one seeded input."""
    inputs = seeded_inputs(tfl, seed)
    return Verification(run(original, inputs, arena_size=arena_size), run(planned, inputs, arena_size=arena_size),
                        plan.arena_bytes, plan.lower_bound_bytes)
