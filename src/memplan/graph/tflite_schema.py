"""The ``.tflite`` flatbuffer itself: the schema module (from ``tflite-micro``), reading and
parsing a file with one-line errors, operator and tensor names. Shared by the importer
(`graph.tflite`), the editor (`graph.tflite_edit`) and the TFLite Micro tools."""
from __future__ import annotations

import os

from ..errors import ModelError

MAGIC = b"TFL3"


def schema():
    """The flatbuffer schema module bundled with ``tflite-micro`` (object API included)."""
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated
    except ImportError:
        raise ModelError("reading .tflite needs the tflite extra; from a clone of memplan: "
                         "pip install -e '.[tflite]' (or make, which installs it)") from None
    return schema_py_generated


def _enum_names(enum_class) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)}


def opcode_name(model, opcode_index: int) -> str:
    """``CONV_2D``, … or the custom code of a custom op."""
    fb = schema()
    code = model.operatorCodes[opcode_index]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == fb.BuiltinOperator.CUSTOM:
        custom = code.customCode
        return custom.decode("utf-8", "replace") if isinstance(custom, bytes) else str(custom or "CUSTOM")
    return _enum_names(fb.BuiltinOperator).get(builtin, f"BUILTIN_{builtin}")


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


def tensor_names(subgraph) -> list[str]:
    """memplan's name for each tensor index: its own name if unique and non-empty."""
    raw = [_text(t.name) for t in subgraph.tensors or []]
    counts: dict[str, int] = {}
    for name in raw:
        counts[name] = counts.get(name, 0) + 1
    return [name if name and counts[name] == 1 else f"{name or 'tensor'}#{i}" for i, name in enumerate(raw)]


def read_model(path: str | os.PathLike):
    """The flatbuffer as a mutable ``ModelT`` (clear errors for a missing or non-TFLite file)."""
    path = str(path)
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelError(f"{path}: is a directory, not a .tflite file")
    with open(path, "rb") as f:
        data = f.read()
    return parse_model(data, path)


def parse_model(data: bytes, source: str = "<tflite>"):
    if len(data) < 8 or data[4:8] != MAGIC:
        raise ModelError(f"{source}: not a TFLite flatbuffer (no 'TFL3' identifier)")
    fb = schema()
    try:
        model = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as exc:  # flatbuffers raises struct/index errors on truncated input
        raise ModelError(f"{source}: not a readable TFLite model ({type(exc).__name__})") from None
    if not model.subgraphs:
        raise ModelError(f"{source}: the model has no subgraph")
    return model
