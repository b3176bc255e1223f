"""A 28-layer residual network for pipeline experiments, written as a valid ONNX model.

Layers as ``pipeline.group_ops`` sees them (Conv+BN+Relu fuse into one conv layer, the
residual Add+Relu is one ``res`` layer)::

    conv 7x7/2 -> maxpool 3x3/2                                         2 layers
    7 basic blocks, widths w, w, 2w, 2w, 4w, 4w, 8w:
        conv 3x3 -> conv 3x3 -> res (+ a 1x1/2 projection conv where
        the width doubles, 3 of them)                                 7 * 3 + 3 = 24
    global average pool (+flatten) -> fc (+softmax)                     2 layers
                                                                       = 28 layers

With the defaults (w = 64, 1x3x224x224 fp32) it is ResNet-18 with one block fewer: about
1.6 GMACs, 7.0 M parameters. Weights are ``ConstantOfShape`` nodes (as in the ONNX model zoo
"light" files), so the file is a few kilobytes while every shape is real.

    python -m memplan.pipeline.models resnet28.onnx [--width 64] [--size 224]
"""
from __future__ import annotations

import argparse

BLOCKS = (1, 1, 2, 2, 4, 4, 8)  # width multiple of each basic block


def residual28(*, width: int = 64, size: int = 224, classes: int = 1000):
    """The model as an ``onnx.ModelProto``."""
    from onnx import TensorProto, checker, helper

    b = _Builder(helper, TensorProto)
    x = b.conv("x", 3, width, 7, 2, relu=True, name="conv1")
    x = b.node("MaxPool", [x], "pool1", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = width
    for k, mult in enumerate(BLOCKS):
        cout = width * mult
        stride = 2 if cout != cin else 1
        y = b.conv(x, cin, cout, 3, stride, relu=True, name=f"block{k}_a")
        y = b.conv(y, cout, cout, 3, 1, relu=False, name=f"block{k}_b")
        short = b.conv(x, cin, cout, 1, stride, relu=False, name=f"block{k}_proj") if stride != 1 else x
        s = b.node("Add", [y, short], f"block{k}_add")
        x = b.node("Relu", [s], f"block{k}_relu")
        cin = cout
    x = b.node("GlobalAveragePool", [x], "gap")
    x = b.node("Flatten", [x], "flatten", axis=1)
    w = b.weight("fc_w", [classes, cin])
    bias = b.weight("fc_b", [classes])
    x = b.node("Gemm", [x, w, bias], "fc", transB=1)
    b.node("Softmax", [x], "prob", axis=1)
    graph = helper.make_graph(
        b.nodes, "resnet28", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, classes])], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="memplan")
    checker.check_model(model)
    return model


class _Builder:
    def __init__(self, helper, tensor_proto):
        self.helper, self.tp = helper, tensor_proto
        self.nodes, self.inits = [], []

    def node(self, op_type, inputs, name, **attrs) -> str:
        self.nodes.append(self.helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name

    def weight(self, name, shape) -> str:
        """A weight built by ConstantOfShape(shape initializer): tiny file, real shape."""
        h = self.helper
        self.inits.append(h.make_tensor(f"{name}_shape", self.tp.INT64, [len(shape)], shape))
        value = h.make_tensor("value", self.tp.FLOAT, [1], [0.02])
        self.nodes.append(h.make_node("ConstantOfShape", [f"{name}_shape"], [name], name=f"{name}_const", value=value))
        return name

    def conv(self, x, cin, cout, k, stride, *, relu, name) -> str:
        w = self.weight(f"{name}_w", [cout, cin, k, k])
        y = self.node("Conv", [x, w], name, kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)
        bn = [self.weight(f"{name}_bn_{p}", [cout]) for p in ("scale", "bias", "mean", "var")]
        y = self.node("BatchNormalization", [y, *bn], f"{name}_bn")
        return self.node("Relu", [y], f"{name}_relu") if relu else y


def write_residual28(path: str, **options) -> str:
    """Write the model to ``path`` (atomically) and return the path."""
    import onnx

    from ..fileio import write_atomic

    write_atomic(path, onnx.ModelProto.SerializeToString(residual28(**options)))
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args(argv)
    print(write_residual28(args.path, width=args.width, size=args.size))


if __name__ == "__main__":
    main()
