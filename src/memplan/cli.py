"""The ``memplan`` command: a thin shell over the library.

Every user error is a `MemplanError`, printed as one line on stderr with exit code 2;
``plan --budget`` exits 3 when the arena does not fit.
"""
from __future__ import annotations

import os
import sys
from functools import wraps

import click
from rich.console import Console

from .errors import InputError, MemplanError, PlanError

FITS, VERIFY_FAILED, ERROR, DOES_NOT_FIT = 0, 1, 2, 3
DEFAULT_ALGORITHM = "best"


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

    path, name = resolve_tflite(spec) if is_tflite(spec) else resolve(spec)
    if is_tflite(path):
        from .tflite_import import load as load_tflite

        return load_tflite(path, input_shapes=parse_input_shapes(input_shapes), name=name)
    return load(path, input_shapes=parse_input_shapes(input_shapes), name=name)


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
        from .mediapipe import model_path

        return model_path(spec.removeprefix("mediapipe:")), spec
    return spec, spec


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
        click.option("--time-limit", default=10.0, show_default=True, type=click.FloatRange(min=0),
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


def tile_options(fn):
    """``--tile auto`` and ``--max-overhead`` (plan, verify)."""
    fn = click.option("--max-overhead", default=0.15, show_default=True, type=float,
                      help="With --tile auto: the most extra MACs a tiling may cost (0.15 = 15%).")(fn)
    return click.option("--tile", default=None, type=click.Choice(["auto"]),
                        help="Patch-based execution of the first stage: search the split and grid "
                             "(smallest arena within --max-overhead, or least overhead within --budget).")(fn)


def onnx_proto(spec: str, input_shapes: tuple[str, ...], command: str):
    """(path, display name, ModelProto) of an ONNX model to tile."""
    from .tiling import load_proto
    from .zoo import resolve

    if is_tflite(spec):
        raise InputError(f"{spec}: 'memplan {command}' takes an ONNX model; tiling .tflite models is not written yet")
    path, name = resolve(spec)
    return path, name, load_proto(path, parse_input_shapes(input_shapes))


def tile_search(model, input_shapes, max_overhead, budget_bytes, algorithm, order, alignment, io_in_arena,
                time_limit, seed, path=None):
    """The tiling search with the same planner options as a plain ``plan`` of the tiled file."""
    from .tiling.search import check_overhead, search

    check_overhead(max_overhead)
    _, _, proto = onnx_proto(path or model, input_shapes, "plan --tile")

    def planner(g, model):
        return make_plan(g, model, algorithm, order, alignment, io_in_arena, time_limit, seed)

    return search(proto, max_overhead=max_overhead, budget=budget_bytes, source=model, plan=planner)


def make_plan(graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed):
    from .planner import plan

    return plan(graph, algorithm=algorithm, alignment=alignment, order=order, io_in_arena=io_in_arena,
                model=model, sharing=sharing_from_context(), order_options={"time_limit": time_limit},
                time_limit=time_limit, seed=seed)


@app.command("plan")
@click.argument("model")
@plan_options
@click.option("--budget", default=None, help="Arena budget, e.g. 2MiB; exit 3 if the arena does not fit.")
@click.option("--json", "json_path", default=None, metavar="PATH", help="Write the plan JSON here.")
@click.option("--picture", default=None, metavar="PATH", help="Draw the memory layout (.png or .svg).")
@click.option("--steps", is_flag=True, help="Also print one row per step (TFLM-style memory picture).")
@click.option("--device", default=None, metavar="NAME|PATH",
              help="Place the plan on a device's memory tiers (n64, l2-2mib, l2-4mib, cortex-m7, or a .toml); "
                   "exit 3 if it does not fit.")
@click.option("--dtype", default=None, type=click.Choice(["int8", "int16", "fp16", "fp32"]),
              help="What-if: every float tensor (activations and weights) at this width.")
@click.option("--weights", "weight_mode", default="auto", show_default=True,
              type=click.Choice(["auto", "resident", "stream", "in-place"]),
              help="With --device: weights resident in RAM, streamed before each layer, or read in place; "
                   "auto chooses per weight tensor.")
@click.option("--objective", default="bytes", show_default=True, type=click.Choice(["bytes", "time"]),
              help="With --device: what spilling minimises.")
@tile_options
@user_errors
def plan_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                 budget, json_path, picture, steps, device, dtype, weight_mode, objective, tile, max_overhead):
    """Plan MODEL (an .onnx path or zoo:NAME) and print the report."""
    from .report.text import step_picture, summary_table
    from .units import parse_size

    budget_bytes = parse_size(budget) if budget is not None else None
    target = None
    if device is not None:
        from .devices import load_device

        target = load_device(device)
    if tile:
        if dtype is not None:
            raise InputError("--tile auto does not combine with --dtype yet")
        outcome = tile_search(model, input_shapes, max_overhead, budget_bytes,
                              algorithm, order, alignment, io_in_arena, time_limit, seed)
        graph, result = outcome.graph, outcome.plan
    else:
        graph = load_model(model, input_shapes)
    if dtype is not None:
        from .quantize import with_dtype

        graph = with_dtype(graph, dtype)
    if not tile:
        result = make_plan(graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed)
    if json_path:
        from .report.plan_json import write_plan

        write_plan(result, json_path)
    if picture:
        from .report.picture import memory_figure, save_figure

        save_figure(memory_figure(result, graph), picture)
    out = _stdout()
    out.print(summary_table(result, graph, budget_bytes))
    if tile:
        from .tiling.report import tiling_lines

        out.print("\n".join(tiling_lines(outcome)), highlight=False, markup=False)
    if steps:
        out.print(step_picture(result), highlight=False, markup=False)
    if target is not None:
        tiered = place_on_device(graph, result, target, weight_mode, objective, time_limit)
        if not tiered.fits:
            sys.exit(DOES_NOT_FIT)
    if budget_bytes is not None and result.arena_bytes > budget_bytes:
        sys.exit(DOES_NOT_FIT)


