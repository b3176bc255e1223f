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

from .errors import MemplanError, ModelError, PlanError
from .tflite_import import TFLiteModel, from_model, opcode_name, parse_model, schema

OFFLINE_METADATA = "OfflineMemoryAllocation"
TFLM_ALIGNMENT = 16
ONLINE = -1
DEFAULT_ARENA = 64 << 20


class RuntimeFailure(MemplanError):
    """TFLite Micro refused or failed to run a model."""


# --- reading and writing -----------------------------------------------------------------------

def to_bytes(model) -> bytes:
    """Serialise a ``ModelT`` and realign its buffers with TFLM's own aligner."""
    import flatbuffers

    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return _align(bytes(builder.Output()))


def _align(data: bytes) -> bytes:
    try:
        from tflite_micro.tensorflow.lite.micro.tools import tflite_flatbuffer_align_wrapper as aligner
    except ImportError:
        return data
    with tempfile.TemporaryDirectory(prefix="memplan-tflm-") as tmp:
        src, dst = os.path.join(tmp, "in.tflite"), os.path.join(tmp, "out.tflite")
        with open(src, "wb") as f:
            f.write(data)
        aligner.align_tflite_model(src, dst)
        with open(dst, "rb") as f:
            return f.read()


def _ints(values) -> list[int]:
    return [int(v) for v in values] if values is not None else []


# --- folding -------------------------------------------------------------------------------------

def fold_fp16_dequantize(data: bytes, source: str = "<tflite>") -> bytes:
    """Fold ``DEQUANTIZE(float16 constant)`` and ``DENSIFY(constant)`` into float32/dense
    constants so TFLM can run the model; returns the new file (unchanged if nothing folds)."""
    fb = schema()
    model = parse_model(data, source)
    sg = model.subgraphs[0]
    buffers = model.buffers
    keep, folded = [], 0
    for op in sg.operators or []:
        name = opcode_name(model, op.opcodeIndex)
        ins, outs = _ints(op.inputs), _ints(op.outputs)
        if name in ("DEQUANTIZE", "DENSIFY") and len(ins) == 1 and len(outs) == 1:
            src, dst = sg.tensors[ins[0]], sg.tensors[outs[0]]
            value = _constant_value(src, buffers, fb)
            if value is not None and (name == "DENSIFY" or src.type == fb.TensorType.FLOAT16):
                if name == "DEQUANTIZE":
                    value = value.astype(np.float32)
                    dst_type = fb.TensorType.FLOAT32
                else:
                    dst_type = src.type
                if dst.type != dst_type or tuple(_ints(dst.shape)) != value.shape:
                    raise ModelError(f"{source}: {name} output {dst.name!r} does not match its folded value")
                buffers.append(fb.BufferT(data=np.frombuffer(value.tobytes(), dtype=np.uint8).copy()))
                dst.buffer = len(buffers) - 1
                folded += 1
                continue
        keep.append(op)
    if not folded:
        return data
    sg.operators = keep
    # A folded value may itself feed another fold (DENSIFY -> DEQUANTIZE): repeat until stable.
    return fold_fp16_dequantize(to_bytes(compact(model)), source)


def _constant_value(t, buffers, fb) -> np.ndarray | None:
    """The dense value of a constant tensor (sparse tensors densified), or None."""
    if not 0 < t.buffer < len(buffers) or buffers[t.buffer].data is None or len(buffers[t.buffer].data) == 0:
        return None
    np_type = {fb.TensorType.FLOAT16: np.float16, fb.TensorType.FLOAT32: np.float32,
               fb.TensorType.INT8: np.int8, fb.TensorType.INT32: np.int32,
               fb.TensorType.UINT8: np.uint8, fb.TensorType.INT16: np.int16}.get(t.type)
    if np_type is None:
        return None
    flat = np.frombuffer(np.asarray(buffers[t.buffer].data, dtype=np.uint8).tobytes(), dtype=np_type)
    shape = tuple(_ints(t.shape))
    if t.sparsity is None:
        return flat.reshape(shape) if flat.size == int(np.prod(shape, dtype=np.int64)) else None
    return densify(flat, shape, t.sparsity)


