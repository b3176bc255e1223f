"""The bad-input corpus: one generator per defect class of issue #13, each writing its
hostile input into the current directory and returning the command line, the exit code and
the exact one-line message memplan must print. ``tests/test_bad_inputs.py`` runs them all.

Generators, not checked-in binaries, so each case says what is hostile about it."""
from __future__ import annotations

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

E = "memplan: error: "


def _model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def _chain(path="m.onnx"):
    nodes = [helper.make_node("Relu", ["x"], ["t"], name="a"), helper.make_node("Sigmoid", ["t"], ["y"], name="b")]
    onnx.save(_model(nodes, [_vi("x", [1, 4, 8, 8])], [_vi("y", [1, 4, 8, 8])]), path)
    return path


def _plan_json(path="p.json"):
    """A valid plan of ``_chain()``'s model, as a dict (also written to ``path``)."""
    plan = {"format": "memplan.plan/1", "model": "m.onnx", "order": ["a", "b"], "order_method": "file",
            "sharing": "none", "algorithm": "naive", "status": "heuristic", "alignment": 16, "io_in_arena": True,
            "arena_bytes": 3072, "lower_bound_bytes": 2048, "naive_bytes": 3072,
            "buffers": [{"id": 0, "offset": 0, "size": 1024, "first_step": 0, "last_step": 0, "tensors": ["x"]},
                        {"id": 1, "offset": 1024, "size": 1024, "first_step": 0, "last_step": 1, "tensors": ["t"]},
                        {"id": 2, "offset": 2048, "size": 1024, "first_step": 1, "last_step": 1, "tensors": ["y"]}],
            "weights": {"bytes": 0, "tensors": []}}
    with open(path, "w") as f:
        json.dump(plan, f)
    return plan


def _edited_plan(path, edit):
    plan = _plan_json(path)
    edit(plan)
    with open(path, "w") as f:
        json.dump(plan, f)
    return path


def _problem(path, buffers, **extra):
    with open(path, "w") as f:
        json.dump({"format": "memplan.problem/1", **extra, "buffers": buffers}, f)
    return path


def _device(path, tier_line="", top_line=""):
    with open(path, "w") as f:
        f.write(f'compute_macs_per_s = 1e9\n{top_line}\n[[tiers]]\nname = "sram"\n'
                f'read_bandwidth = "1GB"\nwrite_bandwidth = "1GB"\n{tier_line}\n')
    return path


# ---- 1, 5: output paths ----------------------------------------------------------------------

def output_is_directory():
    _chain()
    os.mkdir("out")
    return ["plan", "m.onnx", "--json", "out"], 2, E + "out: is a directory; give a file name"


def output_parent_missing():
    _chain()
    return (["plan", "m.onnx", "--json", "nowhere/p.json"], 2,
            E + f"nowhere/p.json: directory {os.path.abspath('nowhere')} does not exist")


def alloc_output_is_directory():
    _problem("p.json", [{"id": "a", "size": 4}])
    os.mkdir("out")
    return ["alloc", "p.json", "-o", "out"], 2, E + "out: is a directory; give a file name"


def emit_c_output_parent_missing():
    _plan_json()
    return (["emit-c", "p.json", "-o", "no/plan.h"], 2,
            E + f"no/plan.h: directory {os.path.abspath('no')} does not exist")


def output_full_device():
    _chain()
    return ["plan", "m.onnx", "--json", "/dev/full"], 2, E + "/dev/full: cannot write: no space left on device"


# ---- 11: every option checked before anything is written --------------------------------------

def picture_extension():
    _chain()
    return (["plan", "m.onnx", "--json", "p.json", "--picture", "p.bmp"], 2,
            E + "p.bmp: --picture must end in .png or .svg")


def same_path_twice():
    _chain()
    return (["plan", "m.onnx", "--json", "p.svg", "--picture", "p.svg"], 2,
            E + "p.svg: given to both --json and --picture")


