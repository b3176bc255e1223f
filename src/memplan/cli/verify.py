"""`memplan verify`: run the model inside its planned arena against onnxruntime."""
from __future__ import annotations

import os
import sys

import click

from ..errors import PlanError
from .common import NON_NEGATIVE, VERIFY_FAILED, _stdout, load_model, make_plan, onnx_only, plan_options, user_errors


@click.command("verify")
@click.argument("model")
@plan_options
@click.option("--plan", "plan_path", default=None, metavar="PLAN.json", help="Verify this plan instead of planning.")
@click.option("--random-weights/--model-weights", default=False, show_default=True,
              help="Replace every float weight by seeded random values first (the zoo's are all 0.02).")
@click.option("--rtol", default=1e-4, show_default=True, type=NON_NEGATIVE)
@click.option("--atol", default=1e-5, show_default=True, type=NON_NEGATIVE)
@click.option("--corrupt", is_flag=True, help="Overlap two live buffers on purpose: the run must fail.")
@user_errors
def verify_command(model, input_shapes, algorithm, order, alignment, io_in_arena, time_limit, seed,
                   plan_path, random_weights, rtol, atol, corrupt):
    """Run MODEL inside its planned arena and compare with onnxruntime (exit 0 only if they match)."""
    import tempfile

    from ..verify.arena_exec import corrupt as corrupt_plan
    from ..verify.check import check_plan
    from ..verify.prove import prove
    from ..verify.reference import randomize_weights
    from ..zoo import resolve

    onnx_only(model, "verify", "'memplan verify-tflm'")
    path, _ = resolve(model)
    with tempfile.TemporaryDirectory() as tmp:
        if random_weights:
            path = randomize_weights(path, os.path.join(tmp, "random.onnx"), seed)
        graph = load_model(path, input_shapes)
        if plan_path:
            from ..report.plan_json import read_plan

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
        proof = prove(path, graph, result, seed=seed, rtol=rtol, atol=atol)
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
