"""A model's real inputs and outputs (never its weights) with their dims and dtypes.

What `memplan inputs MODEL` prints and what an `--input-shape` error lists. It reads only the
graph's declared inputs and outputs, so it works on models whose shapes are dynamic (the ones
that need `--input-shape`), where the full import would stop.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Port:
    """One graph input or output. ``dims`` holds ints, or a dim's symbolic name (``'N'``,
    ``'batch'``) or None when the file leaves it open; ``dims`` is None when the file gives
    no shape at all."""

    name: str
    dims: tuple | None
    dtype: str

    @property
    def dims_text(self) -> str:
        if self.dims is None:
            return "[?]"
        return "[" + ",".join("?" if d is None else str(d) for d in self.dims) + "]"

    @property
    def is_static(self) -> bool:
        return self.dims is not None and all(isinstance(d, int) for d in self.dims)

    def __str__(self) -> str:
        return f"{self.name} {self.dims_text} {self.dtype}"


def onnx_ports(model) -> tuple[list[Port], list[Port]]:
    """(inputs, outputs) of an ``onnx.ModelProto``; graph inputs that are initializers are
    weights (older exporters list them as inputs) and are left out."""
    weights = {t.name for t in model.graph.initializer}
    inputs = [_onnx_port(vi) for vi in model.graph.input if vi.name not in weights]
    return inputs, [_onnx_port(vi) for vi in model.graph.output]


def _onnx_port(vi) -> Port:
    from ..errors import ModelError
    from .onnx_file import dtype_name

    tt = vi.type.tensor_type
    try:
        dtype = dtype_name(tt.elem_type) if tt.elem_type else "?"
    except ModelError:
        dtype = str(tt.elem_type)
    if not tt.HasField("shape"):
        return Port(vi.name, None, dtype)
    dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim)
    return Port(vi.name, dims, dtype)


def tflite_ports(model) -> tuple[list[Port], list[Port]]:
    """(inputs, outputs) of a parsed TFLite ``ModelT`` (its first subgraph). A dim of -1 in
    ``shape_signature`` is dynamic; the planner uses ``shape``."""
    from .tflite import _enum_names, schema, tensor_names

    sg = model.subgraphs[0]
    names = tensor_names(sg)
    type_names = _enum_names(schema().TensorType)

    def port(i: int) -> Port:
        t = sg.tensors[i]
        dims = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        return Port(names[i], dims, type_names.get(t.type, str(t.type)).lower())

    return [port(i) for i in (sg.inputs if sg.inputs is not None else ())], \
        [port(i) for i in (sg.outputs if sg.outputs is not None else ())]


def model_ports(path: str, tflite: bool, source: str | None = None) -> tuple[list[Port], list[Port]]:
    """Inputs and outputs of the model file at ``path`` (``.onnx`` or ``.tflite``)."""
    if tflite:
        from .tflite import read_model

        return tflite_ports(read_model(path))
    from .onnx_file import read_model

    return onnx_ports(read_model(path))


def ports_text(ports: list[Port]) -> str:
    """``data_0 [1,3,224,224] float``, comma-separated: one line for an error message."""
    return ", ".join(str(p) for p in ports) or "none"