# ---- 3: two nodes writing one tensor -----------------------------------------------------------

def two_producers():
    nodes = [helper.make_node("Relu", ["x"], ["t"], name="a"), helper.make_node("Sigmoid", ["x"], ["t"], name="b"),
             helper.make_node("Relu", ["t"], ["y"], name="c")]
    onnx.save(_model(nodes, [_vi("x", [4])], [_vi("y", [4])]), "dup.onnx")
    return (["plan", "dup.onnx"], 2,
            E + "dup.onnx: tensor 't' is written by both node 'a' (Relu) and node 'b' (Sigmoid); "
                "each tensor must have one producer")


# ---- 4: integers beyond 64 bits ----------------------------------------------------------------

def onnx_huge_dims():
    big = 2**40
    onnx.save(_model([helper.make_node("Relu", ["x"], ["y"], name="a")], [_vi("x", [big, big])],
                     [_vi("y", [big, big])]), "huge.onnx")
    return (["plan", "huge.onnx"], 2,
            E + "huge.onnx: tensor 'x' (shape [1099511627776, 1099511627776], float32) would take "
                "4835703278458516698824704 bytes, beyond memplan's limit of 2**53 (8 PiB)")


def problem_size_2_70():
    _problem("p.json", [{"id": "a", "size": 2**70, "lifetime": [0, 1]}])
    return (["alloc", "p.json"], 2,
            E + "p.json: buffers[0] ('a'): field 'size': 1180591620717411303424 is beyond memplan's limit "
                "of 2**53 (8 PiB)")


def problem_lifetime_2_70():
    _problem("p.json", [{"id": "a", "size": 1, "lifetime": [0, 2**70]}])
    return (["alloc", "p.json"], 2,
            E + "p.json: buffers[0] ('a'): field 'lifetime': 1180591620717411303424 is beyond memplan's "
                "limit of 2**53 (8 PiB)")


def problem_sum_overflows_int64():
    with open("p.csv", "w") as f:
        f.write("id,lower,upper,size\n" + "".join(f"b{k},0,1,{2**53}\n" for k in range(1024)))
    return (["alloc", "p.csv"], 2,
            E + "p.csv: the sizes add up to 9223372036854776832 bytes, beyond memplan's limit of 2**62")


def capacity_option_huge():
    _problem("p.json", [{"id": "a", "size": 4}])
    return (["alloc", "p.json", "--capacity", str(2**70)], 2,
            E + "size '1180591620717411303424' is beyond memplan's limit of 2**53 bytes (8 PiB)")


def emit_c_beyond_uint32():
    _edited_plan("p.json", lambda p: (p.__setitem__("arena_bytes", 2**33 + 4096),
                                       p["buffers"][2].__setitem__("offset", 2**33)))
    return (["emit-c", "p.json", "-o", "p.h"], 2,
            E + "m.onnx: arena_bytes 8589938688 does not fit the C header's uint32_t (at most 4294967295)")


# ---- 7: missing external data ------------------------------------------------------------------

def external_data_missing():
    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    model = _model([helper.make_node("MatMul", ["x", "w"], ["y"], name="a")], [_vi("x", [1, 64])],
                   [_vi("y", [1, 64])], [w])
    onnx.save(model, "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin",
              size_threshold=0)
    os.remove("w.bin")
    return (["plan", "ext.onnx"], 2,
            E + "ext.onnx: external data file 'w.bin' of tensor 'w' is missing (looked in .)")


# ---- 8: device TOML with nan / inf ---------------------------------------------------------------

def device_nan_capacity():
    _chain()
    _device("d.toml", "capacity = nan")
    return (["plan", "m.onnx", "--device", "./d.toml"], 2,
            E + "./d.toml: tier 'sram': capacity: must be a finite number, got nan")


