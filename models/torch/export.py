"""Export the corpus's PyTorch models (random weights, small widths) to ONNX, beside this file.

    python3 -m venv /work/torchenv
    /work/torchenv/bin/pip install torch==2.13.0 onnx onnxscript transformers==5.23.0
    /work/torchenv/bin/python models/torch/export.py [NAME ...]

Each model is exported twice where the exporter can: ``NAME_ts.onnx`` by the TorchScript
exporter (``dynamo=False``) and ``NAME_dynamo.onnx`` by the torch.export-based one, because
users bring both. Weights are seeded (``torch.manual_seed``), so a re-export writes the same
model. The TorchScript exports keep some dimensions dynamic (batch, sequence, width) so that
planning them needs ``--input-shape``; src/memplan/corpus.py lists the shapes.
"""
from __future__ import annotations

import os
import sys
import warnings

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


# ---------------------------------------------------------------- Hugging Face transformers

def bert_encoder():
    """BERT-style encoder, padding mask as the second input (as every HF encoder export)."""
    from transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=256, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64)
    model = _HFOutput(BertModel(cfg), "last_hidden_state")
    ids = torch.randint(0, 256, (1, 16))
    mask = torch.ones(1, 16, dtype=torch.int64)
    return model, (ids, mask), ["input_ids", "attention_mask"], ["last_hidden_state"], \
        {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}


def gpt_decoder():
    """GPT-2-style decoder: causal mask (and padding mask), LM head tied to the token embedding."""
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=256, n_embd=32, n_layer=2, n_head=4, n_positions=64, use_cache=False,
                     tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)
    model = _HFOutput(GPT2LMHeadModel(cfg), "logits")
    ids = torch.randint(0, 256, (1, 16))
    mask = torch.ones(1, 16, dtype=torch.int64)  # as Optimum's exports: without it HF traces torch.diff
    return model, (ids, mask), ["input_ids", "attention_mask"], ["logits"], \
        {"input_ids": {1: "sequence"}, "attention_mask": {1: "sequence"}}


def gpt_vocab():
    """GPT-2-style decoder with a large vocabulary at small width, LM head NOT tied: the token
    embedding (6144 x 16) is read only through Gather(input_ids), the rows of 16 tokens."""
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=6144, n_embd=16, n_layer=2, n_head=2, n_positions=16, use_cache=False,
                     tie_word_embeddings=False, bos_token_id=0, eos_token_id=0)
    model = _HFOutput(GPT2LMHeadModel(cfg), "logits")
    ids = torch.randint(0, 6144, (1, 16))
    mask = torch.ones(1, 16, dtype=torch.int64)
    return model, (ids, mask), ["input_ids", "attention_mask"], ["logits"], {}


def vit():
    """ViT: patch embedding by a strided Conv, class token, position embeddings, encoder."""
    from transformers import ViTConfig, ViTModel

    cfg = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                    num_attention_heads=4, intermediate_size=64)
    model = _HFOutput(ViTModel(cfg, add_pooling_layer=False), "last_hidden_state", ("pixel_values",))
    return model, (torch.randn(1, 3, 32, 32),), ["pixel_values"], ["last_hidden_state"], {}


def whisper_encoder():
    """Whisper's audio encoder: two Conv1d (GELU) over log-mel frames, then transformer layers."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    cfg = WhisperConfig(num_mel_bins=40, d_model=32, encoder_layers=2, encoder_attention_heads=4,
                        encoder_ffn_dim=64, max_source_positions=50)
    model = _HFOutput(WhisperEncoder(cfg), "last_hidden_state", ("input_features",))
    return model, (torch.randn(1, 40, 100),), ["input_features"], ["last_hidden_state"], {}


class _HFOutput(nn.Module):
    """Return one named tensor of a Hugging Face model's output (a plain tensor exports cleanly)."""

    def __init__(self, model, key, names=("input_ids", "attention_mask")):
        super().__init__()
        self.model, self.key, self.names = model, key, names

    def forward(self, *args):
        return getattr(self.model(**dict(zip(self.names, args)), return_dict=True), self.key)


