"""`memplan plan`: plan a model, report it, place it on a device."""
from __future__ import annotations

import sys

import click

from ..errors import InputError
from .common import DOES_NOT_FIT, _stdout, check_outputs, load_model, make_plan, plan_options, user_errors
from .tile import print_tiling, tile_options, tile_search
from .vocabulary import wrote


@click.command("plan")
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
              type=click.Choice(["auto", "resident", "stream", "in-place", "on-demand"]),
              help="With --device: weights resident in RAM, streamed before each layer, or read in place; "
                   "on-demand: only the rows / experts read of weights read in part, the rest streamed; "
                   "auto chooses per weight tensor.")
@click.option("--fold/--no-fold", default=True, show_default=True,
              help=".tflite: float16 weights behind DEQUANTIZE (and sparse ones behind DENSIFY) planned as float32 "
                   "weights, as export-tflm writes them and TFLite Micro runs them.")
@click.option("--objective", default="bytes", show_default=True, type=click.Choice(["bytes", "time"]),
              help="With --device: what spilling minimises.")
@tile_options
@user_errors
def plan_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                 budget, json_path, picture, steps, device, dtype, weight_mode, fold, objective, tile, max_overhead):
    """Plan MODEL and print the report.

    MODEL is an .onnx or .tflite path, zoo:NAME (memplan zoo lists them) or mediapipe:NAME
    (the MediaPipe .tflite models that make unpacks, e.g. mediapipe:hand_landmark_full)."""
    from ..report.text import step_picture, summary_table
    from ..units import parse_size

    check_outputs(json=json_path, picture=picture)
    budget_bytes = parse_size(budget) if budget is not None else None
    target = None
    if device is not None:
        from ..tiers.devices import load_device

        target = load_device(device)
    if tile:
        if dtype is not None:
            raise InputError("--tile auto does not combine with --dtype yet")
        outcome = tile_search(model, input_shapes, max_overhead, budget_bytes,
                              algorithm, order, alignment, io_in_arena, time_limit, seed)
        graph, result = outcome.graph, outcome.plan
    else:
        graph = load_model(model, input_shapes, fold=fold)
        if dtype is not None:
            from ..graph.quantize import with_dtype

            graph = with_dtype(graph, dtype)
        result = make_plan(graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed)
    write_outputs(result, graph, json_path, picture)
    out = _stdout()
    out.print(summary_table(result, graph, budget_bytes))
    if tile:
        print_tiling(outcome)
    if steps:
        out.print(step_picture(result), highlight=False, markup=False)
    for path in (json_path, picture):
        if path:
            wrote(path)
    if target is not None:
        tiered = place_on_device(graph, result, target, weight_mode, objective, time_limit)
        if not tiered.fits:
            sys.exit(DOES_NOT_FIT)
    if budget_bytes is not None and result.arena_bytes > budget_bytes:
        sys.exit(DOES_NOT_FIT)


def write_outputs(result, graph, json_path, picture):
    """Render every output first, then write them together, the JSON last (see fileio)."""
    from ..fileio import write_all

    outputs = []
    if picture:
        from ..report.picture import figure_bytes, memory_figure

        outputs.append((picture, figure_bytes(memory_figure(result, graph), picture)))
    if json_path:
        from ..formats.plan_json import plan_text
        from ..graph.weight_access import analyze

        outputs.append((json_path, plan_text(result, analyze(graph))))
    write_all(outputs)


def place_on_device(graph, result, device, weight_mode, objective, time_limit):
    """Tiered placement and its report; a one-line stderr message when it does not fit."""
    from ..tiers.placement import place
    from ..tiers.traffic import step_macs
    from ..report.tiers import shortfall_message, tier_tables

    tiered = place(graph, result, device, weights=weight_mode, objective=objective, time_limit=min(time_limit, 6.0),
                   macs=step_macs(graph, result))
    out = _stdout()
    for table in tier_tables(tiered):
        out.print(table)
    if not tiered.fits:
        click.echo(f"memplan: {result.model} does not fit {device.name}: {shortfall_message(tiered)}", err=True)
    return tiered
