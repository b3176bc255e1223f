"""`memplan verify`: run the model inside its planned arena against onnxruntime."""
from __future__ import annotations

import os
import sys

import click

from ..errors import InputError, PlanError
from .common import (NON_NEGATIVE, VERIFY_FAILED, _stdout, make_plan, onnx_only, parse_input_shapes,
                     parse_input_values, plan_options, user_errors)
from .tile import print_tiling, tile_options, tile_search


@click.command("verify")
@click.argument("model")
@plan_options
@click.option("--plan", "plan_path", default=None, metavar="PLAN.json", help="Verify this plan instead of planning.")
@click.option("--random-weights/--model-weights", default=False, show_default=True,
              help="Replace every float weight by seeded random values first (the zoo's large weights are all "
                   "0.02; verify says so when a model's weights are one value).")
@click.option("--rtol", default=1e-4, show_default=True, type=NON_NEGATIVE)
@click.option("--atol", default=1e-5, show_default=True, type=NON_NEGATIVE)
@click.option("--corrupt", is_flag=True, help="Overlap two live buffers on purpose: the run must fail.")
@click.option("--inputs", "inputs_path", default=None, metavar="FILE.npz",
              help="Real input arrays by input name (numpy.savez); inputs not in the file are seeded random.")
@click.option("--device", default=None, metavar="NAME|PATH",
              help="Place the plan on a device (--weights auto) and run it with the weights read in part (embedding "
                   "rows, routed experts) fetched on demand from a separate weights image; prints the bytes fetched.")
@click.option("--weights", "weight_mode", default="auto", show_default=True,
              type=click.Choice(["auto", "resident", "stream", "in-place", "on-demand"]),
              help="With --device: the weight modes (as memplan plan --weights).")
