"""Irregular networks to measure orders on: valid ONNX models, deterministic for a seed.

- ``randwire`` — a randomly wired stage (Xie et al., ICCV 2019): a Watts–Strogatz graph
  WS(n, k, p) made acyclic by orienting every edge from the lower to the higher node index;
  each node sums its inputs, then ReLU → separable 3x3 conv (depthwise + pointwise) → BN;
  nodes without predecessors read the stem, the sinks are averaged into the output.
- ``nas_cells`` — a stack of NAS-style cells (NASNet/DARTS): each cell takes the two previous
  cells' outputs, builds ``nodes`` intermediate states each as the sum of two operations
  (separable conv, 3x3 max/avg pool, identity, 1x1 conv) on two earlier states chosen at
  random, and concatenates the intermediate states, reduced back by a 1x1 conv.
- ``unet`` — a U-Net: ``depth`` levels of conv-ReLU-conv-ReLU, 2x2 max pool down, a 2x2
  ConvTranspose up and a channel Concat with the long skip connection at each level.
- ``inception`` — a stem and a stack of Inception-v1 style modules (1x1; 1x1→3x3;
  1x1→3x3→3x3; 3x3 max pool→1x1), concatenated along channels, pooled between stages.

Every model has a realistic image input (``1x3xHxW`` float32), a stem that brings it to
the stage's size (``hw`` x ``hw``, ``channels``) and a classifier head. Weights are seeded
random (He-normal), so an execution check that swaps two tensors cannot pass by luck.

``python -m memplan.graph.generators randwire out.onnx --seed 1 --nodes 24`` writes one model.
"""
from __future__ import annotations

import argparse
import math

import numpy as np

_OPSET = 13