# ---------------------------------------------------------------- vision

def _conv_bn(cin, cout, k=3, stride=1, dilation=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding=dilation * (k // 2), dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


class UNet(nn.Module):
    """Two-level U-Net: MaxPool down, ConvTranspose up, skip connections by Concat."""

    def __init__(self, c=8, classes=2):
        super().__init__()
        self.d1 = nn.Sequential(_conv_bn(3, c), _conv_bn(c, c))
        self.d2 = nn.Sequential(_conv_bn(c, 2 * c), _conv_bn(2 * c, 2 * c))
        self.mid = nn.Sequential(_conv_bn(2 * c, 4 * c), _conv_bn(4 * c, 4 * c))
        self.u2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.c2 = nn.Sequential(_conv_bn(4 * c, 2 * c), _conv_bn(2 * c, 2 * c))
        self.u1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.c1 = nn.Sequential(_conv_bn(2 * c, c), _conv_bn(c, c))
        self.head = nn.Conv2d(c, classes, 1)

    def forward(self, x):
        a = self.d1(x)
        b = self.d2(F.max_pool2d(a, 2))
        m = self.mid(F.max_pool2d(b, 2))
        b = self.c2(torch.cat([self.u2(m), b], 1))
        a = self.c1(torch.cat([self.u1(b), a], 1))
        return self.head(a)


class DeepLab(nn.Module):
    """DeepLabV3-style: strided backbone, dilated convs, ASPP (1x1, three dilations, image
    pooling branch upsampled), bilinear upsampling to the input size."""

    def __init__(self, c=8, classes=3):
        super().__init__()
        self.backbone = nn.Sequential(_conv_bn(3, c, stride=2), _conv_bn(c, 2 * c, stride=2),
                                      _conv_bn(2 * c, 2 * c, dilation=2), _conv_bn(2 * c, 2 * c, dilation=4))
        self.aspp = nn.ModuleList([_conv_bn(2 * c, c, k=1)] + [_conv_bn(2 * c, c, dilation=d) for d in (2, 4, 6)])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(2 * c, c, 1), nn.ReLU())
        self.project = _conv_bn(5 * c, c, k=1)
        self.head = nn.Conv2d(c, classes, 1)

    def forward(self, x):
        f = self.backbone(x)
        branches = [b(f) for b in self.aspp]
        branches.append(F.interpolate(self.pool(f), size=f.shape[-2:], mode="bilinear", align_corners=False))
        y = self.head(self.project(torch.cat(branches, 1)))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


class SSD(nn.Module):
    """SSD-style detector: backbone, three feature maps, per-map loc/conf heads permuted to
    NHWC, reshaped to (N, boxes, 4) and (N, boxes, classes), concatenated, softmax scores."""

    def __init__(self, c=12, anchors=4, classes=5):
        super().__init__()
        self.stem = nn.Sequential(_conv_bn(3, c, stride=2), _conv_bn(c, c, stride=2))
        self.s1 = _conv_bn(c, 2 * c, stride=2)
        self.s2 = _conv_bn(2 * c, 2 * c, stride=2)
        self.s3 = _conv_bn(2 * c, 2 * c, stride=2)
        self.loc = nn.ModuleList([nn.Conv2d(2 * c, anchors * 4, 3, padding=1) for _ in range(3)])
        self.conf = nn.ModuleList([nn.Conv2d(2 * c, anchors * classes, 3, padding=1) for _ in range(3)])
        self.classes = classes

    def forward(self, x):
        f1 = self.s1(self.stem(x))
        f2 = self.s2(f1)
        f3 = self.s3(f2)
        n = x.shape[0]
        locs, confs = [], []
        for f, loc, conf in zip((f1, f2, f3), self.loc, self.conf):
            locs.append(loc(f).permute(0, 2, 3, 1).reshape(n, -1, 4))
            confs.append(conf(f).permute(0, 2, 3, 1).reshape(n, -1, self.classes))
        return torch.cat(locs, 1), torch.cat(confs, 1).softmax(-1)


def unet():
    return UNet(), (torch.randn(1, 3, 64, 64),), ["image"], ["mask"], {}


def deeplab():
    return DeepLab(), (torch.randn(1, 3, 64, 64),), ["image"], ["logits"], {}


def ssd():
    return SSD(), (torch.randn(1, 3, 96, 96),), ["image"], ["boxes", "scores"], {"image": {0: "batch"}}


# ---------------------------------------------------------------- audio and sequences

class KwsDSCNN(nn.Module):
    """Keyword spotting DS-CNN (Hello Edge) on 49 frames x 10 MFCCs: conv, depthwise-separable
    blocks, global average pool, linear."""

    def __init__(self, c=32, classes=12):
        super().__init__()
        layers = [nn.Conv2d(1, c, (10, 4), (2, 2), padding=(5, 1)), nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(3):
            layers += [nn.Conv2d(c, c, 3, padding=1, groups=c), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3))).softmax(-1)