def place_on_device(graph, result, device, weight_mode, objective, time_limit):
    """Tiered placement and its report; a one-line stderr message when it does not fit."""
    from .placement import place, step_macs
    from .report.tiers import shortfall_message, tier_tables

    tiered = place(graph, result, device, weights=weight_mode, objective=objective, time_limit=min(time_limit, 6.0),
                   macs=step_macs(graph, result))
    out = _stdout()
    for table in tier_tables(tiered):
        out.print(table)
    if not tiered.fits:
        click.echo(f"memplan: {result.model} does not fit {device.name}: {shortfall_message(tiered)}", err=True)
    return tiered


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


@app.command("verify")
@click.argument("model")
@plan_options
@click.option("--plan", "plan_path", default=None, metavar="PLAN.json", help="Verify this plan instead of planning.")
@click.option("--random-weights/--model-weights", default=False, show_default=True,
              help="Replace every float weight by seeded random values first (the zoo's are all 0.02).")
@click.option("--rtol", default=1e-4, show_default=True, type=float)
@click.option("--atol", default=1e-5, show_default=True, type=float)
@click.option("--corrupt", is_flag=True, help="Overlap two live buffers on purpose: the run must fail.")
@tile_options
@user_errors
def verify_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                   plan_path, random_weights, rtol, atol, corrupt, tile, max_overhead):
    """Run MODEL inside its planned arena and compare with onnxruntime (exit 0 only if they match)."""
    import tempfile

    from .verify.arena_exec import corrupt as corrupt_plan
    from .verify.check import check_plan
    from .verify.prove import prove
    from .verify.reference import randomize_weights
    from .zoo import resolve

    onnx_only(model, "verify", "'memplan verify-tflm'")
    path, _ = resolve(model)
    with tempfile.TemporaryDirectory() as tmp:
        if random_weights:
            path = randomize_weights(path, os.path.join(tmp, "random.onnx"), seed)
        if tile:
            if plan_path:
                raise InputError("--tile auto plans the tiled model itself; drop --plan")
            outcome = tile_search(model, input_shapes, max_overhead, None, algorithm, order, alignment,
                                  io_in_arena, time_limit, seed, path=path)
            graph, result = outcome.graph, outcome.plan
        else:
            graph = load_model(path, input_shapes)
        if tile:
            pass
        elif plan_path:
            from .report.plan_json import read_plan

            result = read_plan(plan_path)
            findings = check_plan(graph, result)
            if findings:
                raise PlanError(f"{plan_path}: the plan does not fit {model}: {findings[0]}")
        else:
            result = make_plan(graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed)
        out = _stdout()
        if corrupt:
            result, (a, b) = corrupt_plan(result)
            out.print(f"corrupted: buffer {b} moved onto buffer {a}; the validator says: "
                      f"{check_plan(graph, result)[0]}", markup=False)
        if tile and outcome.tiled is not None:
            from .tiling.prove import prove_tiled

            proof = prove_tiled(path, outcome.tiled.model, graph, result, stage_output=outcome.tiled.stage_output,
                                seed=seed, rtol=rtol, atol=atol)
        else:
            proof = prove(path, graph, result, seed=seed, rtol=rtol, atol=atol)
    if tile:
        from .tiling.report import tiling_lines

        out.print("\n".join(tiling_lines(outcome)), highlight=False, markup=False)
    out.print(_proof_table(model, result, proof, rtol, atol))
    if not proof.ok:
        bad = proof.first_failure
        click.echo(f"memplan: verification FAILED: {bad.name} differs from onnxruntime "
                   f"(max abs {bad.max_abs:.3g}, max rel {bad.max_rel:.3g})", err=True)
        sys.exit(VERIFY_FAILED)


