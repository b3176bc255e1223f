"""TFLite Micro: offline plan metadata, operator order, folding, and proof in the runtime."""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from memplan.graph import mediapipe  # noqa: E402
from memplan import plan  # noqa: E402
from memplan.formats import tflm  # noqa: E402
from memplan.graph import tflite_edit  # noqa: E402
from memplan.errors import PlanError  # noqa: E402
from memplan.order.schedule import Schedule  # noqa: E402
from memplan.graph.tflite import opcode_name, parse_model  # noqa: E402
from tflite_models import branchy_model, build, fc_model, mediapipe_or_skip  # noqa: E402


def metadata(data):
    model = parse_model(data)
    return {tflm._text(m.name): bytes(np.asarray(model.buffers[m.buffer].data, dtype=np.uint8))
            for m in model.metadata or []}


def best_plan(graph, order="file"):
    return plan(graph, algorithm="best", order=order, time_limit=10.0)


def test_offline_plan_words_and_kept_metadata():
    data = build([("x", (1, 4), "float32", None), ("w", (1, 4), "float32", np.arange(4)),
                  ("y", (1, 4), "float32", None), ("z", (1, 4), "float32", None)],
                 [("ADD", [0, 1], [2], None), ("ADD", [2, 2], [3], None)], [0], [3],
                 metadata=[("min_runtime_version", b"1.5.0\x00")])
    tfl = tflm.load_bytes(data, "m")
    p = plan(tfl.graph, algorithm="tflm_greedy", order="file")
    out = tflm.export_model(tfl, p)
    words = metadata(out)[tflm.OFFLINE_METADATA]
    assert struct.unpack(f"<{len(words) // 4}i", words) == (1, 0, 4, p.tensor_offsets["x"], -1,
                                                            p.tensor_offsets["y"], p.tensor_offsets["z"])
    assert tflm.read_offline_plan(out) == [p.tensor_offsets["x"], -1, p.tensor_offsets["y"], p.tensor_offsets["z"]]
    assert metadata(out)["min_runtime_version"] == b"1.5.0\x00"
    again = tflm.export_model(tflm.load_bytes(out, "m"), p)  # replaced, not duplicated
    assert list(metadata(again)) == ["min_runtime_version", tflm.OFFLINE_METADATA]
    reread = tflm.load_bytes(out, "m").graph
    assert reread.initializers["w"].tolist() == [[0, 1, 2, 3]] and tflm.read_offline_plan(data) is None


def test_plans_tflm_cannot_take_are_refused():
    tfl = tflm.load_bytes(fc_model(), "m")
    with pytest.raises(PlanError, match="aligns every arena buffer to 16"):
        tflm.export_model(tfl, plan(tfl.graph, alignment=8, order="file"))
    other = tflm.load_bytes(branchy_model(), "b")
    with pytest.raises(PlanError, match="different model"):
        tflm.export_model(tfl, plan(other.graph, order="file"))


def test_memplan_beats_tflm_greedy_inside_tflm():
    """TFLM's greedy leaves a hole on this graph; memplan's plan reaches the lower bound,
    and TFLM, running that plan, reports exactly that head and the same outputs."""
    data = branchy_model()
    tfl = tflm.load_bytes(data, "branchy")
    p = best_plan(tfl.graph)
    check = tflm.verify(data, tflm.export_model(tfl, p), tfl, p, seed=3)
    assert check.identical
    assert check.tflm.head == plan(tfl.graph, algorithm="tflm_greedy", order="file").arena_bytes == 1984
    assert check.memplan.head == p.arena_bytes == p.lower_bound_bytes == 1792
    assert check.memplan.tail == check.tflm.tail > 0


def test_operators_are_rewritten_in_the_plan_order():
    """Two independent branches: memplan's order runs the second first; TFLM follows the file."""
    data = build([("x", (1, 8), "float32", None), ("a", (1, 8), "float32", None), ("b", (1, 8), "float32", None),
                  ("y", (1, 8), "float32", None)],
                 [("ADD", [0, 0], [1], None), ("MUL", [0, 0], [2], None), ("ADD", [1, 2], [3], None)], [0], [3])
    tfl = tflm.load_bytes(data, "m")
    p = plan(tfl.graph, algorithm="tflm_greedy", schedule=Schedule((1, 0, 2), "test"))
    assert p.order == ("MUL_1", "ADD_0", "ADD_2")
    out = tflm.export_model(tfl, p)
    model = parse_model(out)
    assert [opcode_name(model, op.opcodeIndex) for op in model.subgraphs[0].operators] == ["MUL", "ADD", "ADD"]
    check = tflm.verify(data, out, tfl, p)
    assert check.identical and check.memplan.head <= check.tflm.head
    x = tflm.seeded_inputs(tfl)[0]
    assert np.array_equal(check.memplan.outputs[0], x + x + x * x)