def densify(values: np.ndarray, shape: tuple[int, ...], sparsity) -> np.ndarray:
    """TFLite's sparse format to a dense array (``sparsity_format_converter.cc``'s SparseToDense).

    The stored order visits the expanded dimensions (the original ones, then one per block
    dimension) in ``traversalOrder``; a DENSE level iterates ``denseSize`` positions, a
    SPARSE_CSR level the indices between two segment entries. A leaf writes the next value."""
    order = _ints(sparsity.traversalOrder)
    block_map = _ints(sparsity.blockMap)
    levels = sparsity.dimMetadata
    rank = len(shape)
    block_size = [levels[order.index(rank + k)].denseSize for k in range(len(block_map))]
    # Walk the levels breadth-first: one row per node, in storage order at every level.
    pos = np.zeros(1, dtype=np.int64)
    coords = np.zeros((1, len(order)), dtype=np.int64)
    for level, meta in enumerate(levels):
        if meta.format == 0:  # DENSE
            size = meta.denseSize
            child = (pos[:, None] * size + np.arange(size)).ravel()
            coord = np.tile(np.arange(size), len(pos))
            parent = np.repeat(np.arange(len(pos)), size)
        else:  # SPARSE_CSR
            segs = np.asarray(_vector(meta.arraySegments), dtype=np.int64)
            idx = np.asarray(_vector(meta.arrayIndices), dtype=np.int64)
            counts = segs[pos + 1] - segs[pos]
            parent = np.repeat(np.arange(len(pos)), counts)
            child = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + segs[pos][parent]
            coord = idx[child]
        coords = coords[parent]
        coords[:, order[level]] = coord
        pos = child
    index = coords[:, :rank].copy()
    for k, d in enumerate(block_map):
        index[:, d] = index[:, d] * block_size[k] + coords[:, rank + k]
    dense = np.zeros(shape, dtype=values.dtype)
    dense[tuple(index.T)] = values[:len(index)]
    return dense


def _vector(union) -> np.ndarray:
    """The values of an Int32Vector / Uint16Vector / Uint8Vector union member."""
    values = getattr(union, "values", None)
    return np.asarray(values if values is not None else [], dtype=np.int64)


def compact(model):
    """Drop the tensors and buffers nothing references any more, renumbering the rest."""
    for sg in model.subgraphs:
        used: set[int] = set(_ints(sg.inputs)) | set(_ints(sg.outputs))
        for op in sg.operators or []:
            used.update(_ints(op.inputs))
            used.update(_ints(op.outputs))
            used.update(_ints(op.intermediates))
        for sig in model.signatureDefs or []:
            if sig.subgraphIndex == model.subgraphs.index(sg):
                used.update(m.tensorIndex for m in (sig.inputs or []) + (sig.outputs or []))
        used.discard(-1)
        kept = sorted(used)
        new = {old: i for i, old in enumerate(kept)}
        sg.tensors = [sg.tensors[i] for i in kept]

        def remap(values):
            return [new.get(v, -1) if v >= 0 else v for v in _ints(values)] if values is not None else values

        sg.inputs, sg.outputs = remap(sg.inputs), remap(sg.outputs)
        for op in sg.operators or []:
            op.inputs, op.outputs = remap(op.inputs), remap(op.outputs)
            if op.intermediates is not None:
                op.intermediates = remap(op.intermediates)
        for sig in model.signatureDefs or []:
            if sig.subgraphIndex == model.subgraphs.index(sg):
                for m in (sig.inputs or []) + (sig.outputs or []):
                    m.tensorIndex = new[m.tensorIndex]
    used_buffers = {0} | {t.buffer for sg in model.subgraphs for t in sg.tensors or []}
    used_buffers |= {m.buffer for m in model.metadata or []} | set(_ints(model.metadataBuffer))
    kept = sorted(b for b in used_buffers if 0 <= b < len(model.buffers))
    new = {old: i for i, old in enumerate(kept)}
    model.buffers = [model.buffers[i] for i in kept]
    for sg in model.subgraphs:
        for t in sg.tensors or []:
            t.buffer = new.get(t.buffer, 0)
    for m in model.metadata or []:
        m.buffer = new[m.buffer]
    if model.metadataBuffer is not None:
        model.metadataBuffer = [new[b] for b in _ints(model.metadataBuffer)]
    return model


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
    shared = [b for b in plan.buffers if len(b.tensors) > 1]
    if shared:
        raise PlanError(f"buffer {shared[0].id} holds several tensors ({', '.join(shared[0].names)}); "
                        f"TFLite Micro cannot share storage between tensors: plan without in-place sharing")


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
