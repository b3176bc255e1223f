"""The tiled model as an ordinary ``.tflite`` file that TFLite Micro runs: row strips of an
NHWC stage, each written in place into the stage output.

``tile_tflite(data, until, grid)`` replaces the stage's operators by one copy per strip
(``grid`` is ``ROWSx1``). In NHWC a strip of rows is a contiguous slice of the stage output,
so the strips are assembled by one ``CONCATENATION`` along H that memplan's plan builds in
place (`memplan.memory_model`'s concat sharing: every strip's last op writes straight into
its rows of the output, and TFLM's concat kernel then copies each strip onto itself); no
assembling copy is planned. Strips need no column split, so every column keeps the model's
own padding.

TFLM's Conv and pool kernels know only SAME and VALID padding, so each windowed op of a
strip gets:

- ``VALID`` when the strip needs no padding (interior rows of a VALID op),
- ``SAME`` when TFLite's SAME rule on the strip's input gives exactly the strip's padding,
- otherwise an explicit ``PAD`` (zeros, or the zero point when quantised: the value SAME
  padding stands for) before a ``VALID`` op; a max pool is padded by ``PADV2`` with the
  lowest value (which its SAME padding never selects); an average pool, whose SAME padding
  is left out of the count, cannot be padded so and is refused.

A strip reads its rows of a graph input, or of a tensor it computed on more rows than one
reader needs (branches with different kernels), through a ``SLICE``. A ``PAD`` inside the
stage gets its own ``paddings`` per strip (border strips keep the model's, interior none).
Weights are shared by all strips; the stage output keeps its tensor index, so the rest of
the graph is untouched. Receptive fields come from `receptive` on the NCHW view
(`receptive_tflite.nchw_view`).
"""
from __future__ import annotations

import copy

import numpy as np

from ..errors import ModelError
from ..graph.tflite_edit import compact, to_bytes
from ..graph.tflite_schema import parse_model, schema
from .receptive import AxisNeeds, find_stage, grid_needs, stage_macs
from .receptive_tflite import CONV_TYPES, PAD_TYPES, POOL_TYPES, nchw_view, pad_pairs
from .rewrite import Tiled

MAX_CONCAT = 10  # kMaxInputNum of TFLM's concatenation kernel
LOWEST = {"float32": np.finfo(np.float32).min, "int8": -128, "int16": -32768, "uint8": 0}


def check_strips(grid: tuple[int, int]) -> None:
    if grid[1] != 1:
        raise ModelError(f"--grid {grid[0]}x{grid[1]}: a .tflite model is tiled in row strips (ROWSx1, e.g. 8x1), "
                         f"which NHWC stores contiguously, so each strip is written in place")


def tile_tflite(data: bytes, until: str, grid: tuple[int, int], *, source: str = "<tflite>", view=None) -> Tiled:
    """``data`` (a ``.tflite``, unchanged) with the stage ending at operator ``until``
    computed in ``grid[0]`` row strips; ``Tiled.model`` is the new file's bytes."""
    from ..formats.tflm import load_bytes

    check_strips(grid)
    tfl = load_bytes(data, source)
    view = view or nchw_view(tfl)
    stage = find_stage(view, until)
    row_needs, col_needs = grid_needs(view, stage, grid)
    model = parse_model(data, source)
    writer = _Writer(model, tfl, view, stage)
    outs = [writer.strip(r, rows, col_needs[0]) for r, rows in enumerate(row_needs)]
    writer.assemble(outs)
    sg = model.subgraphs[0]
    members = {view.ops[i].attrs["index"] for i in stage.ops}
    at = view.ops[stage.ops[-1]].attrs["index"]
    old = list(sg.operators)
    sg.operators = ([op for k, op in enumerate(old[:at]) if k not in members] + writer.ops
                    + old[at + 1:])
    whole, tiled = stage_macs(view, stage, row_needs, col_needs)
    width = view.tensors[stage.output].shape[-1]
    patches = tuple(((n.extent[stage.output]), (0, width)) for n in row_needs)
    return Tiled(to_bytes(compact(model)), until, tuple(grid), 0, whole, tiled, stage.output, patches)