def _proof_table(model, plan, proof, rtol, atol):
    from rich.table import Table

    table = Table(title=f"arena execution of {model} vs onnxruntime (rtol {rtol:g}, atol {atol:g})",
                  title_justify="left")
    for col in ("output", "max abs error", "max rel error", "match"):
        table.add_column(col)
    for d in proof.diffs:
        table.add_row(d.name, f"{d.max_abs:.3g}", f"{d.max_rel:.3g}", "yes" if d.ok else "NO")
    worst = sum(1 for d in proof.intermediates if not d.ok)
    table.caption = (f"{len(proof.intermediates)} intermediate tensors checked as written, {worst} differ; "
                     f"arena {plan.arena_bytes:,} B, {plan.algorithm}; executor {proof.arena_seconds:.2f} s, "
                     f"onnxruntime {proof.reference_seconds:.2f} s")
    return table


@app.command("tile")
@click.argument("model")
@plan_options
@click.option("-o", "--output", required=True, metavar="PATH", help="The tiled .onnx to write.")
@click.option("--grid", default=None, metavar="ROWSxCOLS", help="Patch grid, e.g. 4x4, or 8x1 for row strips.")
@click.option("--until", default=None, metavar="NODE", help="The last node of the tiled stage.")
@click.option("--auto", is_flag=True, help="Choose the split and grid (as plan --tile auto).")
@click.option("--max-overhead", default=0.15, show_default=True, type=float,
              help="With --auto: the most extra MACs a tiling may cost (0.15 = 15%).")
@click.option("--budget", default=None, help="With --auto: the least-overhead tiling whose arena fits this.")
@user_errors
def tile_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                 output, grid, until, auto, max_overhead, budget):
    """Write MODEL with its first stage computed patch by patch (an ordinary ONNX file)."""
    from .fileio import write_atomic
    from .units import parse_size

    if auto == bool(grid or until) or (not auto and not (grid and until)):
        raise InputError("give either --auto or both --grid and --until")
    out = _stdout()
    if auto:
        from .tiling.report import tiling_lines

        outcome = tile_search(model, input_shapes, max_overhead, parse_size(budget) if budget else None,
                              algorithm, order, alignment, io_in_arena, time_limit, seed)
        if outcome.tiled is None:
            raise PlanError(f"{model}: no tiling lowers the arena within {max_overhead:.0%} extra MACs; nothing written")
        write_atomic(output, outcome.tiled.model.SerializeToString())
        out.print("\n".join(tiling_lines(outcome)), highlight=False, markup=False)
        if outcome.fits is False:
            out.print(f"wrote {output} (the smallest arena found; it does not fit --budget)", highlight=False,
                      markup=False)
            sys.exit(DOES_NOT_FIT)
    else:
        from .costs import total_macs
        from .tiling import tile as tile_model
        from .tiling.report import parse_grid, tile_lines
        from .tiling.rewrite import graph_of

        shape = parse_grid(grid)
        _, name, proto = onnx_proto(model, input_shapes, "tile")
        graph = graph_of(proto, source=name)
        tiled = tile_model(proto, until, shape, graph=graph)
        write_atomic(output, tiled.model.SerializeToString())
        out.print("\n".join(tile_lines(tiled, total_macs(graph))), highlight=False, markup=False)
    out.print(f"wrote {output}", highlight=False, markup=False)


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


