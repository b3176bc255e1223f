"""Tiling behind a layout Transpose: NHWC graph inputs (tf2onnx/keras2onnx models) start with
``Transpose(perm=[0,3,1,2])``; a patch slices the NHWC input along axes 1 and 2."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from tiling_nets import Net

from memplan.errors import ModelError
from memplan.tiling import tile
from memplan.tiling.receptive import find_stage
from memplan.tiling.rewrite import graph_of

MEMPLAN = [sys.executable, "-m", "memplan.cli"]


def nhwc_net(shape=(1, 23, 19, 3)):
    """NHWC input -> NCHW Transpose -> stride-2 conv, PRelu-like Relu, MaxPool (ceil), conv,
    then a global pool (the stage must end before it)."""
    n = Net(shape)
    x = n.op("Transpose", ["x"], name="to_nchw", perm=[0, 3, 1, 2])
    x = n.op("Relu", [n.conv(x, shape[3], 8, k=3, name="c1")], name="r1")
    x = n.op("Relu", [n.conv(x, 8, 8, k=3, stride=2, name="c2")], name="r2")
    x = n.op("MaxPool", [x], name="mp", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    x = n.conv(x, 8, 16, k=3, pad=0, name="last")
    return n.model([n.op("GlobalAveragePool", [x], name="gap")])


def ort_run(model, x):
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


@pytest.mark.parametrize("until", ["to_nchw", "c1", "r2", "mp", "last"])
def test_nhwc_net_tiled_equals_original(until):
    model = nhwc_net()
    x = np.random.default_rng(1).standard_normal((1, 23, 19, 3)).astype(np.float32)
    ref = ort_run(model, x)
    for grid in [(2, 2), (3, 1), (1, 3), (3, 3)]:  # the output of "last" is 4x3
        got = ort_run(tile(model, until, grid).model, x)
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-5, atol=1e-5, err_msg=f"{until} {grid}")


def test_patches_slice_the_nhwc_input_along_axes_1_and_2():
    model = nhwc_net()
    assert find_stage(graph_of(model), "c2").axes == {"x": (1, 2)}
    tiled = tile(model, "c2", (2, 2)).model
    inits = {t.name: numpy_helper.to_array(t) for t in tiled.graph.initializer}
    slices = [nd for nd in tiled.graph.node if nd.op_type == "Slice" and nd.input[0] == "x"]
    assert len(slices) == 4
    assert all(inits[nd.input[3]].tolist() == [1, 2] for nd in slices)
    # c2's output is 12x10; its top-left patch, rows [0, 6) and cols [0, 5), reads c1's rows
    # [0, 12) and cols [0, 10) (stride 2, pad 1), so input rows [0, 13) and cols [0, 11)
    assert inits[slices[0].input[1]].tolist() == [0, 0] and inits[slices[0].input[2]].tolist() == [13, 11]


def one_op_net(perm, shape, before=None, also=None):
    n = Net(shape)
    x = n.op(before, ["x"], name="pre") if before else "x"
    t = n.op("Transpose", [x], name="tr", perm=perm)
    outs = [n.op("Relu", [t], name="after")]
    if also:
        outs.append(n.op(also, ["x"], name="other"))
    return n.model(outs)


@pytest.mark.parametrize("perm, shape, kw, reason", [
    ([0, 3, 2, 1], (1, 10, 12, 3), {}, "swaps rows and columns"),  # NHWC -> NCWH
    ([0, 1, 3, 2], (1, 3, 10, 12), {}, "swaps rows and columns"),  # NCHW -> NCWH
    ([1, 3, 0, 2], (1, 10, 12, 3), {}, "batch axis"),
    ([0, 2, 1, 3], (1, 3, 10, 12), {}, "mixes a spatial axis with the channel axis"),  # NCHW -> NHCW
    ([0, 3, 1, 2], (1, 10, 12, 3), {"before": "Relu"}, "computed tensor"),
    ([0, 3, 1, 2], (1, 10, 12, 3), {"also": "Sigmoid"}, "also read in another layout, by node 'other'"),
])
def test_transposes_that_are_not_a_layout_change_are_refused(perm, shape, kw, reason):
    with pytest.raises(ModelError, match=reason) as info:
        tile(one_op_net(perm, shape, **kw), "after", (2, 2))
    assert "'tr'" in str(info.value)


def test_cli_plan_and_verify_tile_auto_nhwc(tmp_path):
    src = str(tmp_path / "nhwc.onnx")
    onnx.save(nhwc_net((1, 64, 64, 3)), src)
    r = subprocess.run(MEMPLAN + ["verify", src, "--tile", "auto"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "arena tiled" in r.stdout and "match" in r.stdout, r.stdout
    split = next(line for line in r.stdout.splitlines() if line.startswith("split after"))
    assert "to_nchw" not in split  # the stage goes past the Transpose
