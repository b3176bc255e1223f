"""Weight access analysis (issue 17): which weights one inference reads whole, by rows, by
routed experts or in one branch, on small hand-built models."""
from fractions import Fraction

import pytest

import memplan
from memplan.graph.ir import Graph, Op, Tensor
from memplan.graph.weight_access import Access, analyze, branch_access, branch_sizes, total_read

from access_models import embedding_model, gather_nd_model, moe_model, save
from helpers import branch_model


def _load(model, tmp_path, name="m.onnx"):
    return memplan.load(save(model, tmp_path / name))


def test_embedding_rows_read_per_token(tmp_path):
    a = analyze(_load(embedding_model(vocab=1000, width=8, tokens=16), tmp_path))
    # 16 token ids, one 8 x 4 B row each, of a 1000-row table
    assert a["table"] == Access("rows", 32000, 512, 512, a["table"].reads)
    assert a["table"].reads[0].count == 16 and a["table"].reads[0].slice_bytes == 32
    assert a["proj"].kind == "whole" and a["proj"].worst == 128


@pytest.mark.parametrize("tied", ["gemm", "transpose"])
def test_tied_embedding_is_read_whole(tmp_path, tied):
    a = analyze(_load(embedding_model(tied=tied), tmp_path))
    assert a["table"].kind == "whole" and a["table"].expected == a["table"].worst == 32000


def test_more_indices_than_rows_is_whole(tmp_path):
    a = analyze(_load(embedding_model(vocab=10, tokens=16), tmp_path))
    assert a["table"].kind == "whole"


def test_top2_of_8_experts_one_token(tmp_path):
    a = analyze(_load(moe_model(tokens=1, experts=8, k=2, d=8, hidden=16), tmp_path))
    for w in ("w1", "w2"):  # 8 experts of 8 x 16 x 4 B = 512 B; 2 of them read
        assert (a[w].kind, a[w].size, a[w].expected, a[w].worst) == ("expert", 4096, 1024, 1024)
        assert (a[w].reads[0].experts, a[w].reads[0].k) == (8, 2)
    assert a["router"].kind == "whole"


def test_experts_over_several_tokens(tmp_path):
    a = analyze(_load(moe_model(tokens=4, experts=8, k=2), tmp_path))
    expected = round(8 * (1 - Fraction(6, 8) ** 4) * 512)  # uniform routing, each expert read once
    assert (a["w1"].kind, a["w1"].expected, a["w1"].worst) == ("expert", expected, 4096)


def test_gather_nd_and_gather_elements(tmp_path):
    a = analyze(_load(gather_nd_model(rows=64, width=4, picks=3), tmp_path))
    assert (a["table"].kind, a["table"].expected) == ("rows", 3 * 16)  # 3 rows of 4 floats
    assert (a["table2"].kind, a["table2"].expected) == ("rows", 8 * 4)  # 8 single elements


def test_no_data_dependent_reads_all_whole(tmp_path):
    g = _load(branch_model(), tmp_path)
    a = analyze(g)
    assert set(a) == set(g.weights) and all(x.kind == "whole" and x.expected == x.size for x in a.values())
    assert total_read(a) == (g.weight_bytes, g.weight_bytes)


def _ir(ops, tensors, inputs=("ids",), outputs=("y",)):
    return Graph("g", tuple(ops), {t.name: t for t in tensors}, inputs, outputs)


def test_rows_through_runtime_views():
    """table (int8) -> DequantizeLinear -> Reshape -> Gather(ids): the fraction of the viewed
    table the ids select is the fraction of the int8 table read."""
    tensors = [Tensor("table", (100, 4), "int8", "weight"), Tensor("scale", (), "float32", "weight"),
               Tensor("shape", (2,), "int64", "weight"), Tensor("ids", (5,), "int64", "input"),
               Tensor("deq", (100, 4), "float32", "activation"), Tensor("view", (100, 4), "float32", "activation"),
               Tensor("y", (5, 4), "float32", "output")]
    ops = [Op("dq", "DequantizeLinear", ("table", "scale"), ("deq",)),
           Op("rs", "Reshape", ("deq", "shape"), ("view",)), Op("g", "Gather", ("view", "ids"), ("y",))]
    a = analyze(_ir(ops, tensors))
    assert (a["table"].kind, a["table"].expected, a["table"].worst) == ("rows", 20, 20)  # 5 rows of 4 B


