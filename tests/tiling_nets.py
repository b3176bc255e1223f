"""Small conv nets for the tiling tests, built with onnx.helper and random weights."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Net:
    """x -> ... built node by node; ``conv`` etc. return the output tensor name."""

    def __init__(self, shape=(1, 3, 23, 19), seed=0, opset=13):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.shape, self.opset = [], [], shape, opset
        self.count = 0

    def _name(self, kind):
        self.count += 1
        return f"{kind}{self.count}"

    def conv(self, x, cin, cout, k=3, stride=1, pad=None, dilation=1, group=1, auto_pad=None, name=None):
        name = name or self._name("conv")
        w = (self.rng.standard_normal((cout, cin // group, k, k)) / np.sqrt(cin * k * k / group)).astype(np.float32)
        b = self.rng.standard_normal(cout).astype(np.float32)
        self.inits += [numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(b, f"{name}_b")]
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], dilations=[dilation, dilation], group=group)
        if auto_pad:
            attrs["auto_pad"] = auto_pad
        else:
            p = (k // 2) * dilation if pad is None else pad
            attrs["pads"] = list(p) if isinstance(p, (list, tuple)) else [p] * 4
        self.nodes.append(helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [name], name=name, **attrs))
        return name

    def op(self, kind, inputs, name=None, **attrs):
        name = name or self._name(kind.lower())
        self.nodes.append(helper.make_node(kind, list(inputs), [name], name=name, **attrs))
        return name

    def bn(self, x, c):
        name = self._name("bn")
        vals = [self.rng.uniform(0.5, 1.5, c).astype(np.float32) for _ in range(4)]
        names = [f"{name}_{k}" for k in ("s", "b", "m", "v")]
        self.inits += [numpy_helper.from_array(v, n) for v, n in zip(vals, names)]
        self.nodes.append(helper.make_node("BatchNormalization", [x] + names, [name], name=name))
        return name

    def model(self, outputs):
        graph = helper.make_graph(
            self.nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(self.shape))],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        return onnx.shape_inference.infer_shapes(model)


def plain_net(shape=(1, 3, 23, 19), opset=13):
    """stride-2 conv, dilated conv, grouped conv, maxpool (ceil), avgpool, then GAP + Gemm."""
    n = Net(shape, opset=opset)
    x = n.op("Relu", [n.conv("x", 3, 8, k=3, stride=2, name="c1")])
    x = n.op("Relu", [n.bn(n.conv(x, 8, 8, k=3, dilation=2, name="c2"), 8)])
    x = n.conv(x, 8, 16, k=3, group=4, name="c3")
    ceil = {"ceil_mode": 1} if opset >= 10 else {"pads": [0, 0, 1, 1]}  # the same output size
    x = n.op("MaxPool", [x], name="mp", kernel_shape=[3, 3], strides=[2, 2], **ceil)
    x = n.op("AveragePool", [x], name="ap", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    x = n.op("Relu", [n.conv(x, 16, 16, k=1, name="c4")], name="last")
    g = n.op("GlobalAveragePool", [x], name="gap")
    return n.model([n.op("Flatten", [g], name="flat")])


def branchy_net(shape=(1, 4, 20, 17)):
    """A residual Add, an inception-style Concat of branches with different kernels, and a
    SAME_UPPER conv with stride 2."""
    n = Net(shape)
    a = n.op("Relu", [n.conv("x", 4, 8, k=3, name="stem")])
    b = n.op("Relu", [n.conv(a, 8, 8, k=3, name="r1")])
    b = n.conv(b, 8, 8, k=3, name="r2")
    s = n.op("Relu", [n.op("Add", [a, b], name="res")])
    br1 = n.conv(s, 8, 4, k=1, name="b1")
    br2 = n.conv(s, 8, 4, k=5, name="b2")
    br3 = n.op("MaxPool", [s], name="b3", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    cat = n.op("Concat", [br1, br2, br3], name="cat", axis=1)
    y = n.conv(cat, 16, 8, k=3, stride=2, auto_pad="SAME_UPPER", name="down")
    return n.model([n.op("Relu", [y], name="out")])


def shuffle_net(shape=(1, 8, 18, 14), groups=2):
    """A ShuffleNet unit: grouped 1x1 conv, channel shuffle (Reshape -> Transpose ->
    Reshape with constant shapes), depthwise 3x3 stride 2, then a concat with a pooled
    shortcut."""
    n = Net(shape)
    c, h, w = shape[1], shape[2], shape[3]
    x = n.op("Relu", [n.conv("x", c, 16, k=1, group=groups, name="g1")])
    n.inits.append(numpy_helper.from_array(np.array([1, groups, 16 // groups, h, w], dtype=np.int64), "s5"))
    n.inits.append(numpy_helper.from_array(np.array([1, 16, h, w], dtype=np.int64), "s4"))
    x = n.op("Reshape", [x, "s5"], name="split")
    x = n.op("Transpose", [x], name="swap", perm=[0, 2, 1, 3, 4])
    x = n.op("Reshape", [x, "s4"], name="merge")
    x = n.conv(x, 16, 16, k=3, stride=2, group=16, name="dw")
    short = n.op("AveragePool", ["x"], name="short", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    y = n.op("Relu", [n.op("Concat", [x, short], name="cat", axis=1)], name="unit")
    return n.model([n.op("GlobalAveragePool", [y], name="gap")])


def peaky_net():
    """A net whose peak is its first, high-resolution layers."""
    n = Net((1, 3, 64, 64))
    x = n.op("Relu", [n.conv("x", 3, 32, k=3, name="c1")])
    x = n.op("Relu", [n.conv(x, 32, 32, k=3, stride=2, name="c2")])
    x = n.op("MaxPool", [x], name="mp", kernel_shape=[2, 2], strides=[2, 2])
    x = n.op("Relu", [n.conv(x, 32, 16, k=3, name="c3")])
    return n.model([n.op("GlobalAveragePool", [x], name="gap")])