class _Builder:
    """Collects nodes and initializers; names are unique by construction."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def weight(self, shape, scale: float | None = None) -> str:
        from onnx import numpy_helper

        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        std = scale if scale is not None else math.sqrt(2.0 / max(fan_in, 1))
        value = (self.rng.standard_normal(shape) * std).astype(np.float32)
        name = self.name("w")
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def const(self, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name("c")
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs, **attrs) -> str:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=self.name("n"), **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int = 3, stride: int = 1, group: int = 1) -> str:
        w = self.weight((cout, cin // group, k, k))
        b = self.const((self.rng.standard_normal(cout) * 0.01).astype(np.float32))
        return self.node("Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride],
                         pads=[k // 2] * 4, group=group)

    def bn(self, x: str, c: int) -> str:
        scale = self.const(self.rng.uniform(0.5, 1.5, c).astype(np.float32))
        bias = self.const((self.rng.standard_normal(c) * 0.1).astype(np.float32))
        mean = self.const((self.rng.standard_normal(c) * 0.1).astype(np.float32))
        var = self.const(self.rng.uniform(0.5, 1.5, c).astype(np.float32))
        return self.node("BatchNormalization", [x, scale, bias, mean, var])

    def sep_conv(self, x: str, c: int) -> str:
        return self.conv(self.conv(x, c, c, 3, group=c), c, c, 1)

    def stem(self, x: str, image: int, hw: int, channels: int) -> str:
        """Stride-2 3x3 convs (with BN and ReLU) from 3 x image² down to channels x hw²."""
        c, size = 3, image
        while size > hw:
            x = self.node("Relu", [self.bn(self.conv(x, c, channels, 3, 2), channels)])
            c, size = channels, (size + 1) // 2
        if c != channels:
            x = self.node("Relu", [self.conv(x, c, channels, 3)])
        return x

    def head(self, x: str, c: int, classes: int) -> str:
        pooled = self.node("Flatten", [self.node("GlobalAveragePool", [x])])
        w = self.weight((classes, c))
        b = self.const(np.zeros(classes, np.float32))
        return self.node("Softmax", [self.node("Gemm", [pooled, w, b], transB=1)], axis=1)

    def model(self, name: str, x: str, image: int, y: str, classes: int):
        from onnx import TensorProto, helper

        self.nodes[-1].output[0] = "output"
        graph = helper.make_graph(
            self.nodes, name, [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 3, image, image])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, classes])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)],
                                  producer_name="memplan.graph.generators")
        model.ir_version = 8
        return model


def watts_strogatz(n: int, k: int, p: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Undirected WS(n, k, p) edges (a ring lattice of degree k, each edge rewired with
    probability p to a random non-neighbour), as (low, high) pairs, sorted."""
    edges = {(i, (i + j) % n) for i in range(n) for j in range(1, k // 2 + 1)}
    edges = {(min(a, b), max(a, b)) for a, b in edges}
    for j in range(1, k // 2 + 1):
        for i in range(n):
            e = (min(i, (i + j) % n), max(i, (i + j) % n))
            if e in edges and rng.random() < p:
                choices = [v for v in range(n) if v != i and (min(i, v), max(i, v)) not in edges]
                if choices:
                    v = int(rng.choice(choices))
                    edges.discard(e)
                    edges.add((min(i, v), max(i, v)))
    return sorted(edges)


def randwire(*, nodes: int = 24, k: int = 4, p: float = 0.75, channels: int = 32, hw: int = 56,
             image: int = 224, classes: int = 1000, seed: int = 0):
    b = _Builder(seed)
    x = b.stem("input", image, hw, channels)
    edges = watts_strogatz(nodes, k, p, b.rng)
    preds = [[a for a, c in edges if c == v] for v in range(nodes)]
    succs = [[c for a, c in edges if a == v] for v in range(nodes)]
    out: list[str] = []
    for v in range(nodes):
        ins = [out[u] for u in preds[v]] or [x]
        agg = ins[0] if len(ins) == 1 else b.node("Sum", ins)
        out.append(b.bn(b.sep_conv(b.node("Relu", [agg]), channels), channels))
    sinks = [out[v] for v in range(nodes) if not succs[v]]
    total = sinks[0] if len(sinks) == 1 else b.node("Sum", sinks)
    avg = b.node("Mul", [total, b.const(np.array(1.0 / len(sinks), np.float32))])
    b.head(avg, channels, classes)
    return b.model(f"randwire_n{nodes}_s{seed}", "input", image, "output", classes)


def nas_cells(*, cells: int = 3, nodes: int = 5, channels: int = 32, hw: int = 56, image: int = 224,
              classes: int = 1000, seed: int = 0):
    b = _Builder(seed)
    x = b.stem("input", image, hw, channels)
    prev2, prev = x, x
    c = channels
    for _ in range(cells):
        states = [prev2, prev]
        for _ in range(nodes):
            picks = b.rng.choice(len(states), size=2, replace=True)
            parts = [_nas_op(b, states[int(i)], c, int(b.rng.integers(5))) for i in picks]
            states.append(b.node("Add", parts))
        cat = b.node("Concat", states[2:], axis=1)
        prev2, prev = prev, b.bn(b.conv(b.node("Relu", [cat]), c * nodes, c, 1), c)
    b.head(prev, c, classes)
    return b.model(f"nas_cells_{cells}x{nodes}_s{seed}", "input", image, "output", classes)


def _nas_op(b: _Builder, x: str, c: int, kind: int) -> str:
    if kind == 0:
        return b.bn(b.sep_conv(b.node("Relu", [x]), c), c)
    if kind == 1:
        return b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    if kind == 2:
        return b.node("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                      count_include_pad=0)
    if kind == 3:
        return b.node("Identity", [x])
    return b.bn(b.conv(b.node("Relu", [x]), c, c, 1), c)


def unet(*, depth: int = 4, channels: int = 16, hw: int = 128, image: int = 256, classes: int = 10, seed: int = 0):
    b = _Builder(seed)
    x = b.stem("input", image, hw, channels)
    skips, c = [], channels
    for level in range(depth):
        x = b.node("Relu", [b.conv(b.node("Relu", [b.conv(x, c, c)]), c, c)])
        skips.append((x, c))
        x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
        x = b.node("Relu", [b.conv(x, c, 2 * c)])
        c *= 2
    x = b.node("Relu", [b.conv(x, c, c)])
    for skip, sc in reversed(skips):
        w = b.weight((c, sc, 2, 2))
        up = b.node("ConvTranspose", [x, w], kernel_shape=[2, 2], strides=[2, 2])
        x = b.node("Concat", [up, skip], axis=1)
        x = b.node("Relu", [b.conv(b.node("Relu", [b.conv(x, 2 * sc, sc)]), sc, sc)])
        c = sc
    b.head(b.conv(x, c, classes, 1), classes, classes)
    return b.model(f"unet_d{depth}_s{seed}", "input", image, "output", classes)


def inception(*, modules: int = 4, channels: int = 64, hw: int = 56, image: int = 224, classes: int = 1000,
              seed: int = 0):
    b = _Builder(seed)
    x = b.stem("input", image, hw, channels)
    c = channels
    for m in range(modules):
        q = max(c // 4, 8)
        relu = lambda t: b.node("Relu", [t])  # noqa: E731
        b1 = relu(b.conv(x, c, q, 1))
        b2 = relu(b.conv(relu(b.conv(x, c, q, 1)), q, q, 3))
        b3 = relu(b.conv(relu(b.conv(relu(b.conv(x, c, q // 2, 1)), q // 2, q, 3)), q, q, 3))
        b4 = relu(b.conv(b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]), c, q, 1))
        x, c = b.node("Concat", [b1, b2, b3, b4], axis=1), 4 * q
        if m % 2 == 1 and m + 1 < modules:
            x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    b.head(x, c, classes)
    return b.model(f"inception_{modules}_s{seed}", "input", image, "output", classes)


GENERATORS = {"randwire": randwire, "nas_cells": nas_cells, "unet": unet, "inception": inception}


def build(name: str, **params):
    """The ONNX ``ModelProto`` of generator ``name`` (``GENERATORS``) with ``params``."""
    from ..errors import InputError

    try:
        fn = GENERATORS[name]
    except KeyError:
        raise InputError(f"unknown generator {name!r}; choose one of: {', '.join(GENERATORS)}") from None
    return fn(**params)


def write(name: str, path: str, **params) -> str:
    import onnx

    from ..fileio import write_atomic

    model = build(name, **params)
    onnx.checker.check_model(model)
    write_atomic(path, model.SerializeToString())
    return path


def load_generated(name: str, **params):
    """The memplan `Graph` of a generated model, without touching the disk."""
    from .onnx import from_model

    return from_model(build(name, **params), source=f"{name}({', '.join(f'{k}={v}' for k, v in params.items())})")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a generated ONNX model.")
    parser.add_argument("generator", choices=list(GENERATORS))
    parser.add_argument("output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--param", action="append", default=[], metavar="KEY=INT",
                        help="generator parameter, e.g. nodes=32 (repeatable)")
    args = parser.parse_args(argv)
    params = {"seed": args.seed}
    for text in args.param:
        key, _, value = text.partition("=")
        params[key] = float(value) if "." in value else int(value)
    print(write(args.generator, args.output, **params))


if __name__ == "__main__":
    main()
