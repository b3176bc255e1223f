"""Editing a ``.tflite`` flatbuffer: write a model back to bytes (aligned buffers), and fold
``DEQUANTIZE`` of float16 constants and ``DENSIFY`` of sparse ones into float32 / dense
constants, as TFLite Micro needs them and as memplan plans them."""
from __future__ import annotations

import os
import tempfile

import numpy as np

from ..errors import ModelError
from .tflite_schema import opcode_name, parse_model, schema


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