class VadLSTM(nn.Module):
    """Streaming VAD: conv front end, two-layer LSTM with explicit state in and out."""

    def __init__(self, feats=40, hidden=32):
        super().__init__()
        self.front = nn.Sequential(nn.Conv1d(feats, hidden, 3, padding=1), nn.ReLU())
        self.lstm = nn.LSTM(hidden, hidden, num_layers=2, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x, h, c):
        y = self.front(x.transpose(1, 2)).transpose(1, 2)
        y, (h, c) = self.lstm(y, (h, c))
        return torch.sigmoid(self.out(y)), h, c


class VadGRU(nn.Module):
    """Bidirectional two-layer GRU over feature frames, then a per-frame classifier."""

    def __init__(self, feats=40, hidden=24):
        super().__init__()
        self.gru = nn.GRU(feats, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, x):
        y, _ = self.gru(x)
        return torch.sigmoid(self.out(y))


class SeqRNN(nn.Module):
    """Elman RNNs (tanh, and relu bidirectional): the third ONNX recurrent op."""

    def __init__(self, feats=16, hidden=16):
        super().__init__()
        self.rnn1 = nn.RNN(feats, hidden, batch_first=True)
        self.rnn2 = nn.RNN(hidden, hidden, nonlinearity="relu", bidirectional=True, batch_first=True)

    def forward(self, x):
        y, _ = self.rnn1(x)
        y, h = self.rnn2(y)
        return y, h


class CRNN(nn.Module):
    """CRNN OCR recogniser: conv stack to height 1, bidirectional LSTM over width, per-column
    class log-probabilities (CTC)."""

    def __init__(self, c=12, hidden=24, classes=37):
        super().__init__()
        self.cnn = nn.Sequential(_conv_bn(1, c), nn.MaxPool2d(2), _conv_bn(c, 2 * c), nn.MaxPool2d(2),
                                 _conv_bn(2 * c, 2 * c), nn.MaxPool2d((2, 1)), _conv_bn(2 * c, 2 * c),
                                 nn.MaxPool2d((4, 1)))
        self.rnn = nn.LSTM(2 * c, hidden, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, x):
        f = self.cnn(x).squeeze(2).permute(2, 0, 1)  # (width, batch, channels)
        y, _ = self.rnn(f)
        return self.fc(y).log_softmax(-1)


def kws_dscnn():
    return KwsDSCNN(), (torch.randn(1, 1, 49, 10),), ["mfcc"], ["probs"], {}


def vad_lstm():
    h = torch.zeros(2, 1, 32)
    return VadLSTM(), (torch.randn(1, 20, 40), h, h.clone()), ["features", "h", "c"], ["speech", "hn", "cn"], \
        {"features": {1: "frames"}}


def vad_gru_bidir():
    return VadGRU(), (torch.randn(1, 20, 40),), ["features"], ["speech"], {}


def seq_rnn():
    return SeqRNN(), (torch.randn(1, 12, 16),), ["x"], ["y", "h"], {}


def crnn_ocr():
    return CRNN(), (torch.randn(1, 1, 32, 96),), ["image"], ["log_probs"], {"image": {3: "width"}}


# ---------------------------------------------------------------- mixture of experts