@app.command("quantize")
@click.argument("model")
@click.option("--output", "-o", required=True, metavar="PATH", help="Where to write the QDQ int8 model (.onnx).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random calibration inputs.")
@click.option("--samples", default=8, show_default=True, type=click.IntRange(1), help="Random calibration samples.")
@click.option("--calibration", default=None, metavar="NPZ",
              help="Calibration data: an .npz with one array per model input, samples first.")
@click.option("--no-preprocess", is_flag=True, help="Skip onnxruntime's quant_pre_process.")
@user_errors
def quantize_command(model, output, seed, samples, calibration, no_preprocess):
    """Quantise MODEL to a static QDQ int8 ONNX model (onnxruntime), then plan and verify it."""
    from rich.table import Table

    from .planner import plan
    from .quantize import fold_qdq, quantize_model, with_dtype
    from .units import format_size

    onnx_only(model, "quantize", "a model that is already int8 (TFLite models usually are)")
    notes = quantize_model(model, output, seed=seed, calibration=calibration, samples=samples,
                           preprocess=not no_preprocess)
    fp32 = load_model(model)
    qdq = load_model(output)
    rows = [("fp32 (as given)", fp32), ("int8 what-if (--dtype int8)", with_dtype(fp32, "int8")),
            ("QDQ model as written", qdq), ("QDQ model, Q/DQ fused", fold_qdq(qdq))]
    table = Table(title=f"memplan quantize: {model} -> {output}", title_justify="left")
    for col in ("graph", "ops", "weights", "arena", "lower bound"):
        table.add_column(col, justify="left" if col == "graph" else "right")
    for label, g in rows:
        p = plan(g)  # validated by the planner
        table.add_row(label, str(len(p.order)), format_size(p.weights_bytes), format_size(p.arena_bytes),
                      format_size(p.lower_bound_bytes))
    out = _stdout()
    out.print(table)
    source = "given data" if calibration else f"{notes['samples']} seeded random samples (seed {seed})"
    done = "done" if notes["preprocessed"] else "skipped"
    out.print(f"calibration: {source}; pre-processing: {done}" + (f" ({notes['note']})" if notes["note"] else ""),
              highlight=False, markup=False)


@app.command("study")
@click.argument("models", nargs=-1)
@click.option("--budgets", default="2MiB,4MiB", show_default=True, help="Comma-separated arena budgets.")
@click.option("--csv", "csv_path", default=None, metavar="PATH", help="Write one CSV line per model and stage.")
@click.option("--jobs", "-j", default=None, type=click.IntRange(1), help="Worker processes (default: all cores).")
@click.option("--algorithm", "-a", default=None, help="Allocator (default: best if available, else greedy_by_size).")
@click.option("--time-limit", default=10.0, show_default=True, type=float, help="Seconds for exact/best allocators.")
@click.option("--real-int8", is_flag=True,
              help="Also quantise each model with onnxruntime (static QDQ, seeded) and plan the fused int8 graph; "
                   "seconds per model, over a minute for the largest zoo models.")
