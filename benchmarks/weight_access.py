"""Weights loaded only when read (issue 17): per model and device, the tiered placement
(``--weights auto``, bytes objective, ``--dtype int8``) with every weight treated as read
whole ("before") and with the weight access analysis ("after"): weights resident in RAM,
bytes moved per inference (expected and worst case), the estimated time, and whether it fits.

    PYTHONPATH=src .venv/bin/python benchmarks/weight_access.py [--devices cortex-m7,n64,n64:dma] [--dtype int8]

``DEVICE:dma`` is the device with its weights tier not addressable (read only by DMA copies,
no execute in place): both shipped devices let the compute read flash / cartridge ROM
directly, and there a weight read in part is best read in place (the rows only, no RAM).

Models: the committed ``corpus:gpt_vocab_ts`` (GPT-2 style, 6144-token vocabulary, width 16,
untied LM head) and ``corpus:moe_step_ts`` (transformer block on one token, top-2-of-8
experts); and, written to a temporary directory, the same two files scaled where the issue
points (a commit keeps them small): ``gpt_vocab@262144`` has its token embedding widened to
262,144 rows (Gemma's vocabulary size; the Gather's output and the rest of the model are
unchanged) and ``moe_step@E512`` has 512 experts (router, w1, w2 widened; still top 2).
Every scaled weight is seeded random.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

import memplan
from memplan.graph.corpus import model_path
from memplan.graph.quantize import with_dtype
from memplan.tiers.devices import load_device
from memplan.tiers.placement import place
from memplan.tiers.traffic import step_macs
from memplan.units import format_size


def widened(src: str, dst: str, sizes: dict[str, tuple[int, ...]], seed: int = 0) -> str:
    """``src`` with the initializers named in ``sizes`` replaced by seeded random tensors of
    those shapes (stale intermediate shapes dropped; memplan infers them again)."""
    model = onnx.load(src)
    rng = np.random.default_rng(seed)
    for init in model.graph.initializer:
        if init.name in sizes:
            value = (rng.standard_normal(sizes[init.name]) * 0.02).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(value, init.name))
    del model.graph.value_info[:]
    onnx.save(model, dst)
    return dst


def models(tmp: str) -> list[tuple[str, str]]:
    gpt, moe = model_path("gpt_vocab_ts"), model_path("moe_step_ts")
    return [("gpt_vocab_ts", gpt),
            ("gpt_vocab@262144", widened(gpt, os.path.join(tmp, "gpt.onnx"),
                                         {"model.transformer.wte.weight": (262144, 16)})),
            ("moe_step_ts", moe),
            ("moe_step@E512", widened(moe, os.path.join(tmp, "moe.onnx"),
                                      {"onnx::MatMul_126": (32, 512), "w1": (512, 32, 128), "w2": (512, 128, 32)}))]


def device_named(spec: str):
    """``NAME`` or ``NAME:dma`` (the weights tier not addressable)."""
    name, _, variant = spec.partition(":")
    device = load_device(name)
    if variant == "dma":
        tiers = tuple(dataclasses.replace(t, addressable=False) if not t.writable else t for t in device.tiers)
        device = dataclasses.replace(device, name=spec, tiers=tiers)
    return device


def row(name, graph, plan, device, partial):
    tp = place(graph, plan, device, partial=partial, macs=step_macs(graph, plan))
    resident = tp.mode_totals().get("resident", (0, 0))[1]
    big = max(graph.weights, key=lambda w: graph.tensors[w].nbytes)
    return [name, device.name, "after" if partial else "before", format_size(graph.weight_bytes),
            format_size(resident), f"{tp.bytes_moved:,}", f"{tp.bytes_moved_worst:,}", tp.weight_modes.get(big, "-"),
            f"{tp.seconds * 1e3:.3f}", "yes" if tp.fits else f"NO (short {format_size(tp.shortfall)})"]


HEAD = ["model", "device", "access", "weights", "resident", "moved / inf. expected B", "worst B",
        "largest weight's mode", "est. ms", "fits"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="cortex-m7,n64,cortex-m7:dma,n64:dma")
    parser.add_argument("--dtype", default="int8")
    args = parser.parse_args(argv)
    print("| " + " | ".join(HEAD) + " |")
    print("|" + "---|" * len(HEAD))
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in models(tmp):
            graph = memplan.load(path)
            if args.dtype != "fp32":
                graph = with_dtype(graph, args.dtype)
            plan = memplan.plan(graph)
            for device in args.devices.split(","):
                for partial in (False, True):
                    print("| " + " | ".join(row(name, graph, plan, device_named(device), partial)) + " |", flush=True)


if __name__ == "__main__":
    main()
