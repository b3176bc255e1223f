"""TensorFlow Lite Micro (offline plans, proof in the runtime) and the C header."""
from __future__ import annotations

import sys

import click

from ..errors import InputError, PlanError
from .common import _stdout, check_outputs, is_tflite, make_plan, plan_options, resolve_tflite, user_errors
from .tile import tile_options, tile_search
from .vocabulary import wrote

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
    from ..errors import ModelError
    from ..formats.tflm import load_bytes
    from ..graph.tflite_edit import fold_fp16_dequantize

    if not is_tflite(spec):
        raise ModelError(f"{spec}: TFLite Micro commands need a .tflite model (or mediapipe:NAME)")
    if input_shapes:
        raise ModelError(f"{spec}: --input-shape does not apply to .tflite models: their shapes are fixed in the file")
    path, name = resolve_tflite(spec)
    from ..graph.tflite import read_model  # clear errors for a missing or unreadable file

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


@click.command("export-tflm")
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
    from ..fileio import write_all
    from ..formats.plan_json import plan_text
    from ..formats.tflm import export_model
    from ..units import format_size

    check_outputs(output=output, json=json_path)
    data, tfl = tflm_model(model, fold, input_shapes)
    result = make_plan(tfl.graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed)
    planned = export_model(tfl, result)
    write_all([(output, planned)] + ([(json_path, plan_text(result))] if json_path else []))
    reordered = list(result.order) != [op.name for op in tfl.graph.ops]
    click.echo(f"wrote {output}: offline plan for {len(tfl.names)} tensors, arena {format_size(result.arena_bytes)} "
               f"({result.arena_bytes} bytes, lower bound {result.lower_bound_bytes}), {allocator(result)}"
               f"{', operators reordered' if reordered else ''}")
    if json_path:
        wrote(json_path)


@click.command("verify-tflm")
@click.argument("model")
@tflm_plan_options
@click.option("--fold/--no-fold", default=True, show_default=True, help=FOLD_HELP)
@click.option("--input-seed", default=0, show_default=True, type=int, help="Seed of the random input.")
@click.option("--arena-size", default="64MiB", show_default=True, help="Arena given to TFLM in both runs.")
@tile_options
@user_errors
def verify_tflm_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                        fold, input_seed, arena_size, tile, max_overhead):
    """Run MODEL in TFLite Micro twice on one seeded input — TFLM's own planner, then memplan's
    offline plan — and compare outputs (exactly) and arena heads. Exit 1 if outputs differ.
    With --tile auto the second run is the tiled model (row strips) with memplan's plan."""
    from rich.table import Table

    from ..formats.tflm import export_model, verify
    from ..units import parse_size

    if tile:
        from .tile_tflite import print_tiled_check, verify_tiled

        if not fold:
            raise InputError("--tile auto tiles the folded model TFLite Micro runs; drop --no-fold")
        outcome = tile_search(model, input_shapes, max_overhead, None, algorithm, order, alignment, io_in_arena,
                              time_limit, seed)
        if outcome.tiled is None:
            raise PlanError(f"{model}: no tiling lowers the arena within {max_overhead:.0%} extra MACs")
        check = verify_tiled(model, outcome, input_seed, parse_size(arena_size))
        print_tiled_check(model, outcome, check)
        if not check.identical:
            sys.exit(TFLM_MISMATCH)
        return

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
    out.print(head_line(check), highlight=False, markup=False, soft_wrap=True)
    if not check.identical:
        sys.exit(TFLM_MISMATCH)


def head_line(check) -> str:
    """The verdict in words: how much smaller (or larger) memplan's arena head is than TFLM's."""
    delta = check.memplan.head - check.tflm.head
    if delta == 0:
        verdict = "the same as TFLM's planner"
    else:
        verdict = (f"{abs(delta):,} bytes ({abs(delta) / max(check.tflm.head, 1):.1%}) "
                   f"{'less' if delta < 0 else 'more'} than TFLM's planner ({check.tflm.head:,})")
    return (f"memplan's planned arena {check.plan_arena:,} bytes, lower bound {check.lower_bound:,}; TFLM's arena "
            f"head adds its kernels' scratch buffers\n"
            f"arena head with memplan's plan: {check.memplan.head:,} bytes, {verdict}")


@click.command("emit-c")
@click.argument("plan_json")
@click.option("-o", "--output", required=True, metavar="PATH", help="The C header to write, e.g. model_plan.h.")
@click.option("--prefix", default=None, help="Macro prefix (default: the output's file name, e.g. MODEL_PLAN).")
@user_errors
def emit_c_command(plan_json, output, prefix):
    """Write PLAN_JSON (from `memplan plan --json`) as a C header: arena size, alignment, per-tensor
    offsets and the weights layout as constants and tables."""
    from ..fileio import write_atomic
    from ..formats.c_header import c_header, default_prefix
    from ..formats.plan_file import read_plan

    check_outputs(output=output)
    write_atomic(output, c_header(read_plan(plan_json), prefix or default_prefix(output)))
    wrote(output)
