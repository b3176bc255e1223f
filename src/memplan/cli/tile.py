"""`memplan tile` and the `--tile auto` option of `plan` and `verify`: patch-based execution of
a model's first stage (`memplan.tiling`)."""
from __future__ import annotations

import sys

import click

from ..errors import InputError, PlanError
from .common import (DOES_NOT_FIT, _stdout, check_outputs, is_tflite, make_plan, parse_input_shapes, plan_options,
                     user_errors)
from .vocabulary import wrote


def tile_options(fn):
    """``--tile auto`` and ``--max-overhead`` (plan, verify)."""
    fn = click.option("--max-overhead", default=0.15, show_default=True, type=float,
                      help="With --tile auto: the most extra MACs a tiling may cost (0.15 = 15%).")(fn)
    return click.option("--tile", default=None, type=click.Choice(["auto"]),
                        help="Patch-based execution of the first stage: search the split and grid "
                             "(smallest arena within --max-overhead, or least overhead within --budget).")(fn)


def onnx_proto(spec: str, input_shapes: tuple[str, ...], command: str):
    """(path, display name, ModelProto) of an ONNX model to tile."""
    from ..graph.zoo import resolve
    from ..tiling import load_proto

    if is_tflite(spec):
        raise InputError(f"{spec}: 'memplan {command}' takes an ONNX model; tiling .tflite models is not written yet")
    path, name = resolve(spec)
    return path, name, load_proto(path, parse_input_shapes(input_shapes))


def tile_search(model, input_shapes, max_overhead, budget_bytes, algorithm, order, alignment, io_in_arena,
                time_limit, seed, path=None):
    """The tiling search with the same planner options as a plain ``plan`` of the tiled file."""
    from ..tiling.search import check_overhead, search

    check_overhead(max_overhead)

    def planner(g, model):
        return make_plan(g, model, algorithm, order, alignment, io_in_arena, time_limit, seed)

    if is_tflite(path or model):
        from .tile_tflite import tflite_search

        return tflite_search(path or model, input_shapes, max_overhead, budget_bytes, planner)
    _, _, proto = onnx_proto(path or model, input_shapes, "plan --tile")
    return search(proto, max_overhead=max_overhead, budget=budget_bytes, source=model, plan=planner)


def print_tiling(outcome) -> None:
    from ..tiling.report import tiling_lines

    _stdout().print("\n".join(tiling_lines(outcome)), highlight=False, markup=False)


@click.command("tile")
@click.argument("model")
@plan_options
@click.option("-o", "--output", required=True, metavar="PATH", help="The tiled .onnx (or .tflite) to write.")
@click.option("--grid", default=None, metavar="ROWSxCOLS", help="Patch grid, e.g. 4x4, or 8x1 for row strips.")
@click.option("--until", default=None, metavar="NODE", help="The last node of the tiled stage.")
@click.option("--auto", is_flag=True, help="Choose the split and grid (as plan --tile auto).")
@click.option("--max-overhead", default=0.15, show_default=True, type=float,
              help="With --auto: the most extra MACs a tiling may cost (0.15 = 15%).")
@click.option("--budget", default=None, help="With --auto: the least-overhead tiling whose arena fits this.")
@user_errors
def tile_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                 output, grid, until, auto, max_overhead, budget):
    """Write MODEL with its first stage computed patch by patch (an ordinary ONNX or .tflite file;
    .tflite models are tiled in row strips, ROWSx1, written in place)."""
    from ..fileio import write_atomic
    from ..units import parse_size

    if auto == bool(grid or until) or (not auto and not (grid and until)):
        raise InputError("give either --auto or both --grid and --until")
    check_outputs(output=output)
    out = _stdout()
    if is_tflite(model):
        from .tile_tflite import check_tflite_output

        check_tflite_output(output)
    if auto:
        outcome = tile_search(model, input_shapes, max_overhead, parse_size(budget) if budget else None,
                              algorithm, order, alignment, io_in_arena, time_limit, seed)
        if outcome.tiled is None:
            raise PlanError(f"{model}: no tiling lowers the arena within {max_overhead:.0%} extra MACs; nothing written")
        write_atomic(output, outcome.tiled.model if is_tflite(model) else outcome.tiled.model.SerializeToString())
        print_tiling(outcome)
        if outcome.fits is False:
            out.print(f"wrote {output} (the smallest arena found; it does not fit --budget)", highlight=False,
                      markup=False)
            sys.exit(DOES_NOT_FIT)
    else:
        from ..graph.costs import total_macs
        from ..tiling import tile as tile_model
        from ..tiling.report import parse_grid, tile_lines
        from ..tiling.rewrite import graph_of

        if is_tflite(model):
            from .tile_tflite import tile_explicit

            tiled, macs = tile_explicit(model, input_shapes, grid, until)
            write_atomic(output, tiled.model)
        else:
            shape = parse_grid(grid)
            _, name, proto = onnx_proto(model, input_shapes, "tile")
            graph = graph_of(proto, source=name)
            tiled, macs = tile_model(proto, until, shape, graph=graph), total_macs(graph)
            write_atomic(output, tiled.model.SerializeToString())
        out.print("\n".join(tile_lines(tiled, macs)), highlight=False, markup=False)
    if is_tflite(model):
        from .tile_tflite import in_place_line

        out.print(in_place_line(output), highlight=False, markup=False)
    wrote(output)