@click.option("--seed", default=0, show_default=True, type=int, help="With --real-int8: calibration seed.")
@user_errors
def study_command(models, budgets, csv_path, jobs, algorithm, time_limit, real_int8, seed):
    """Fit study: does each model's arena fit each budget — naive, best plan, best order +
    sharing, int8 (what-if), and with --real-int8 the real quantised model? MODELS default to
    the whole zoo."""
    import dataclasses

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from .alloc import get_algorithm
    from .fileio import write_atomic
    from .study import cell, default_settings, run_study, shares, to_csv
    from .units import format_size, parse_size
    from .zoo import MODELS

    sizes = [parse_size(b) for b in budgets.split(",") if b.strip()]
    if not sizes:
        raise InputError("--budgets: give at least one size, e.g. 2MiB,4MiB")
    specs = list(models) or [f"zoo:{m}" for m in MODELS]
    settings = dataclasses.replace(default_settings(time_limit, real_int8=real_int8), seed=seed)
    if algorithm:
        get_algorithm(algorithm)
        settings = dataclasses.replace(settings, algorithm=algorithm)
    with Progress(TextColumn("study"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=len(specs))
        rows = run_study(specs, settings, jobs=jobs,
                         progress=lambda r: bar.update(task, advance=1, description=r.model))
    names = [format_size(b) for b in sizes]
    described = settings.describe()
    stages = settings.stages
    table = Table(title=f"fit study: arena per stage, fits {' / '.join(names)}", title_justify="left")
    table.add_column("model")
    for s in stages:
        table.add_column(s, justify="right")
    for r in rows:
        if r.error:
            table.add_row(r.model, *(["error"] * len(stages)))
            continue
        table.add_row(r.model, *(cell(r, s, sizes) for s in stages))
    share = shares(rows, sizes)
    for b, name in zip(sizes, names):
        table.add_row(f"fits {name}", *(f"{share.get((s, b), 0.0):.0%}" for s in stages), style="bold")
    out = _stdout()
    out.print(table)
    for s in stages:
        out.print(f"{s}: {described[s]}", highlight=False, markup=False)
    if real_int8:
        spent = sum(r.quantize_seconds for r in rows)
        out.print(f"real-int8: {spent:.1f} s quantising in all", highlight=False, markup=False)
    for r in rows:
        if r.error:
            out.print(f"{r.model}: {r.error}", highlight=False, markup=False)
        for s, message in r.stage_errors.items():
            out.print(f"{r.model} ({s}): {message}", highlight=False, markup=False)
    if csv_path:
        write_atomic(csv_path, to_csv(rows, sizes))


# --- TensorFlow Lite Micro: offline plans, proof in the runtime, C header ---------------------

TFLM_MISMATCH = 1


def tflm_plan_options(fn):
    """``plan_options`` with ``--algorithm best`` as the default: the portfolio (TFLM's own
    greedy among its heuristics, so never above TFLM's plan; then ``exact`` if time is left)."""
    fn = plan_options(fn)
    for param in getattr(fn, "__click_params__", []):
        if param.name == "algorithm":
            param.default = "best"
    return fn


def tflm_model(spec: str, fold: bool, input_shapes: tuple[str, ...] = ()):
    """The model's bytes (folded for TFLM if asked) and its parsed form."""
    from .errors import ModelError
    from .tflm import fold_fp16_dequantize, load_bytes

    if not is_tflite(spec):
        raise ModelError(f"{spec}: TFLite Micro commands need a .tflite model (or mediapipe:NAME)")
    if input_shapes:
        raise ModelError(f"{spec}: --input-shape does not apply to .tflite models: their shapes are fixed in the file")
    path, name = resolve_tflite(spec)
    from .tflite_import import read_model  # clear errors for a missing or unreadable file

    read_model(path)
    with open(path, "rb") as f:
        data = f.read()
    if fold:
        data = fold_fp16_dequantize(data, name)
    return data, load_bytes(data, name)


def allocator(result) -> str:
    """The algorithm that made the plan (for ``best``, the portfolio's winner)."""
    winner = result.stats.get("winner") if result.algorithm == "best" else None
    return f"best: {winner}" if winner else result.algorithm


FOLD_HELP = "Fold float16 DEQUANTIZE and DENSIFY of constants first (TFLM cannot run them)."


@app.command("export-tflm")
@click.argument("model")
@tflm_plan_options
@click.option("-o", "--output", required=True, metavar="PATH", help="The planned .tflite to write.")
@click.option("--fold/--no-fold", default=True, show_default=True, help=FOLD_HELP)
@click.option("--json", "json_path", default=None, metavar="PATH", help="Also write the plan JSON here.")
@user_errors
def export_tflm_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                        output, fold, json_path):
    """Write MODEL (.tflite) with memplan's plan as TFLite Micro's offline plan
    (OfflineMemoryAllocation metadata; operators rewritten in the plan's order if it differs)."""
    from .fileio import write_atomic
    from .tflm import export_model
    from .units import format_size

    data, tfl = tflm_model(model, fold, input_shapes)
    result = make_plan(tfl.graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed)
    planned = export_model(tfl, result)
    write_atomic(output, planned)
    if json_path:
        from .report.plan_json import write_plan

        write_plan(result, json_path)
    reordered = list(result.order) != [op.name for op in tfl.graph.ops]
    click.echo(f"{output}: offline plan for {len(tfl.names)} tensors, arena {format_size(result.arena_bytes)} "
               f"({result.arena_bytes} bytes, lower bound {result.lower_bound_bytes}), {allocator(result)}"
               f"{', operators reordered' if reordered else ''}")


