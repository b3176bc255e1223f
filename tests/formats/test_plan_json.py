"""The plan JSON carries the model's shape constants (folded at import, in neither the arena
nor the weights), and the plan-file reader checks and reads them."""
import json

import pytest
from helpers import chain_model, save
from onnx import TensorProto, helper

from memplan.errors import InputError
from memplan.formats.plan_file import checked_plan, plan_problem, read_checked_plan
from memplan.formats.plan_json import plan_to_dict, write_plan
from memplan.graph.onnx import load
from memplan.planner import plan


def _reshape_by_shape():
    """x [N, 4] -> Shape -> Reshape(x, shape) -> Relu: the target shape folds to a constant."""
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Reshape", ["x", "s"], ["r"], name="reshape"),
             helper.make_node("Relu", ["r"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def folded(tmp_path_factory):
    path = save(_reshape_by_shape(), tmp_path_factory.mktemp("m") / "r.onnx")
    graph = load(path, input_shapes={"x": (3, 4)})
    return graph, plan(graph)


def test_plan_json_has_the_shape_constant_figures(folded, tmp_path):
    graph, result = folded
    data = plan_to_dict(result)
    assert data["shape_constant_bytes"] == graph.shape_constant_bytes > 0
    assert data["shape_constants"] == len(graph.shape_constants) > 0
    write_plan(result, str(tmp_path / "p.json"))
    back = read_checked_plan(str(tmp_path / "p.json"))
    assert (back.shape_constant_bytes, back.shape_constants) == (graph.shape_constant_bytes,
                                                                 len(graph.shape_constants))


def test_nothing_folded_is_zero_and_older_files_read_as_zero(tmp_path):
    result = plan(load(save(chain_model(), tmp_path / "c.onnx")))
    data = plan_to_dict(result)
    assert data["shape_constant_bytes"] == data["shape_constants"] == 0
    del data["shape_constant_bytes"], data["shape_constants"]  # a file written before the fields
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert read_checked_plan(str(tmp_path / "old.json")).shape_constant_bytes == 0


@pytest.mark.parametrize("field", ["shape_constant_bytes", "shape_constants"])
@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_a_bad_shape_constant_figure_is_named(folded, field, value):
    data = plan_to_dict(folded[1])
    data[field] = value
    assert plan_problem(data).startswith(f"field {field!r}: ")
    with pytest.raises(InputError, match=f"p.json: field '{field}'"):
        checked_plan(data, "p.json")