def test_a_view_read_elsewhere_is_whole():
    tensors = [Tensor("table", (100, 4), "float32", "weight"), Tensor("ids", (5,), "int64", "input"),
               Tensor("view", (100, 4), "float32", "activation"), Tensor("y", (5, 4), "float32", "activation"),
               Tensor("z", (100, 4), "float32", "output")]
    ops = [Op("id", "Identity", ("table",), ("view",)), Op("g", "Gather", ("view", "ids"), ("y",)),
           Op("r", "Relu", ("view",), ("z",))]
    assert analyze(_ir(ops, tensors, outputs=("z",)))["table"].kind == "whole"


def test_constant_indices_read_whole():
    tensors = [Tensor("table", (100, 4), "float32", "weight"), Tensor("ids", (5,), "int64", "weight"),
               Tensor("x", (5, 4), "float32", "input"), Tensor("g", (5, 4), "float32", "activation"),
               Tensor("y", (5, 4), "float32", "output")]
    ops = [Op("g", "Gather", ("table", "ids"), ("g",)), Op("a", "Add", ("g", "x"), ("y",))]
    assert analyze(_ir(ops, tensors, inputs=("x",)))["table"].kind == "whole"


def test_branch_weights_worst_is_the_larger_branch():
    """An If on an input value: then-branch weights a (300 B) and b (100 B), else-branch c
    (250 B). Expected: each weight half; worst over the If: the larger branch, 400 B."""
    sizes = {"a": 300, "b": 100, "c": 250, "d": 64}
    acc = branch_access(sizes, {"a": ("if0", "then"), "b": ("if0", "then"), "c": ("if0", "else")})
    assert {w: (x.kind, x.expected, x.worst) for w, x in acc.items()} == {
        "a": ("branch", 150, 300), "b": ("branch", 50, 100), "c": ("branch", 125, 250)}
    assert branch_sizes(acc) == {("if0", "then"): 400, ("if0", "else"): 250}
    acc["d"] = Access("whole", 64, 64, 64)
    assert total_read(acc) == (150 + 50 + 125 + 64, 400 + 64)
    assert total_read(acc, ["c", "d"]) == (125 + 64, 250 + 64)


@pytest.mark.parametrize("tokens, expected, picks", [(1, 256, 2), (3, 448, 4)])
def test_experts_computed_under_a_mask(tmp_path, tokens, expected, picks):
    """4 experts each computed whole and multiplied by ReduceSum(Cast(Equal(idx, e)) * scores):
    each expert's weights are read when some token picks it (top 2 of 4)."""
    from access_models import masked_moe_model

    a = analyze(_load(masked_moe_model(tokens=tokens, experts=4, k=2), tmp_path))
    for e in range(4):
        for w in (f"w1_{e}", f"w2_{e}"):  # 8 x 16 x 4 B; picked with chance 1 - (1/2)^tokens
            assert (a[w].kind, a[w].expected, a[w].worst, a[w].picks) == ("expert", expected, 512, picks)
            assert a[w].group == ("topk", f"is{e}")
    assert a["router"].kind == "whole"
    small = sum(x.size for x in a.values() if x.kind == "whole")
    assert total_read(a) == (small + 8 * expected, small + picks * 1024)  # worst: the picks largest experts


def test_analyze_marks_branch_weights_given_their_branch():
    """The importer keeps an If on an input value: its then-branch reads ``a``, its else-branch
    ``b`` (here as plain ops; the mapping says which branch each lives in)."""
    tensors = [Tensor("x", (4,), "float32", "input"), Tensor("a", (64,), "float32", "weight"),
               Tensor("b", (32,), "float32", "weight"), Tensor("c", (4,), "float32", "weight"),
               Tensor("ya", (4,), "float32", "activation"), Tensor("yb", (4,), "float32", "activation"),
               Tensor("y", (4,), "float32", "output")]
    ops = [Op("ta", "Add", ("x", "c"), ("ya",)), Op("tb", "Mul", ("ya", "c"), ("yb",)),
           Op("o", "Add", ("yb", "x"), ("y",))]
    g = Graph("g", tuple(ops), {t.name: t for t in tensors}, ("x",), ("y",))
    a = analyze(g, branches={"a": ("if0", "then"), "b": ("if0", "else")})
    assert (a["a"].kind, a["a"].expected, a["a"].worst) == ("branch", 128, 256)
    assert (a["b"].kind, a["b"].expected, a["b"].worst) == ("branch", 64, 128)
    assert a["c"].kind == "whole"
    assert total_read(a) == (128 + 64 + 16, 256 + 16)  # worst: the larger branch
