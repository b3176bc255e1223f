"""Reading an ONNX file: the protobuf with its external data, one-line errors for a missing,
garbage or truncated file, and ONNX element types as memplan's dtype names. Shared by the
importer (`graph.onnx`) and the model summary (`graph.model_io`)."""
from __future__ import annotations

import os

import numpy as np

from ..errors import ModelError
from .ir import DTYPE_BITS


def read_model(path: str):
    import onnx
    from google.protobuf.message import DecodeError

    if not os.path.exists(path):
        raise ModelError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelError(f"{path}: is a directory, not an ONNX file")
    try:
        model = onnx.load(path, load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError, TypeError) as exc:
        raise ModelError(f"{path}: not a readable ONNX model ({short_error(exc)})") from None
    _load_external_data(model, path)
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{path}: not an ONNX model (no graph found)")
    return model


def _load_external_data(model, path: str) -> None:
    """Weights stored beside the model: a missing file is named, not left to onnx's checker."""
    from onnx.external_data_helper import _get_all_tensors, load_external_data_for_model, uses_external_data

    base = os.path.dirname(path)
    for tensor in _get_all_tensors(model):
        if uses_external_data(tensor):
            location = next((e.value for e in tensor.external_data if e.key == "location"), "")
            if not os.path.isfile(os.path.join(base, location)):
                raise ModelError(f"{path}: external data file {location!r} of tensor {tensor.name!r} is missing "
                                 f"(looked in {base or '.'})")
    try:
        load_external_data_for_model(model, base)
    except Exception as exc:  # noqa: BLE001 - onnx raises checker and OS errors here
        raise ModelError(f"{path}: cannot load the external data ({short_error(exc)})") from None


def short_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def dtype_name(elem_type: int) -> str:
    import onnx

    try:
        np_type = onnx.helper.tensor_dtype_to_np_dtype(elem_type)
        name = np.dtype(np_type).name
    except Exception:
        name = ""
    try:
        enum = onnx.TensorProto.DataType.Name(elem_type).lower() if elem_type else "undefined"
    except ValueError:  # a number no ONNX version defines (a damaged file)
        raise ModelError(f"unknown tensor element type {elem_type}") from None
    special = {"bfloat16": "bfloat16", "int4": "int4", "uint4": "uint4", "string": "string",
               "float8e4m3fn": "float8e4m3fn", "float8e4m3fnuz": "float8e4m3fnuz",
               "float8e5m2": "float8e5m2", "float8e5m2fnuz": "float8e5m2fnuz",
               "float4e2m1": "float4e2m1", "float8e8m0": "float8e8m0", "int2": "int2", "uint2": "uint2"}
    if enum in special:
        return special[enum]
    if name in DTYPE_BITS:
        return name
    raise ModelError(f"unsupported tensor element type {enum}")
