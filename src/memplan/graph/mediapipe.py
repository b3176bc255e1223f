"""The fourteen real ``.tflite`` models inside the ``mediapipe==0.10.14`` wheel.

Nothing is downloaded at run time: ``python -m memplan.graph.mediapipe fetch`` (run by ``make``'s
install step) asks pip to download the wheel from PyPI once, without installing it, and
unzips just the ``.tflite`` files (Apache-2.0, 28 MB) into ``models_dir()``: by default
``<venv>/share/memplan/mediapipe``, or ``$MEMPLAN_MEDIAPIPE_DIR``. Every file is checked
against its SHA-256. ``model_path(name)`` raises a one-line `ModelError` saying how to
fetch them when they are absent.

Eleven of them run in TensorFlow Lite Micro once their float16 weights are folded
(``tflite_edit.fold_fp16_dequantize``); three use MediaPipe custom ops TFLM does not have.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

from ..errors import ModelError

WHEEL = "mediapipe==0.10.14"
# The wheel for one platform: every platform's wheel carries the same model files.
PLATFORM = ("--platform", "manylinux_2_17_x86_64", "--python-version", "3.11", "--only-binary=:all:")

MODELS = {
    "face_detection_full_range_sparse": "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    "face_detection_short_range": "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    "face_landmark": "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    "face_landmark_with_attention": "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4",
    "hand_landmark_full": "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
    "hand_landmark_lite": "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6",
    "hand_recrop": "67d996ce96f9d36fe17d2693022c6da93168026ab2f028f9e2365398d8ac7d5d",
    "iris_landmark": "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
    "palm_detection_full": "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
    "palm_detection_lite": "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18",
    "pose_detection": "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "pose_landmark_full": "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    "selfie_segmentation": "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    "selfie_segmentation_landscape": "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
}
# MediaPipe custom ops (Landmarks2TransformMatrix, Convolution2DTransposeBias…) that TFLM lacks.
TFLM_UNSUPPORTED = frozenset({"face_landmark_with_attention", "selfie_segmentation",
                              "selfie_segmentation_landscape"})
TFLM_MODELS = tuple(name for name in MODELS if name not in TFLM_UNSUPPORTED)


def models_dir() -> str:
    return os.environ.get("MEMPLAN_MEDIAPIPE_DIR") or os.path.join(sys.prefix, "share", "memplan", "mediapipe")


def model_path(name: str) -> str:
    if name not in MODELS:
        raise ModelError(f"unknown mediapipe model {name!r}; choose one of: {', '.join(MODELS)}")
    path = os.path.join(models_dir(), f"{name}.tflite")
    if not os.path.exists(path):
        raise ModelError(f"{path} is missing: run `make` (or `python -m memplan.graph.mediapipe fetch`) to unpack the "
                         f"models from the {WHEEL} wheel")
    return path


def available() -> bool:
    return all(os.path.exists(os.path.join(models_dir(), f"{n}.tflite")) for n in MODELS)


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fetch(dest: str | None = None) -> str:
    """Download the wheel with pip (no install) and unpack the models; idempotent."""
    dest = dest or models_dir()
    if all(os.path.exists(os.path.join(dest, f"{n}.tflite")) and _sha256(os.path.join(dest, f"{n}.tflite")) == h
           for n, h in MODELS.items()):
        return dest
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="memplan-mediapipe-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, *PLATFORM,
                        "--dest", tmp], check=True)
        wheel = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                name = os.path.basename(member).removesuffix(".tflite")
                if member.endswith(".tflite") and name in MODELS:
                    data = zf.read(member)
                    if hashlib.sha256(data).hexdigest() != MODELS[name]:
                        raise ModelError(f"{member} in {WHEEL} does not have the expected SHA-256")
                    with open(os.path.join(dest, f"{name}.tflite"), "wb") as f:
                        f.write(data)
    missing = [n for n in MODELS if not os.path.exists(os.path.join(dest, f"{n}.tflite"))]
    if missing:
        raise ModelError(f"{WHEEL} did not contain {', '.join(missing)}")
    return dest


if __name__ == "__main__":
    if sys.argv[1:] != ["fetch"]:
        sys.exit("usage: python -m memplan.graph.mediapipe fetch")
    print(f"mediapipe models in {fetch()}")