@app.command("verify-tflm")
@click.argument("model")
@tflm_plan_options
@click.option("--fold/--no-fold", default=True, show_default=True, help=FOLD_HELP)
@click.option("--input-seed", default=0, show_default=True, type=int, help="Seed of the random input.")
@click.option("--arena-size", default="64MiB", show_default=True, help="Arena given to TFLM in both runs.")
@user_errors
def verify_tflm_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                        fold, input_seed, arena_size):
    """Run MODEL in TFLite Micro twice on one seeded input — TFLM's own planner, then memplan's
    offline plan — and compare outputs (exactly) and arena heads. Exit 1 if outputs differ."""
    from rich.table import Table

    from .tflm import export_model, verify
    from .units import parse_size

    data, tfl = tflm_model(model, fold, input_shapes)
    result = make_plan(tfl.graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed)
    check = verify(data, export_model(tfl, result), tfl, result, seed=input_seed, arena_size=parse_size(arena_size))
    table = Table(title=f"{model} in TFLite Micro (input seed {input_seed})", title_justify="left")
    for col in ("run", "arena head", "tail", "outputs"):
        table.add_column(col, justify="left" if col in ("run", "outputs") else "right")
    same = "identical" if check.identical else "DIFFERENT"
    table.add_row("TFLM's own planner", f"{check.tflm.head:,}", f"{check.tflm.tail:,}", "reference")
    table.add_row(f"memplan ({allocator(result)})", f"{check.memplan.head:,}", f"{check.memplan.tail:,}", same)
    out = _stdout()
    out.print(table)
    delta = check.memplan.head - check.tflm.head
    out.print(f"lower bound {check.lower_bound:,} bytes; memplan's arena {check.plan_arena:,}; head "
              f"{'+' if delta > 0 else ''}{delta:,} bytes ({delta / max(check.tflm.head, 1):+.1%}) against TFLM's",
              highlight=False, markup=False)
    if not check.identical:
        sys.exit(TFLM_MISMATCH)


@app.command("emit-c")
@click.argument("plan_json")
@click.option("-o", "--output", required=True, metavar="PATH", help="The C header to write, e.g. model_plan.h.")
@click.option("--prefix", default=None, help="Macro prefix (default: the output's file name, e.g. MODEL_PLAN).")
@user_errors
def emit_c_command(plan_json, output, prefix):
    """Write PLAN_JSON (from `memplan plan --json`) as a C header: arena size, alignment, per-tensor
    offsets and the weights layout as constants and tables."""
    from .fileio import write_atomic
    from .report.c_header import c_header, default_prefix
    from .report.plan_json import read_plan

    write_atomic(output, c_header(read_plan(plan_json), prefix or default_prefix(output)))


@app.command("pipeline")
@click.argument("model")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=D1,D2,..",
              help="Fix a dynamic input shape, e.g. data=1,3,224,224 (repeatable).")
@click.option("--device", default="l2-4mib", show_default=True, help="Device profile: a bundled name or a .toml path.")
@click.option("--batches", default=1000, show_default=True, type=int, help="Batches to simulate.")
@click.option("--depth", default=None, type=int, help="Most batches in flight (default: unbounded).")
@click.option("--backlog", is_flag=True, help="Every batch waits at the input from time 0 (default: one every II*).")
@click.option("--stages", default=None, type=int, help="Partition the layers into K stages (exact DP) and simulate those.")
@click.option("--stage-memory", default=None, metavar="SIZE", help="Per-stage capacity for --stages, e.g. 8MiB.")
@click.option("--costs", "costs_path", default=None, metavar="CSV", help="Measured times: layer,in,compute,out (seconds).")
@click.option("--unfused", is_flag=True, help="Every runtime op is a layer (default: BN/activations fold into the producer).")
@click.option("--weight-reads", default=1.0, show_default=True, type=float,
              help="Times the weights are read per batch (0 = resident in the processing element).")
@click.option("--depths", default="1..8,auto", show_default=True,
              help="Batches in flight for the memory table: 1..8, 1,2,4, auto (full rate) or none.")
