"""Patch-based (tiled) execution after MCUNetV2: the first stage of a CNN computed patch by
patch, so only one patch's intermediates are live at a time.

``receptive`` finds the stage and propagates receptive fields, ``rewrite`` writes the tiled
ONNX model, ``search`` chooses the split and grid, ``prove`` runs the tiled plan against
onnxruntime on the original model. ``receptive_tflite``, ``tflite_rewrite`` and
``tflite_search`` do the same for ``.tflite`` models: NHWC row strips, assembled in place.
"""
from .rewrite import Tiled, load_proto, tile

__all__ = ["Tiled", "load_proto", "tile"]
