"""`memplan study`: which models fit which budgets, before and after optimisation."""
from __future__ import annotations

import click

from ..errors import InputError
from .common import SECONDS, _stdout, check_outputs, user_errors
from .vocabulary import budget_option, wrote


@click.command("study")
@click.argument("models", nargs=-1)
@budget_option("Arena budgets to test, comma-separated.", aliases=("--budgets",), default="2MiB,4MiB")
@click.option("--csv", "csv_path", default=None, metavar="PATH", help="Write one CSV line per model and stage.")
@click.option("--jobs", "-j", default=None, type=click.IntRange(1), help="Worker processes (default: all cores).")
@click.option("--algorithm", "-a", default=None, help="Allocator (default: best if available, else greedy_by_size).")
@click.option("--time-limit", default=10.0, show_default=True, type=SECONDS, help="Seconds for exact/best allocators.")
@click.option("--real-int8", is_flag=True,
              help="Also quantise each model with onnxruntime (static QDQ, seeded) and plan the fused int8 graph; "
                   "seconds per model, over a minute for the largest zoo models.")
@click.option("--seed", default=0, show_default=True, type=int, help="With --real-int8: calibration seed.")
@click.option("--db", "db_path", default=None, metavar="PATH",
              help="SQLite file for the results: every cell is kept, a rerun skips finished cells and retries failed ones.")
@click.option("--devices", default=None, help="Comma-separated devices to place each plan on (bundled names, TOML "
                                               "paths, or 'all').")
@click.option("--dtypes", default=None, help="Comma-separated dtypes of the float tensors (fp32, fp16, int16, int8).")
@click.option("--stages", default=None, help="Comma-separated stages: naive, best, order, int8, real-int8, tiled.")
@click.option("--ray", is_flag=True, help="Run the cells on a local Ray runtime (pip install 'memplan[ray]').")
@click.option("--ray-address", default=None, metavar="HOST:PORT", help="Run the cells on an existing Ray cluster.")
@click.option("--shared-paths", is_flag=True, help="With Ray: workers read the model paths (a shared file system) "
                                                   "instead of receiving the bytes.")
@click.option("--picture", default=None, metavar="PATH", help="Draw the fit curve (.png or .svg).")
@user_errors
def study_command(models, budget, csv_path, jobs, algorithm, time_limit, real_int8, seed, db_path, devices, dtypes,
                  stages, ray, ray_address, shared_paths, picture):
    """Fit study: does each model's arena fit each budget — naive, best plan, best order +
    sharing, int8 (what-if), and with --real-int8 the real quantised model? MODELS default to
    the whole zoo. MODELS may also be 'zoo', 'mediapipe', 'corpus' (or one model: zoo:NAME,
    mediapipe:NAME, corpus:NAME), a directory, a glob or @list.txt.
    With --db, --devices, --dtypes, --stages, --ray or --picture the study runs as a grid
    (model x device x dtype x stage), cell by cell; 'memplan report DB -o report.html' draws it."""
    import dataclasses

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ..alloc import get_algorithm
    from ..fileio import write_atomic
    from ..study import cell, default_settings, run_study, shares, to_csv
    from ..units import format_size, parse_size
    from ..graph.zoo import MODELS

    check_outputs(csv=csv_path)
    sizes = [parse_size(b) for b in budget.split(",") if b.strip()]
    if not sizes:
        raise InputError("--budget: give at least one size, e.g. 2MiB,4MiB")
    if any((db_path, devices, dtypes, stages, ray, ray_address, picture)):
        from .study_grid import run_grid_study

        return run_grid_study(models, budgets=sizes, db_path=db_path, devices=devices, dtypes=dtypes, stages=stages,
                              real_int8=real_int8, ray=ray, ray_address=ray_address, shared_paths=shared_paths,
                              jobs=jobs, algorithm=algorithm, time_limit=time_limit, seed=seed, picture=picture,
                              csv_path=csv_path)
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
        wrote(csv_path)