@tile_options
@user_errors
def verify_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                   plan_path, random_weights, rtol, atol, corrupt, inputs_path, tile, max_overhead, device=None,
                   weight_mode="auto"):
    """Run MODEL inside its planned arena and compare with onnxruntime (exit 0 only if they match)."""
    import tempfile

    from ..graph.onnx import load
    from ..verify.executor import corrupt as corrupt_plan
    from ..verify.check import check_plan
    from ..verify.inputs import dynamic_input_shapes, input_feeds, load_inputs, pinned_values
    from ..verify.prove import prove
    from ..verify.reference import randomize_weights
    from ..graph.zoo import resolve

    onnx_only(model, "verify", "'memplan verify-tflm'")
    if device and tile:
        raise InputError("--device does not combine with --tile yet; verify the tiled model without --device")
    path, _ = resolve(model)
    values = parse_input_values(click.get_current_context().meta.get("memplan.input_values", ()))
    with tempfile.TemporaryDirectory() as tmp:
        if random_weights:
            path = randomize_weights(path, os.path.join(tmp, "random.onnx"), seed, label=model)
        if inputs_path:  # real arrays fix the shapes of dynamic inputs and the branches taken
            input_shapes = tuple(input_shapes) + dynamic_input_shapes(inputs_path, path, tuple(input_shapes))
            values = {**pinned_values(inputs_path, path, values), **values}
        if tile:
            if plan_path or inputs_path or values:
                raise InputError("--tile auto plans and feeds the tiled model itself; drop --plan, --inputs and "
                                 "--input-value")
            outcome = tile_search(model, input_shapes, max_overhead, None, algorithm, order, alignment,
                                  io_in_arena, time_limit, seed, path=path)
            graph, result, inputs = outcome.graph, outcome.plan, {}  # no tiling found: the untiled plan
        else:
            graph = load(path, input_shapes=parse_input_shapes(input_shapes), name=model,  # messages name MODEL
                         input_values=values)
            inputs = load_inputs(inputs_path, graph, model, pinned=set(values)) if inputs_path else {}
            inputs.update(input_feeds(path, values, model))  # pinned inputs: constants here, inputs to onnxruntime
            if plan_path:
                result = _plan_from_file(plan_path, graph, model)
            else:
                result = make_plan(graph, model, algorithm, order, alignment, io_in_arena, time_limit, seed)
        out = _stdout()
        if corrupt:
            result, (a, b) = corrupt_plan(result)
            out.print(f"corrupted: buffer {b} moved onto buffer {a}; the validator says: "
                      f"{check_plan(graph, result)[0]}", markup=False)
        if tile and outcome.tiled is not None:
            from ..tiling.prove import prove_tiled

            proof = prove_tiled(path, outcome.tiled.model, graph, result, stage_output=outcome.tiled.stage_output,
                                seed=seed, rtol=rtol, atol=atol)
        else:
            fetch, tiered, run_plan = (_fetcher(graph, result, device, weight_mode, time_limit) if device
                                       else (None, None, result))
            proof = prove(path, graph, run_plan, seed=seed, rtol=rtol, atol=atol, inputs=inputs, label=model,
                          fetch=fetch)
    if tile:
        print_tiling(outcome)
    out.print(_proof_table(model, result, proof, rtol, atol))
    if device and not tile:
        expected, worst, n = fetch.expected, fetch.worst, len(fetch.weights) + len(fetch.branch)
        out.print(f"fetched on demand: {proof.fetched:,} bytes from the weights image ({n} weights "
                  f"read in part); plan on {tiered.device.name}: expected {expected:,}, worst {worst:,} bytes "
                  f"per inference" + (f"; {len(fetch.unfetched)} more read in part (masked experts) run whole, "
                                      f"not fetched" if fetch.unfetched else ""), highlight=False, markup=False)
        if proof.fetched > worst:
            click.echo(f"memplan: verification FAILED: {model}: fetched {proof.fetched} bytes on demand, more than "
                       f"the plan's worst case {worst}", err=True)
            sys.exit(VERIFY_FAILED)
    if not random_weights:
        from ..verify.weight_note import note

        line = note(graph)
        if line:
            out.print(line, highlight=False, markup=False)
    if not proof.ok:
        bad = proof.first_failure
        click.echo(f"memplan: verification FAILED: {model}: {bad.name} differs from onnxruntime "
                   f"(max abs {bad.max_abs:.3g}, max rel {bad.max_rel:.3g})", err=True)
        sys.exit(VERIFY_FAILED)


def _fetcher(graph, result, device, weight_mode, time_limit):
    """The tiered placement, a Fetcher for its weights read in part, and the plan to run (every
    buffer at its tier's address, the staging buffers where the placement put them)."""
    from ..tiers.devices import load_device
    from ..tiers.placement import place
    from ..tiers.traffic import step_macs
    from ..verify.executor import weight_values
    from ..verify.fetch import tiered_fetcher

    tiered = place(graph, result, load_device(device), weights=weight_mode, time_limit=min(time_limit, 6.0),
                   macs=step_macs(graph, result))
    run_plan, fetch = tiered_fetcher(graph, tiered, weight_values(graph))
    return fetch, tiered, run_plan


def _plan_from_file(plan_path, graph, model):
    """A plan file checked on its own and against the graph; names the model it was made for."""
    from ..formats.plan_file import read_plan
    from ..verify.check import check_plan

    result = read_plan(plan_path)
    findings = check_plan(graph, result)
    if findings:
        made_for = f" (it was made for {result.model})" if result.model and result.model != model else ""
        raise PlanError(f"{plan_path}: the plan does not fit {model}{made_for}: {findings[0]}")
    return result


def _proof_table(model, plan, proof, rtol, atol):
    from rich.table import Table

    from ..verify.prove import NOISE_ULPS

    table = Table(title=f"arena execution of {model} vs onnxruntime (rtol {rtol:g}, atol {atol:g}, "
                        f"+ {NOISE_ULPS} ulp of each tensor's largest value)",
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