def test_fold_fp16_dequantize_exact_and_compact():
    data = fc_model(fp16=True)
    with pytest.raises(tflm.RuntimeFailure, match="could not run"):
        tflm.run(data, tflm.seeded_inputs(tflm.load_bytes(data, "m")))
    folded = tflite_edit.fold_fp16_dequantize(data)
    tfl = tflm.load_bytes(folded, "m")
    before = tflm.load_bytes(data, "m").graph
    assert [op.op_type for op in tfl.graph.ops] == ["FULLY_CONNECTED"] * 4 + ["ADD"]
    assert all(not name.endswith("_fp16") for name in tfl.names)  # unused tensors dropped
    for k in range(4):
        w = tfl.graph.initializers[f"w{k}"]
        assert w.dtype == np.float32 and np.array_equal(w, before.initializers[f"w{k}_fp16"].astype(np.float32))
    model = parse_model(folded)
    assert len(model.buffers) == 1 + sum(t.buffer > 0 for t in model.subgraphs[0].tensors)
    assert tflite_edit.fold_fp16_dequantize(folded) == folded
    result = tflm.run(folded, tflm.seeded_inputs(tfl))
    assert result.head > 0 and result.outputs[0].shape == (1, 4)


def test_densify_matches_tflite_sparsity_example():
    """TFLite's format-converter example: a 3x4 matrix, dense rows, CSR columns."""
    class V:
        def __init__(self, values):
            self.values = values

    class Dim:
        def __init__(self, fmt, size=0, segs=None, idx=None):
            self.format, self.denseSize = fmt, size
            self.arraySegments, self.arrayIndices = V(segs), V(idx)

    class Sparsity:
        traversalOrder, blockMap = [0, 1], []
        dimMetadata = [Dim(0, 3), Dim(1, 0, [0, 3, 3, 5], [0, 2, 3, 0, 3])]

    dense = tflite_edit.densify(np.array([6, 9, 8, 5, 7], dtype=np.float32), (3, 4), Sparsity)
    assert dense.tolist() == [[6, 0, 9, 8], [0, 0, 0, 0], [5, 0, 0, 7]]

    class Blocked:  # 4x4 in 2x2 blocks: block rows dense, block columns CSR, blocks dense
        traversalOrder, blockMap = [0, 1, 2, 3], [0, 1]
        dimMetadata = [Dim(0, 2), Dim(1, 0, [0, 2, 3], [0, 1, 1]), Dim(0, 2), Dim(0, 2)]

    dense = tflite_edit.densify(np.arange(1, 13, dtype=np.float32), (4, 4), Blocked)
    assert dense.tolist() == [[1, 2, 5, 6], [3, 4, 7, 8], [0, 0, 9, 10], [0, 0, 11, 12]]


def test_parse_allocations():
    log = ("[RecordingMicroAllocator] Arena allocation total 9216 bytes\n"
           "[RecordingMicroAllocator] Arena allocation head 7936 bytes\n"
           "[RecordingMicroAllocator] Arena allocation tail 1280 bytes\n")
    assert tflm.parse_allocations(log) == {"total": 9216, "head": 7936, "tail": 1280}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "memplan.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="200"), timeout=300)


