"""Integers at the edge: values too large for memplan or for a target are one-line errors."""
from types import SimpleNamespace

import pytest

from memplan.errors import InputError, ModelError, PlanError
from memplan.graph.ir import Graph, Op, Tensor
from memplan.limits import MAX_VALUE
from memplan.planner import PlacedBuffer
from memplan.units import parse_size


def test_parse_size_bounds():
    assert parse_size(str(MAX_VALUE)) == MAX_VALUE
    for text in (str(MAX_VALUE + 1), "9" * 400, "99999999999GiB", MAX_VALUE + 1):
        with pytest.raises(InputError, match="beyond memplan's limit of 2\\*\\*53"):
            parse_size(text)


def test_graph_refuses_huge_and_negative_tensors():
    op = Op("a", "Relu", ("x",), ("y",))

    def graph(shape):
        return Graph("g", (op,), {"x": Tensor("x", shape, "float32", "input"),
                                  "y": Tensor("y", (4,), "float32", "output")}, ("x",), ("y",))

    with pytest.raises(ModelError, match="'x' .* beyond memplan's limit"):
        graph((2**30, 2**30))
    with pytest.raises(ModelError, match="negative dimension"):
        graph((-1, 4))
    assert graph((4,)).activation_bytes == 32


def test_tflm_refuses_offsets_beyond_int32():
    from memplan.formats.tflm import check_plan_for_tflm

    tfl = SimpleNamespace(graph=SimpleNamespace(ops=[SimpleNamespace(name="a")], source="m.tflite"))
    plan = SimpleNamespace(alignment=16, order=("a",), buffers=(PlacedBuffer(0, 2**31, 16, 0, 0, (("t", 0),)),))
    with pytest.raises(PlanError, match="beyond TFLite Micro's int32 offsets"):
        check_plan_for_tflm(tfl, plan)
    ok = SimpleNamespace(alignment=16, order=("a",), buffers=(PlacedBuffer(0, 2**31 - 32, 16, 0, 0, (("t", 0),)),))
    check_plan_for_tflm(tfl, ok)
