"""The fuzzing suite (tests/fuzz_surfaces.py): a bounded run of every surface in the default
test run, a long one under ``-m slow`` (``make test-all``); ``tests/fuzz_long.py`` runs them
for a given time and counts. ``MEMPLAN_FUZZ_SCALE`` multiplies every example count."""
import os

import fuzz_surfaces as fz
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("MEMPLAN_FUZZ_SCALE", "1"))


def budget(n: int):
    return settings(fz.FUZZ, max_examples=max(1, int(n * SCALE)))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    from helpers import chain_model, save

    return save(chain_model(), tmp_path_factory.mktemp("fuzz") / "m.onnx")


@pytest.fixture(scope="module")
def valid_plan(small_model, tmp_path_factory):
    import json

    from cli_inprocess import run_cli

    out = tmp_path_factory.mktemp("plan") / "p.json"
    assert run_cli("plan", small_model, "--json", str(out), "-a", "greedy_by_size")[0] == 0
    return json.loads(out.read_text())


def onnx_property(n):
    @budget(n)
    @given(fz.onnx_graphs(), st.sampled_from(fz.ALGORITHMS), fz.SHARING,
           st.sampled_from(["file", "heuristic", "greedy"]), st.sampled_from(["--io-in-arena", "--io-outside-arena"]))
    def prop(model, algorithm, sharing, order, io_flag):
        fz.check_onnx(model, algorithm, sharing, order, io_flag)
    return prop


def onnx_bytes_property(n):
    @budget(n)
    @given(fz.onnx_graphs(), st.data())
    def prop(model, data):
        raw = bytearray(model.SerializeToString())
        for _ in range(data.draw(st.integers(1, 4))):
            k = data.draw(st.integers(0, len(raw) - 1))
            raw[k] = data.draw(st.integers(0, 255))
        if data.draw(st.booleans()):
            raw = raw[:data.draw(st.integers(0, len(raw)))]
        fz.check_onnx_bytes(bytes(raw))
    return prop


def problem_property(n):
    @budget(n)
    @given(fz.problems(), st.sampled_from(fz.ALGORITHMS + ("exact",)),
           st.one_of(st.none(), st.sampled_from(["0", "64", "1MiB", str(2**53), str(2**60)])))
    def prop(doc, algorithm, capacity):
        fz.check_problem(doc, algorithm, capacity)
    return prop


def device_property(n, model):
    @budget(n)
    @given(fz.device_texts())
    def prop(text):
        fz.check_device(text, model)
    return prop


def plan_property(n, plan):
    @budget(n)
    @given(fz.plan_edits(plan))
    def prop(doc):
        fz.check_plan_file(doc, "")
    return prop


def reader_property(n):
    @budget(n)
    @given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)),
           st.sampled_from([".json", ".csv", ".plan.json"]))
    def prop(data, suffix):
        fz.check_reader_bytes(data, suffix)
    return prop


# Bounded: a few seconds per surface in the default run.
def test_fuzz_onnx_graphs():
    onnx_property(15)()


def test_fuzz_onnx_bytes():
    onnx_bytes_property(25)()


def test_fuzz_problems():
    problem_property(60)()


def test_fuzz_device_files(small_model):
    device_property(40, small_model)()


def test_fuzz_plan_files(valid_plan):
    plan_property(80, valid_plan)()


def test_fuzz_reader_bytes():
    reader_property(40)()


# Long: make test-all.
@pytest.mark.slow
@pytest.mark.parametrize("surface", ["onnx", "onnx_bytes", "problem", "device", "plan", "reader"])
def test_fuzz_long(surface, small_model, valid_plan):
    n = 1000
    {"onnx": lambda: onnx_property(n), "onnx_bytes": lambda: onnx_bytes_property(n),
     "problem": lambda: problem_property(n), "device": lambda: device_property(n, small_model),
     "plan": lambda: plan_property(n, valid_plan), "reader": lambda: reader_property(n)}[surface]()()