def device_inf_bandwidth():
    _chain()
    with open("d.toml", "w") as f:
        f.write('compute_macs_per_s = 1e9\n[[tiers]]\nname = "sram"\ncapacity = "1MiB"\n'
                'read_bandwidth = inf\nwrite_bandwidth = "1GB"\n')
    return (["plan", "m.onnx", "--device", "./d.toml"], 2,
            E + "./d.toml: tier 'sram': read_bandwidth: must be a finite number, got inf")


def device_nan_compute():
    _chain()
    with open("d.toml", "w") as f:
        f.write('compute_macs_per_s = nan\n[[tiers]]\nname = "sram"\ncapacity = "1MiB"\n'
                'read_bandwidth = "1GB"\nwrite_bandwidth = "1GB"\n')
    return (["plan", "m.onnx", "--device", "./d.toml"], 2,
            E + "./d.toml: compute_macs_per_s must be a positive number, got nan")


# ---- 9: deeply nested JSON -----------------------------------------------------------------------

def _deep(path):
    with open(path, "w") as f:
        f.write("[" * 100_000 + "]" * 100_000)
    return path


def alloc_deep_json():
    _deep("deep.json")
    return ["alloc", "deep.json"], 2, E + "deep.json: JSON nested too deeply to read"


def emit_c_deep_json():
    _deep("deep.json")
    return ["emit-c", "deep.json", "-o", "p.h"], 2, E + "deep.json: JSON nested too deeply to read"


def json_nan_constant():
    with open("p.json", "w") as f:
        f.write('{"format": "memplan.problem/1", "buffers": [{"id": "a", "size": NaN}]}')
    return ["alloc", "p.json"], 2, E + "p.json: not valid JSON: NaN is not a number JSON allows"


# ---- 10: plan files checked without the model -----------------------------------------------------

def plan_overlapping_buffers():
    _edited_plan("p.json", lambda p: p["buffers"][1].__setitem__("offset", 0))
    return (["emit-c", "p.json", "-o", "p.h"], 2,
            E + "p.json: buffers '0' [0, 1024) and '1' [0, 1024) are live together and overlap")


def plan_negative_offset():
    _edited_plan("p.json", lambda p: p["buffers"][0].__setitem__("offset", -16))
    return (["emit-c", "p.json", "-o", "p.h"], 2,
            E + "p.json: buffers[0] (id 0): field 'offset': must be >= 0, got -16")


def plan_fractional_offset():
    _edited_plan("p.json", lambda p: p["buffers"][0].__setitem__("offset", 1.5))
    return (["emit-c", "p.json", "-o", "p.h"], 2,
            E + "p.json: buffers[0] (id 0): field 'offset': expected a whole number, got 1.5")


def plan_tensor_in_two_buffers():
    _edited_plan("p.json", lambda p: p["buffers"][2]["tensors"].append("x"))
    return (["emit-c", "p.json", "-o", "p.h"], 2, E + "p.json: tensor 'x' is in two buffers (0 and 2)")


def plan_outside_arena():
    _edited_plan("p.json", lambda p: p.__setitem__("arena_bytes", 2048))
    return (["emit-c", "p.json", "-o", "p.h"], 2,
            E + "p.json: buffer 2 [2048, 3072) is outside the arena of 2048 bytes")


def verify_plan_overlapping():
    _chain()
    _edited_plan("p.json", lambda p: p["buffers"][1].__setitem__("offset", 0))
    return (["verify", "m.onnx", "--plan", "p.json"], 2,
            E + "p.json: buffers '0' [0, 1024) and '1' [0, 1024) are live together and overlap")


# ---- smaller ones -----------------------------------------------------------------------------

def unknown_default_domain_op():
    nodes = [helper.make_node("Frobnicate", ["x"], ["y"], name="a")]
    onnx.save(_model(nodes, [_vi("x", [4])], [_vi("y", [4])]), "u.onnx")
    return (["plan", "u.onnx"], 2,
            E + "u.onnx: node 'a' uses op 'Frobnicate', which is not an ONNX operator; "
                "memplan plans standard ONNX ops only")