class MoEBlock(nn.Module):
    """Pre-norm transformer block whose MLP is a top-2-of-8 mixture of experts: a linear
    router, TopK, softmax over the two chosen logits, expert weights gathered by index from
    stacked (experts, d, h) tensors, batched matmuls, a weighted sum."""

    def __init__(self, d=32, heads=4, hidden=64, experts=8, k=2):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj, self.heads = nn.Linear(d, 3 * d), nn.Linear(d, d), heads
        self.router = nn.Linear(d, experts, bias=False)
        self.w1 = nn.Parameter(torch.randn(experts, d, hidden) * d ** -0.5)
        self.w2 = nn.Parameter(torch.randn(experts, hidden, d) * hidden ** -0.5)
        self.k = k

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attention(h)
        t = self.norm2(x).reshape(-1, x.shape[-1])               # (tokens, d)
        logits, idx = self.router(t).topk(self.k, dim=-1)         # (tokens, k)
        gate = logits.softmax(-1)
        w1, w2 = self.w1[idx], self.w2[idx]                       # (tokens, k, d, h), (tokens, k, h, d)
        hid = F.gelu(torch.einsum("td,tkdh->tkh", t, w1))
        y = torch.einsum("tkh,tkhd->tkd", hid, w2)
        y = (gate.unsqueeze(-1) * y).sum(1)
        return x + y.reshape(x.shape)

    def attention(self, h):
        b, n, d = h.shape
        q, k, v = self.qkv(h).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-1, -2) * (d // self.heads) ** -0.5).softmax(-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, d))


def moe_block():
    return MoEBlock(), (torch.randn(1, 8, 32),), ["x"], ["y"], {}


def moe_step():
    """The MoE block on one token (a decode step), wider experts: top-2 of 8 reads 2/8 of them."""
    return MoEBlock(hidden=128), (torch.randn(1, 1, 32),), ["x"], ["y"], {}


MODELS = {f.__name__: f for f in (bert_encoder, gpt_decoder, vit, whisper_encoder, unet, deeplab, ssd, kws_dscnn,
                                  vad_lstm, vad_gru_bidir, seq_rnn, crnn_ocr, moe_block, gpt_vocab, moe_step)}
TS_ONLY = {"gpt_vocab", "moe_step"}  # one export each keeps the repository small


def export(name: str) -> list[str]:
    torch.manual_seed(0)
    model, args, inputs, outputs, dynamic = MODELS[name]()
    model.eval()
    written = []
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = os.path.join(HERE, f"{name}_ts.onnx")
        torch.onnx.export(model, args, path, dynamo=False, opset_version=OPSET, input_names=inputs,
                          output_names=outputs, dynamic_axes=dynamic or None)
        written.append(path)
        path = os.path.join(HERE, f"{name}_dynamo.onnx")
        if name in TS_ONLY:
            return written
        try:
            program = torch.onnx.export(model, args, dynamo=True, opset_version=18, input_names=inputs,
                                        output_names=outputs, external_data=False, verbose=False)
            program.save(path, external_data=False)
            written.append(path)
        except Exception as exc:  # noqa: BLE001 - not every module exports through torch.export
            print(f"{name}: dynamo export failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return written


def strip_metadata(path: str) -> None:
    """Drop the exporters' per-node doc strings and metadata (source stack traces, module
    paths): they are most of a small model's bytes and nothing a planner reads."""
    import onnx

    model = onnx.load(path)
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        graph.doc_string = ""
        for node in graph.node:
            node.doc_string = ""
            del node.metadata_props[:]
            graphs += [a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH]
            graphs += [g for a in node.attribute for g in a.graphs]
        for info in list(graph.value_info) + list(graph.input) + list(graph.output) + list(graph.initializer):
            info.doc_string = ""
            del info.metadata_props[:]
    del model.metadata_props[:]
    onnx.save(model, path)


def main(names):
    for name in names or MODELS:
        for path in export(name):
            strip_metadata(path)
            print(f"{os.path.relpath(path)}  {os.path.getsize(path):,} B")


if __name__ == "__main__":
    main(sys.argv[1:])
