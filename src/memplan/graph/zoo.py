"""The real model-zoo graphs that ship inside the ``onnx`` wheel (no download).

``onnx/backend/test/data/light/`` holds nine classic ImageNet networks whose large weights
are built by ``ConstantOfShape`` nodes (all 0.02), so the files are small while every shape
is the real one. ``zoo:<name>`` works wherever a model path does.
"""
from __future__ import annotations

import os

from ..errors import ModelError

MODELS = {
    "alexnet": "light_bvlc_alexnet.onnx",
    "densenet121": "light_densenet121.onnx",
    "inception_v1": "light_inception_v1.onnx",
    "inception_v2": "light_inception_v2.onnx",
    "resnet50": "light_resnet50.onnx",
    "shufflenet": "light_shufflenet.onnx",
    "squeezenet": "light_squeezenet.onnx",
    "vgg19": "light_vgg19.onnx",
    "zfnet512": "light_zfnet512.onnx",
}
PREFIX = "zoo:"


def zoo_dir() -> str:
    import onnx

    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def zoo_path(name: str) -> str:
    key = name.lower().removeprefix(PREFIX).replace("-", "").replace("_", "")
    match = next((k for k in MODELS if k.replace("_", "") == key), None)
    if match is None:
        raise ModelError(f"unknown zoo model {name!r}; choose one of: {', '.join(MODELS)}")
    path = os.path.join(zoo_dir(), MODELS[match])
    if not os.path.exists(path):
        raise ModelError(f"zoo model {match!r} is not in the installed onnx wheel ({path})")
    return path


def resolve(spec: str) -> tuple[str, str]:
    """(path, display name) for a model spec: ``zoo:<name>``, ``corpus:<name>`` or a file path."""
    if spec.startswith(PREFIX):
        return zoo_path(spec), spec
    if spec.startswith("corpus:"):
        from .corpus import model_path

        return model_path(spec), spec
    return spec, spec