class _Writer:
    """Appends the strips' tensors, buffers, operator codes and operators to ``model``."""

    def __init__(self, model, tfl, view, stage):
        self.fb = schema()
        self.model, self.tfl, self.view, self.stage = model, tfl, view, stage
        self.sg = model.subgraphs[0]
        self.ops: list = []

    # --- tensors and operators ---------------------------------------------------------------
    def _tensor(self, like: int, name: str, shape) -> int:
        """A new activation tensor with tensor ``like``'s type and quantisation."""
        t = copy.deepcopy(self.sg.tensors[like])
        t.name, t.shape, t.shapeSignature, t.buffer = name, [int(d) for d in shape], None, 0
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def _constant(self, name: str, value: np.ndarray, type_name: str) -> int:
        t = self.fb.TensorT()
        t.name, t.shape, t.type = name, list(value.shape), getattr(self.fb.TensorType, type_name)
        self.model.buffers.append(self.fb.BufferT(data=np.frombuffer(value.tobytes(), dtype=np.uint8).copy()))
        t.buffer = len(self.model.buffers) - 1
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def _opcode(self, name: str) -> int:
        code = getattr(self.fb.BuiltinOperator, name)
        for k, c in enumerate(self.model.operatorCodes):
            if max(c.builtinCode, c.deprecatedBuiltinCode) == code:
                return k
        new = self.fb.OperatorCodeT()
        new.builtinCode, new.deprecatedBuiltinCode, new.version = code, min(code, 127), 1
        self.model.operatorCodes.append(new)
        return len(self.model.operatorCodes) - 1

    def _op(self, name: str, inputs, outputs, options_name: str | None = None, **options):
        op = self.fb.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = self._opcode(name), list(inputs), list(outputs)
        if options_name:
            op.builtinOptionsType = getattr(self.fb.BuiltinOptions, options_name)
            op.builtinOptions = getattr(self.fb, options_name + "T")()
            for key, value in options.items():
                setattr(op.builtinOptions, key, value)
        self.ops.append(op)

    def _shape(self, index: int) -> list[int]:
        return [int(d) for d in self.sg.tensors[index].shape]

    # --- one strip -------------------------------------------------------------------------------
    def strip(self, r: int, rows: AxisNeeds, cols: AxisNeeds) -> int:
        """Emit strip ``r``'s operators; return its output tensor's index."""
        view, stage, names = self.view, self.stage, self.tfl.index
        local: dict[str, tuple[int, tuple]] = {}  # stage tensor -> (strip tensor index, (rows, cols) held)
        tag = f"__p{r}"
        for i in stage.ops:
            op = view.ops[i]
            kind = op.attrs["tflite"]
            orig = self.sg.operators[op.attrs["index"]]
            new = copy.deepcopy(orig)
            inputs = [int(t) for t in orig.inputs]
            for k, t in enumerate(inputs):
                name = self.tfl.names[t] if t >= 0 else ""
                if not name or view.tensors[name].kind == "weight":
                    self._check_weight(op, name)
                    continue
                need = (rows.reads[(i, name)], cols.reads[(i, name)])
                inputs[k] = self._read(name, names[name], local, need, f"{name}{tag}")
            out_name = op.outputs[0]
            extent = (rows.extent[out_name], cols.extent[out_name])
            shape = self._shape(names[out_name])
            shape[1], shape[2] = extent[0][1] - extent[0][0], extent[1][1] - extent[1][0]
            out = self._tensor(names[out_name], f"{out_name}{tag}", shape)
            if i in stage.windows:
                pads = (rows.pads[i], cols.pads[i])
                if kind in PAD_TYPES:
                    inputs[1] = self._paddings(op, pads, f"{out_name}{tag}__paddings")
                else:
                    inputs[0] = self._window_padding(op, kind, new, inputs[0], pads, shape, f"{out_name}{tag}")
            new.inputs, new.outputs = inputs, [out]
            self.ops.append(new)
            local[out_name] = (out, extent)
        return local[stage.output][0]

    def _check_weight(self, op, name: str) -> None:
        """A constant read by a pointwise op must not vary over space (it is not sliced)."""
        if name and op.op_type not in ("Conv",) and op.attrs["tflite"] not in PAD_TYPES:
            shape = self.view.tensors[name].shape
            if len(shape) == 4 and (shape[2] > 1 or shape[3] > 1):
                raise ModelError(f"node {op.name!r}: its constant {name!r} varies over rows or columns; "
                                 f"tiling does not slice constants")

    def _read(self, name: str, index: int, local, need, tag: str) -> int:
        """The tensor a strip op reads: the strip's own, or a SLICE of it (or of a graph input)."""
        if name in local:
            base, have = local[name]
        else:
            shape = self.view.tensors[name].shape
            base, have = index, ((0, shape[-2]), (0, shape[-1]))
        if need == have:
            return base
        full = self._shape(base)
        begin = [0, need[0][0] - have[0][0], need[1][0] - have[1][0], 0]
        size = [full[0], need[0][1] - need[0][0], need[1][1] - need[1][0], full[3]]
        out = self._tensor(base, f"{tag}__slice{len(self.ops)}", size)
        b = self._constant(f"{tag}__slice{len(self.ops)}__begin", np.array(begin, np.int32), "INT32")
        s = self._constant(f"{tag}__slice{len(self.ops)}__size", np.array(size, np.int32), "INT32")
        self._op("SLICE", [base, b, s], [out], "SliceOptions")
        return out

    def _paddings(self, op, pads, name: str) -> int:
        """A stage PAD's own paddings for this strip (the channels' as in the model)."""
        pairs = pad_pairs(self.tfl.graph, op)
        pairs[1], pairs[2] = list(pads[0]), list(pads[1])
        return self._constant(name, np.array(pairs, np.int32), "INT32")

    def _window_padding(self, op, kind: str, new, x: int, pads, out_shape, tag: str) -> int:
        """Set SAME or VALID on the strip's Conv/pool; return its data input (PADded if needed)."""
        fb = self.fb
        (pt, pb), (pl, pr) = pads
        attrs = op.attrs
        shape = self._shape(x)
        if not any((pt, pb, pl, pr)):
            new.builtinOptions.padding = fb.Padding.VALID
            return x
        if _same_pads(shape[1], out_shape[1], attrs, 0) == (pt, pb) and \
                _same_pads(shape[2], out_shape[2], attrs, 1) == (pl, pr):
            new.builtinOptions.padding = fb.Padding.SAME
            return x
        if kind == "AVERAGE_POOL_2D":
            raise ModelError(f"node {op.name!r}: a strip would need padding on one side only, which an "
                             f"AVERAGE_POOL_2D cannot take (SAME leaves padding out of its count); choose another "
                             f"split or grid")
        padded = [shape[0], shape[1] + pt + pb, shape[2] + pl + pr, shape[3]]
        out = self._tensor(x, f"{tag}__pad", padded)
        paddings = self._constant(f"{tag}__paddings", np.array([[0, 0], [pt, pb], [pl, pr], [0, 0]], np.int32),
                                  "INT32")
        if kind in POOL_TYPES:  # max pool: padding must never win the max
            dtype = _dtype_of(self.sg.tensors[x], fb)
            if dtype not in LOWEST:
                raise ModelError(f"node {op.name!r}: cannot pad a {dtype} max pool for a strip")
            low = self._constant(f"{tag}__low", np.array([LOWEST[dtype]], dtype=dtype), _TYPE_NAMES[dtype])
            if self.sg.tensors[x].quantization is not None:
                self.sg.tensors[low].quantization = copy.deepcopy(self.sg.tensors[x].quantization)
            self._op("PADV2", [x, paddings, low], [out], "PadV2Options")
        else:
            assert kind in CONV_TYPES
            self._op("PAD", [x, paddings], [out], "PadOptions")
        new.builtinOptions.padding = fb.Padding.VALID
        return out

    def assemble(self, outs: list[int]) -> None:
        """CONCATENATION along H into the stage output (built in place by the plan). TFLM's
        concat takes at most ``MAX_CONCAT`` inputs: more strips are concatenated in groups
        first (each group's output a slice of the stage output too, so also in place)."""
        target = self.tfl.index[self.stage.output]
        if len(outs) > MAX_CONCAT:
            groups = [outs[k:k + MAX_CONCAT] for k in range(0, len(outs), MAX_CONCAT)]
            outs = [self._group(g, target, k) for k, g in enumerate(groups)]
        self._op("CONCATENATION", outs, [target], "ConcatenationOptions", axis=1, fusedActivationFunction=0)

    def _group(self, strips: list[int], like: int, k: int) -> int:
        if len(strips) == 1:
            return strips[0]
        shape = self._shape(like)
        shape[1] = sum(self._shape(s)[1] for s in strips)
        out = self._tensor(like, f"{self.stage.output}__group{k}", shape)
        self._op("CONCATENATION", strips, [out], "ConcatenationOptions", axis=1, fusedActivationFunction=0)
        return out


_TYPE_NAMES = {"float32": "FLOAT32", "int8": "INT8", "int16": "INT16", "uint8": "UINT8"}


def _dtype_of(tensor, fb) -> str:
    names = {getattr(fb.TensorType, v): k for k, v in _TYPE_NAMES.items()}
    return names.get(tensor.type, "unknown")


def _same_pads(size_in: int, size_out: int, attrs, axis: int) -> tuple[int, int] | None:
    """TFLite's SAME padding of one axis for this input size, or None if SAME would not give
    ``size_out`` outputs."""
    k, s = attrs["kernel_shape"][axis], attrs["strides"][axis]
    d = attrs.get("dilations", [1, 1])[axis]
    out = -(-size_in // s)
    if out != size_out:
        return None
    total = max((out - 1) * s + (k - 1) * d + 1 - size_in, 0)
    return total // 2, total - total // 2