def test_cli_export_and_verify(tmp_path):
    src = tmp_path / "branchy.tflite"
    src.write_bytes(branchy_model())
    out, plan_json = tmp_path / "planned.tflite", tmp_path / "p.json"
    r = cli("export-tflm", str(src), "-o", str(out), "--order", "file", "--json", str(plan_json))
    assert r.returncode == 0, r.stderr
    assert "offline plan for" in r.stdout and out.exists() and plan_json.exists()
    assert tflm.read_offline_plan(out.read_bytes()) is not None
    r = cli("verify-tflm", str(src), "--order", "file")
    assert r.returncode == 0, r.stderr
    assert "1,984" in r.stdout and "1,792" in r.stdout and "identical" in r.stdout
    r = cli("verify-tflm", str(src), "--alignment", "8")
    assert r.returncode == 2 and "aligns every arena buffer" in r.stderr and r.stderr.count("\n") == 1
    r = cli("export-tflm", "zoo:squeezenet", "-o", str(out))
    assert r.returncode == 2 and "need a .tflite model" in r.stderr


def test_mediapipe_face_detection_in_tflm():
    path = mediapipe_or_skip("face_detection_short_range")
    data = tflite_edit.fold_fp16_dequantize(open(path, "rb").read())
    tfl = tflm.load_bytes(data, path)
    p = best_plan(tfl.graph)
    out = tflm.export_model(tfl, p)
    check = tflm.verify(data, out, tfl, p)
    assert check.identical and check.memplan.head <= check.tflm.head
    assert check.memplan.head == p.arena_bytes
    before, after = metadata(data), metadata(out)
    assert "TFLITE_METADATA" in before and after == {**before, tflm.OFFLINE_METADATA: after[tflm.OFFLINE_METADATA]}
    assert len(parse_model(out).buffers) == len(parse_model(data).buffers) + 1
    weights = tflm.load_bytes(out, path).graph.initializers
    assert weights.keys() == tfl.graph.initializers.keys()
    assert all(np.array_equal(weights[n], v) for n, v in tfl.graph.initializers.items())


@pytest.mark.slow
@pytest.mark.parametrize("name", mediapipe.TFLM_MODELS)
def test_mediapipe_in_tflm_never_worse(name):
    data = tflite_edit.fold_fp16_dequantize(open(mediapipe_or_skip(name), "rb").read())
    tfl = tflm.load_bytes(data, name)
    p = best_plan(tfl.graph)
    check = tflm.verify(data, tflm.export_model(tfl, p), tfl, p)
    assert check.identical and check.memplan.head <= check.tflm.head
    if check.tflm.head > p.lower_bound_bytes:
        assert check.memplan.head < check.tflm.head


@pytest.mark.parametrize("dtype, quant", [("int8", (0.05, -3)), ("int16", (0.001, 0))])
def test_quantized_models_run_with_memplans_plan(dtype, quant):
    """Quantised tensors (per-tensor scale and zero point) size and run like float ones."""
    data = build([("x", (1, 64), dtype, None, quant), ("y", (1, 64), dtype, None, quant),
                  ("z", (1, 64), dtype, None, quant), ("c", (1, 64), dtype, np.arange(64) - 32, quant),
                  ("o", (1, 64), dtype, None, quant)],
                 [("ADD", [0, 0], [1], None), ("ADD", [1, 3], [2], None), ("ADD", [2, 1], [4], None)], [0], [4])
    tfl = tflm.load_bytes(data, dtype)
    width = np.dtype(dtype).itemsize
    assert {n: t.nbytes for n, t in tfl.graph.tensors.items()} == {n: 64 * width for n in "xyzco"}
    p = plan(tfl.graph, algorithm="tflm_greedy", order="file")
    check = tflm.verify(data, tflm.export_model(tfl, p), tfl, p)
    assert check.identical and check.memplan.outputs[0].dtype == np.dtype(dtype)
    assert check.memplan.head == check.tflm.head == p.arena_bytes


def test_mediapipe_hand_recrop_reordered_beats_tflm():
    """memplan's order lowers the bound; the exported file runs its operators in that order."""
    path = mediapipe_or_skip("hand_recrop")
    data = open(path, "rb").read()
    tfl = tflm.load_bytes(data, path)
    p = best_plan(tfl.graph, order="heuristic")
    assert list(p.order) != [op.name for op in tfl.graph.ops]
    out = tflm.export_model(tfl, p)
    check = tflm.verify(data, out, tfl, p)
    assert check.identical and check.memplan.head == p.arena_bytes < check.tflm.head
    model = parse_model(out)
    assert [f"{opcode_name(model, op.opcodeIndex)}" for op in model.subgraphs[0].operators] == \
        [name.rsplit("_", 1)[0] for name in p.order]