@click.option("--algorithm", "-a", default=None, help="Allocator for the memory table (default: best_fit).")
@click.option("--alignment", default=16, show_default=True, type=int, help="Byte alignment of every buffer.")
@click.option("--layers", "all_layers", is_flag=True, help="List every layer (default: the 10 slowest).")
@click.option("--heatmap", default=None, metavar="PATH", help="Wavefront heatmap (.png or .svg).")
@click.option("--gantt", default=None, metavar="PATH", help="in/compute/out Gantt chart of the first batches (.png or .svg).")
@click.option("--memory-plot", default=None, metavar="PATH", help="Throughput and arena by depth (.png or .svg).")
@click.option("--json", "json_path", default=None, metavar="PATH", help="Write the report JSON here.")
@user_errors
def pipeline_command(model, input_shapes, device, batches, depth, backlog, stages, stage_memory, costs_path, unfused,
                     weight_reads, depths, algorithm, alignment, all_layers, heatmap, gantt, memory_plot, json_path):
    """Simulate MODEL as a layer pipeline: batches flow through the layers as a wavefront.
    Prints the initiation interval, throughput, latencies, bottleneck and bubble, the stage
    partitions (--stages) and the arena needed at each number of batches in flight."""
    import os
    import time

    from .devices import load_device
    from .errors import PlanError
    from .pipeline import apply_overrides, build_pipeline, read_overrides, simulate, stats
    from .pipeline_balance import balance, even_split, merge_stages, one_per_layer
    from .pipeline_memory import ALGORITHM, depth_table, parse_depths
    from .report import pipeline_text as text
    from .units import parse_size

    for path in (heatmap, gantt, memory_plot):
        if path and os.path.splitext(path)[1].lower() not in (".png", ".svg"):
            raise InputError(f"{path}: picture must end in .png or .svg")
    if alignment < 1 or alignment & (alignment - 1):
        raise PlanError(f"--alignment must be a power of two, got {alignment}")
    capacity = parse_size(stage_memory) if stage_memory is not None else None
    if capacity is not None and stages is None:
        raise InputError("--stage-memory needs --stages K")
    pipe = build_pipeline(load_model(model, input_shapes), load_device(device), fused=not unfused,
                          weight_reads=weight_reads)
    if costs_path:
        pipe = apply_overrides(pipe, read_overrides(costs_path))
    parts = []
    if stages is not None:
        parts = [one_per_layer(pipe), even_split(pipe, stages), balance(pipe, stages)]
        if capacity is not None:
            parts.append(balance(pipe, stages, capacity=capacity))
    run = merge_stages(pipe, parts[-1]) if parts else pipe
    begin = time.perf_counter()
    tl = simulate(run, batches, depth=depth, pace=0.0 if backlog else None)
    seconds = time.perf_counter() - begin
    st = stats(tl)
    wanted = parse_depths(depths, run)
    rows = depth_table(pipe, wanted, partition=parts[-1] if parts else None, algorithm=algorithm or ALGORITHM,
                       alignment=alignment) if wanted else []
    out = _stdout()
    out.print(text.summary_table(tl, st, seconds))
    out.print(text.layer_table(tl, st, top=None if all_layers else 10))
    if parts:
        out.print(text.partition_table(parts))
    if rows:
        out.print(text.depth_table(rows, algorithm or ALGORITHM))
    _pipeline_files(tl, st, seconds, parts, rows, heatmap, gantt, memory_plot, json_path)


def _pipeline_files(tl, st, seconds, parts, rows, heatmap, gantt, memory_plot, json_path):
    from .report import pipeline_pictures as pictures

    if heatmap:
        pictures.save_figure(pictures.heatmap_figure(tl), heatmap)
    if gantt:
        pictures.save_figure(pictures.gantt_figure(tl), gantt)
    if memory_plot and rows:
        pictures.save_figure(pictures.depth_figure(rows, title=f"{tl.pipe.name}: throughput vs memory"), memory_plot)
    if json_path:
        from .fileio import write_atomic
        from .report.pipeline_text import pipeline_json

        write_atomic(json_path, pipeline_json(tl, st, seconds=seconds, partitions=parts, memory=rows))


def main():
    """Click's usage errors become one line too, naming the command; --help still works."""
    try:
        code = app.main(prog_name="memplan", standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "memplan"
        fail(f"{where}: {exc.format_message()} (see '{where} --help')")
    except click.ClickException as exc:
        fail(exc.format_message())
    except click.Abort:
        fail("aborted", 130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