def _time_limit(command, value):
    def case():
        args = {"plan": ["plan", _chain()], "verify": ["verify", _chain()],
                "alloc": ["alloc", _problem("p.json", [{"id": "a", "size": 4}])], "study": ["study", _chain()]}
        return (args[command] + ["--time-limit", value], 2,
                E + f"memplan {command}: Invalid value for '--time-limit': {value!r}: give a finite number of "
                    f"seconds >= 0 (see 'memplan {command} --help')")
    case.__name__ = f"time_limit_{value.replace('-', 'minus_')}_{command}"
    return case


CASES = [output_is_directory, output_parent_missing, alloc_output_is_directory, emit_c_output_parent_missing,
         output_full_device, picture_extension, same_path_twice, two_producers, onnx_huge_dims,
         problem_size_2_70, problem_lifetime_2_70, problem_sum_overflows_int64, capacity_option_huge,
         emit_c_beyond_uint32, external_data_missing, device_nan_capacity, device_inf_bandwidth,
         device_nan_compute, alloc_deep_json, emit_c_deep_json, json_nan_constant, plan_overlapping_buffers,
         plan_negative_offset, plan_fractional_offset, plan_tensor_in_two_buffers, plan_outside_arena,
         verify_plan_overlapping, unknown_default_domain_op,
         *[_time_limit(c, v) for c in ("plan", "alloc", "study", "verify") for v in ("nan", "-1", "inf")]]


# ---- found by the fuzzing suite -----------------------------------------------------------------

def onnx_name_not_utf8():
    """A flipped byte in a node name: protobuf hands back bytes, which crashed three places."""
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="QQQQ")]
    raw = _model(nodes, [_vi("x", [4])], [_vi("y", [4])]).SerializeToString().replace(b"QQQQ", b"\xff\xfeQQ")
    with open("bad.onnx", "wb") as f:
        f.write(raw)
    return (["plan", "bad.onnx"], 2,
            E + "bad.onnx: a name in the graph is not valid UTF-8 (b'\\xff\\xfeQQ'); the file is damaged")


CASES.append(onnx_name_not_utf8)


def input_shape_wrong_rank():
    _chain()
    return (["plan", "m.onnx", "--input-shape", "x=1,4"], 2,
            E + "m.onnx: --input-shape x=1,4 gives 2 dims; input x [1,4,8,8] float32 has 4")


CASES.append(input_shape_wrong_rank)


def calibration_not_npz():
    _chain()
    with open("bad.npz", "wb") as f:
        f.write(b"PK\x03\x04garbage")
    return (["quantize", "m.onnx", "-o", "q.onnx", "--calibration", "bad.npz"], 2,
            E + "bad.npz: cannot read calibration data (File is not a zip file); give an .npz with one array per "
                "input, samples first")


def weight_reads_nan():
    _chain()
    return (["pipeline", "m.onnx", "--weight-reads", "nan"], 2,
            E + "memplan pipeline: Invalid value for '--weight-reads': 'nan': give a finite number >= 0 "
                "(see 'memplan pipeline --help')")


CASES += [calibration_not_npz, weight_reads_nan]


def attribute_of_no_known_type():
    """An attribute whose type field is damaged: onnx hands back None (crashed in lifetimes)."""
    node = helper.make_node("Concat", ["x", "x"], ["y"], name="c", axis=0)
    node.attribute[0].type = onnx.AttributeProto.UNDEFINED
    onnx.save(_model([node], [_vi("x", [4])], [_vi("y", [8])]), "attr.onnx")
    return (["plan", "attr.onnx"], 2,
            E + "attr.onnx: node 'c' (Concat): attribute 'axis' has no value of a known type")


CASES.append(attribute_of_no_known_type)
