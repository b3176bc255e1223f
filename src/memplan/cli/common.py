"""What every command shares: one-line errors and exit codes, model loading, the planning options."""
from __future__ import annotations

import sys
from functools import wraps

import click
from rich.console import Console

from ..errors import InputError, MemplanError

FITS, VERIFY_FAILED, ERROR, DOES_NOT_FIT = 0, 1, 2, 3
DEFAULT_ALGORITHM = "best"


# Set while a command writes an output to standard output ("-"): its report then goes to
# stderr, so that `--json - | jq` reads nothing but the JSON.
_stdout_taken = False


def _stdout() -> Console:
    return Console(soft_wrap=False, width=max(Console().width, 120), stderr=_stdout_taken)


def report_echo(text: str) -> None:
    """A line of the report (not an output): to stderr while stdout carries an output."""
    click.echo(text, err=_stdout_taken)


def fail(message: str, code: int = ERROR):
    click.echo(f"memplan: error: {one_line(message)}", err=True)
    sys.exit(code)


def one_line(message: str) -> str:
    """A message stays one line even when it quotes a name from a damaged file (a newline or
    another control character in an op type or tensor name): such characters are escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def user_errors(fn):
    """Turn MemplanError into a one-line message and a non-zero exit."""

    @wraps(fn)
    def run(*args, **kwargs):
        global _stdout_taken
        _stdout_taken = False
        try:
            return fn(*args, **kwargs)
        except MemplanError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return run


PICTURE = (".png", ".svg")


class NonNegative(click.ParamType):
    """A finite number >= 0 (nan, inf and negatives are refused)."""

    name = "number"
    unit = "number"

    def convert(self, value, param, ctx):
        import math

        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a {self.unit}", param, ctx)
        if not math.isfinite(seconds) or seconds < 0:
            self.fail(f"{value!r}: give a finite {self.unit} >= 0", param, ctx)
        return seconds


class Seconds(NonNegative):
    """A time limit: a finite number of seconds >= 0."""

    name = "seconds"
    unit = "number of seconds"


SECONDS, NON_NEGATIVE = Seconds(), NonNegative()


def check_outputs(**paths) -> None:
    """Every output path of a command checked before any work: ``name=path`` (None = not asked);
    pictures (names ending in ``picture``, ``heatmap``, ``gantt``, ``plot``) must be .png/.svg.
    Two outputs at one path are refused, since the second would replace the first."""
    import os

    from ..fileio import check_output

    global _stdout_taken
    seen: dict[str, str] = {}
    for name, path in paths.items():
        if not path:
            continue
        if path == "-":
            _stdout_taken = True
        option = "--" + name.replace("_", "-")
        picture = name.endswith(("picture", "heatmap", "gantt", "plot"))
        check_output(path, extensions=PICTURE if picture else (), what=f"{option}")
        key = os.path.realpath(path) if path != "-" else "-"
        if key in seen:
            raise InputError(f"{path}: given to both {seen[key]} and {option}")
        seen[key] = option


def parse_input_shapes(values: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for text in values:
        name, sep, dims = text.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.replace("x", ",").split(",") if d.strip())
        except ValueError:
            shape = ()
        if not sep or not name or not shape or any(d <= 0 for d in shape):
            raise InputError(f"--input-shape {text!r}: write NAME=D1,D2,... with positive integers, "
                             f"e.g. data_0=1,3,224,224")
        shapes[name] = shape
    return shapes


def parse_input_values(values: tuple[str, ...]) -> dict:
    """``NAME=V[,V..]`` -> {name: 1-D array}; the importer casts and reshapes to the input."""
    import numpy as np

    out = {}
    for text in values:
        name, sep, raw = text.partition("=")
        items = [v.strip() for v in raw.split(",") if v.strip()]
        try:
            numbers = [int(v) for v in items] if all(_is_int(v) for v in items) else [float(v) for v in items]
        except ValueError:
            numbers = []
        if not sep or not name or not numbers:
            raise InputError(f"--input-value {text!r}: write NAME=V1,V2,... with numbers, e.g. sr=16000")
        out[name] = np.array(numbers)
    return out


def _is_int(text: str) -> bool:
    return text.lstrip("+-").isdigit()


def _input_values_option(ctx, param, value):
    """Kept in ``ctx.meta`` so every planning command loads the model with them unchanged."""
    ctx.meta["memplan.input_values"] = value


def load_model(spec: str, input_shapes: tuple[str, ...] = (), fold: bool = True):
    from ..graph.onnx import load
    from ..graph.zoo import resolve

    ctx = click.get_current_context(silent=True)
    values = parse_input_values(ctx.meta.get("memplan.input_values", ()) if ctx is not None else ())
    path, name = resolve_tflite(spec) if is_tflite(spec) else resolve(spec)
    if is_tflite(path):
        from ..graph.tflite import load as load_tflite

        if values:
            raise InputError(f"{spec}: --input-value applies to ONNX models only")
        return load_tflite(path, input_shapes=parse_input_shapes(input_shapes), name=name, fold=fold)
    return load(path, input_shapes=parse_input_shapes(input_shapes), name=name, input_values=values)


def is_tflite(spec: str) -> bool:
    return spec.lower().endswith(".tflite") or spec.startswith("mediapipe:")


def onnx_only(spec: str, command: str, instead: str) -> None:
    """Commands that run onnxruntime take ONNX models; say what to use for TFLite."""
    if is_tflite(spec):
        raise InputError(f"{spec}: 'memplan {command}' takes an ONNX model (it runs onnxruntime); "
                         f"for TFLite use {instead}")


def resolve_tflite(spec: str) -> tuple[str, str]:
    """(path, display name) for a ``.tflite`` path or ``mediapipe:NAME`` (the bundled models)."""
    if spec.startswith("mediapipe:"):
        from ..graph.mediapipe import model_path

        return model_path(spec.removeprefix("mediapipe:")), spec
    return spec, spec


def plan_options(fn):
    """Options every command that plans a model shares."""
    from ..alloc import ALGORITHMS
    from ..order import ORDER_NAMES

    options = [
        click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=D1,D2,..",
                     help="Set an ONNX input's shape, e.g. data_0=4,3,224,224 for zoo:squeezenet at batch 4 "
                          "(repeatable; 'memplan inputs MODEL' lists the input names and dims)."),
        click.option("--input-value", multiple=True, metavar="NAME=V[,V..]", expose_value=False,
                     callback=_input_values_option,
                     help="Plan for a fixed input value, e.g. sr=16000: the input becomes a constant, so "
                          "shapes and If conditions that depend on it fold (repeatable)."),
        click.option("--algorithm", "-a", default=DEFAULT_ALGORITHM, show_default=True,
                     help=f"Offset algorithm: {', '.join(ALGORITHMS)}."),
        click.option("--order", default="heuristic", show_default=True,
                     help=f"Execution order: {', '.join(ORDER_NAMES)} (exact: provably minimal peak, "
                          f"within --time-limit)."),
        click.option("--share/--no-share", default=True, show_default=True, expose_value=False,
                     callback=_sharing_option, help="Buffer sharing at all (the three rules below)."),
        click.option("--views/--no-views", default=True, show_default=True, expose_value=False,
                     callback=_sharing_option, help="Reshape/Flatten/Squeeze/Identity/Dropout share their input."),
        click.option("--inplace/--no-inplace", default=True, show_default=True, expose_value=False,
                     callback=_sharing_option, help="Elementwise ops write over an input that dies there."),
        click.option("--concat/--no-concat", default=True, show_default=True, expose_value=False,
                     callback=_sharing_option, help="Concat built in place by its producers."),
        click.option("--alignment", default=16, show_default=True, type=int, help="Byte alignment of every buffer."),
        click.option("--io-in-arena/--io-outside-arena", default=True, show_default=True,
                     help="Whether graph inputs and outputs live in the arena (as in TFLite Micro)."),
        click.option("--time-limit", default=10.0, show_default=True, type=SECONDS,
                     help="Seconds the exact/best allocators may search."),
        click.option("--seed", default=0, show_default=True, type=int, help="Seed for randomised algorithms."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _sharing_option(ctx, param, value):
    """The sharing switches go to ``ctx.meta`` so every planning command gets them unchanged."""
    ctx.meta.setdefault("memplan.sharing", {})[param.name] = value


def sharing_from_context():
    from ..memory_model import Sharing

    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get("memplan.sharing", {}) if ctx is not None else {}
    if not chosen.get("share", True):
        return Sharing.off()
    return Sharing(chosen.get("views", True), chosen.get("inplace", True), chosen.get("concat", True))


def make_plan(graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed):
    from ..planner import plan

    return plan(graph, algorithm=algorithm, alignment=alignment, order=order, io_in_arena=io_in_arena,
                model=model, sharing=sharing_from_context(), order_options={"time_limit": time_limit},
                time_limit=time_limit, seed=seed)
