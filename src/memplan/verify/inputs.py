"""A user's real input for ``memplan verify --inputs FILE.npz``: arrays by input name.

Every array must name a graph input and match its planned shape and dtype exactly (the
plan was made for that shape; a silent cast would verify something else than what the user
gave). An input whose dimensions are dynamic in the model takes its shape from its array
unless ``--input-shape`` sets it. Inputs the file does not hold are seeded random, as without
the option. Each problem is one line naming the file, the input and what the model expects.
"""
from __future__ import annotations

import zipfile

import numpy as np

from ..errors import InputError


def load_inputs(npz_path: str, graph, label: str, *, pinned=frozenset()) -> dict[str, np.ndarray]:
    """The arrays of ``npz_path`` checked against ``graph``'s inputs (``label``: the model
    as the user named it). ``pinned``: inputs folded into the plan as constants (see
    ``pinned_values``); their arrays are left to ``input_feeds``."""
    arrays = _read(npz_path)
    known = ", ".join(graph.inputs) or "none"
    inputs = {}
    for name, value in arrays.items():
        if name in pinned:
            continue
        if name not in graph.inputs:
            raise InputError(f"{npz_path}: {name!r} is not an input of {label} (inputs: {known})")
        t = graph.tensors[name]
        want_dtype = np.dtype(t.dtype)
        if value.dtype != want_dtype:
            raise InputError(f"{npz_path}: input {name!r} is {value.dtype}, but {label} takes {want_dtype}")
        if tuple(value.shape) != tuple(t.shape):
            raise InputError(f"{npz_path}: input {name!r} has shape {_dims(value.shape)}, but {label} is planned "
                             f"for {_dims(t.shape)} (set dynamic dimensions with --input-shape {name}="
                             f"{','.join(str(d) for d in value.shape) or 'SHAPE'})")
        inputs[name] = value
    return inputs


def dynamic_input_shapes(npz_path: str, model_path: str, given: tuple[str, ...] = ()) -> tuple[str, ...]:
    """``--input-shape`` specs (``name=d0,d1,..``) from the file's arrays, for the model's
    inputs that have dynamic dimensions and no ``--input-shape`` of their own: a real input
    fixes its own shape. A rank that does not fit is left to ``load_inputs`` to report."""
    import onnx

    arrays = _read(npz_path)
    named = {spec.rpartition("=")[0] for spec in given}
    try:
        graph = onnx.load(model_path, load_external_data=False).graph
    except Exception:  # noqa: BLE001  (an unreadable model: the importer says why, in one line)
        return ()
    weights = {t.name for t in graph.initializer}
    specs = []
    for vi in graph.input:
        if vi.name in weights or vi.name in named or vi.name not in arrays:
            continue
        dims = vi.type.tensor_type.shape.dim
        value = arrays[vi.name]
        dynamic = any(not d.HasField("dim_value") or d.dim_value <= 0 for d in dims)
        if dynamic and value.ndim == len(dims) and value.ndim > 0:
            specs.append(f"{vi.name}={','.join(str(d) for d in value.shape)}")
    return tuple(specs)


def control_inputs(model_path: str) -> set[str]:
    """Graph inputs that an ``If`` condition or a ``Loop``'s trip count or condition is
    computed from (a sample rate choosing a branch)."""
    import onnx

    from ..graph.fold import depends_on_inputs

    try:
        g = onnx.load(model_path, load_external_data=False).graph
    except Exception:  # noqa: BLE001  (an unreadable model: the importer says why, in one line)
        return set()
    deciding = []
    for node in g.node:
        if node.op_type == "If":
            deciding.append(node.input[0])
        elif node.op_type == "Loop":
            deciding += [t for t in node.input[:2] if t]
    return set(depends_on_inputs(g, deciding)) if deciding else set()


def pinned_values(npz_path: str, model_path: str, given) -> dict[str, np.ndarray]:
    """The file's arrays for inputs that decide control flow and that ``--input-value`` does
    not pin already: the plan takes the branch the user's real input takes."""
    arrays = _read(npz_path)
    return {name: arrays[name] for name in sorted(control_inputs(model_path))
            if name in arrays and name not in given}


def input_feeds(model_path: str, values, label: str) -> dict[str, np.ndarray]:
    """Pinned input values typed and shaped as the model declares the inputs: the plan holds
    them as constants, onnxruntime still reads them as inputs."""
    import onnx

    from ..graph.fold import _as_input_array

    if not values:
        return {}
    declared = {i.name: i for i in onnx.load(model_path, load_external_data=False).graph.input}
    return {name: _as_input_array(name, np.asarray(value), declared[name].type.tensor_type, label)
            for name, value in values.items() if name in declared}


def _read(npz_path: str) -> dict[str, np.ndarray]:
    try:
        data = np.load(npz_path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise InputError(f"{npz_path}: not an .npz archive (save one with numpy.savez(path, name=array))")
        with data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise InputError(f"{npz_path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{npz_path}: is a directory, not an .npz file") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise InputError(f"{npz_path}: cannot read it as an .npz archive ({reason})") from None


def _dims(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"
