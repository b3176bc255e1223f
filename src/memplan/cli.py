"""The ``memplan`` command: a thin shell over the library.

Every user error is a `MemplanError`, printed as one line on stderr with exit code 2;
``plan --budget`` exits 3 when the arena does not fit.
"""
from __future__ import annotations

import sys
from functools import wraps

import click
from rich.console import Console

from .errors import InputError, MemplanError

FITS, ERROR, DOES_NOT_FIT = 0, 2, 3
DEFAULT_ALGORITHM = "greedy_by_size"


def _stdout() -> Console:
    return Console(soft_wrap=False, width=max(Console().width, 120))


def fail(message: str, code: int = ERROR):
    click.echo(f"memplan: error: {message}", err=True)
    sys.exit(code)


def user_errors(fn):
    """Turn MemplanError into a one-line message and a non-zero exit."""

    @wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MemplanError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return run


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
                             f"e.g. data=1,3,224,224")
        shapes[name] = shape
    return shapes


def load_model(spec: str, input_shapes: tuple[str, ...] = ()):
    from .onnx_import import load
    from .zoo import resolve

    path, name = resolve(spec)
    return load(path, input_shapes=parse_input_shapes(input_shapes), name=name)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="memplan")
def app():
    """memplan: where every byte of a neural network lives on a small device."""


def plan_options(fn):
    """Options every command that plans a model shares."""
    from .alloc import ALGORITHMS
    from .schedule import SCHEDULERS

    options = [
        click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=D1,D2,..",
                     help="Fix a dynamic input shape, e.g. data=1,3,224,224 (repeatable)."),
        click.option("--algorithm", "-a", default=DEFAULT_ALGORITHM, show_default=True,
                     help=f"Offset algorithm: {', '.join(ALGORITHMS)}."),
        click.option("--order", default="heuristic", show_default=True,
                     help=f"Execution order: {', '.join(SCHEDULERS)} (exact: provably minimal peak, "
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
        click.option("--time-limit", default=10.0, show_default=True, type=float,
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
    from .lifetimes import Sharing

    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get("memplan.sharing", {}) if ctx is not None else {}
    if not chosen.get("share", True):
        return Sharing.off()
    return Sharing(chosen.get("views", True), chosen.get("inplace", True), chosen.get("concat", True))


def make_plan(graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed):
    import inspect

    from .alloc import get_algorithm
    from .planner import plan

    accepted = inspect.signature(get_algorithm(algorithm)).parameters
    options = {k: v for k, v in (("time_limit", time_limit), ("seed", seed)) if k in accepted}
    return plan(graph, algorithm=algorithm, alignment=alignment, order=order, io_in_arena=io_in_arena,
                model=model, sharing=sharing_from_context(), order_options={"time_limit": time_limit},
                **options)


@app.command("plan")
@click.argument("model")
@plan_options
@click.option("--budget", default=None, help="Arena budget, e.g. 2MiB; exit 3 if the arena does not fit.")
@click.option("--json", "json_path", default=None, metavar="PATH", help="Write the plan JSON here.")
@click.option("--picture", default=None, metavar="PATH", help="Draw the memory layout (.png or .svg).")
@click.option("--steps", is_flag=True, help="Also print one row per step (TFLM-style memory picture).")
@user_errors
def plan_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                 budget, json_path, picture, steps):
    """Plan MODEL (an .onnx path or zoo:NAME) and print the report."""
    from .report.text import step_picture, summary_table
    from .units import parse_size

    budget_bytes = parse_size(budget) if budget is not None else None
    graph = load_model(model, input_shapes)
    result = make_plan(graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed)
    if json_path:
        from .report.plan_json import write_plan

        write_plan(result, json_path)
    if picture:
        from .report.picture import memory_figure, save_figure

        save_figure(memory_figure(result), picture)
    out = _stdout()
    out.print(summary_table(result, graph, budget_bytes))
    if steps:
        out.print(step_picture(result), highlight=False, markup=False)
    if budget_bytes is not None and result.arena_bytes > budget_bytes:
        sys.exit(DOES_NOT_FIT)


@app.command("alloc")
@click.argument("problem_file", metavar="PROBLEM")
@click.option("--capacity", "-c", default=None, help="Arena size to fit, e.g. 1MiB; exit 3 if the plan does not fit.")
@click.option("--algorithm", "-a", default=DEFAULT_ALGORITHM, show_default=True, help="Offset algorithm.")
@click.option("--output", "-o", default=None, metavar="PATH",
              help="Write the solution: *.json (memplan.solution/1) or CSV with an offset column.")
@click.option("--time-limit", default=10.0, show_default=True, type=float, help="Seconds for exact/best.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for randomised algorithms.")
@user_errors
def alloc_cli_command(problem_file, capacity, algorithm, output, time_limit, seed):
    """Assign offsets for PROBLEM: MiniMalloc CSV (id,lower,upper,size) or memplan.problem/1 JSON."""
    from .alloc_cli import alloc_command

    sys.exit(alloc_command(problem_file, capacity, algorithm, output, time_limit, seed, console=_stdout()))


@app.command("zoo")
@user_errors
def zoo_command():
    """List the real model-zoo graphs shipped inside the installed onnx wheel."""
    from rich.table import Table

    from .onnx_import import load
    from .units import format_size
    from .zoo import MODELS, zoo_path

    table = Table(title="model zoo (inside the onnx wheel; use as zoo:NAME)", title_justify="left")
    for col in ("name", "nodes", "runtime ops", "weights", "activations"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for name in MODELS:
        graph = load(zoo_path(name), name=f"zoo:{name}")
        nodes = len(graph.ops) + len(graph.const_ops)
        table.add_row(f"zoo:{name}", str(nodes), str(len(graph.ops)), format_size(graph.weight_bytes),
                      format_size(graph.activation_bytes))
    _stdout().print(table)


def main():
    app(prog_name="memplan")


if __name__ == "__main__":
    main()
