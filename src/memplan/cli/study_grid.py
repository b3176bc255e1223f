"""`memplan study` on a grid (``--db``, ``--devices``, ``--dtypes``, ``--stages``, ``--ray``…)
and `memplan report`: the CLI side of `study_grid`, `study_db`, `study_run` and
`report.study_html`."""
from __future__ import annotations

from typing import Sequence

import click

from ..errors import InputError
from .common import _stdout, user_errors


def split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def run_grid_study(models: Sequence[str], *, budgets: Sequence[int], db_path: str | None, devices: str | None,
                   dtypes: str | None, stages: str | None, real_int8: bool, ray: bool, ray_address: str | None,
                   shared_paths: bool, jobs: int | None, algorithm: str | None, time_limit: float, seed: int,
                   picture: str | None, csv_path: str | None) -> None:
    from ..study.db import StudyDB
    from ..study.grid import DEFAULT_STAGES, NO_DEVICE, Grid, GridSettings, check_dtypes, check_stages
    from ..study.grid import expand_devices, expand_models

    if picture and not picture.lower().endswith((".png", ".svg")):
        raise InputError(f"--picture {picture}: must end in .png or .svg")
    stage_names = check_stages(split(stages) or list(DEFAULT_STAGES) + (["real-int8"] if real_int8 else []))
    settings = GridSettings(time_limit=time_limit, seed=seed)
    if algorithm:
        from ..alloc import get_algorithm

        get_algorithm(algorithm)
        settings = GridSettings(algorithm=algorithm, time_limit=time_limit, seed=seed)
    device_refs = tuple(expand_devices(split(devices))) or (NO_DEVICE,)
    grid = Grid(tuple(expand_models(list(models) or ["zoo"])), device_refs, check_dtypes(split(dtypes) or ["fp32"]),
                stage_names, tuple(budgets), settings)
    db = StudyDB(db_path or ":memory:")  # opened (and checked) before any worker starts
    backend = _backend(ray, ray_address, shared_paths, jobs)
    try:
        summary = _run_with_bar(grid, db, backend)
    finally:
        backend.close()
    _print_results(db, grid, summary)
    if picture:
        from ..report.picture import save_figure
        from ..study.html import fit_figure

        save_figure(fit_figure([dict(r) for r in db.cells()], grid.budgets), picture)
    if csv_path:
        from ..fileio import write_atomic

        write_atomic(csv_path, cells_csv(db))


def _backend(ray: bool, ray_address: str | None, shared_paths: bool, jobs: int | None):
    from ..study.run import PoolBackend, RayBackend

    if ray or ray_address:
        return RayBackend(ray_address, jobs=jobs, shared_paths=shared_paths)
    return PoolBackend(jobs)


def _run_with_bar(grid, db, backend):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.progress import TimeRemainingColumn

    from ..study.run import run_grid

    with Progress(TextColumn(f"study ({backend.name}, {backend.workers} workers)"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=grid.cell_count(), counts="")

        def show(p):
            bar.update(task, completed=p.skipped + p.done + p.failed,
                       counts=f"done {p.done} failed {p.failed} running {p.running} reused {p.skipped}")

        return run_grid(grid, db, backend, on_progress=show)


def _print_results(db, grid, summary) -> None:
    from rich.table import Table

    from ..study.html import arenas, series, share
    from ..units import format_size

    cells = [dict(r) for r in db.cells()]
    per = arenas(cells)
    dtype = grid.dtypes[0]
    names = [format_size(b) for b in grid.budgets]
    table = Table(title=f"fit study: arena per stage ({dtype}), fits {' / '.join(names)}", title_justify="left")
    table.add_column("model")
    for s in grid.stages:
        table.add_column(s, justify="right")
    for m in grid.models:
        row = []
        for s in grid.stages:
            a = per.get((m.name, "int8" if s in ("int8", "real-int8") else dtype, s))
            row.append("error" if a is None else
                       f"{format_size(a)} " + "".join("✓" if a <= b else "✗" for b in grid.budgets))
            if s == "tiled":
                from ..study.html_tiled import brief

                row[-1] += f" ({brief(cells, m.name, dtype)})"
        table.add_row(m.name, *row)
    lines = series(cells)
    out = _stdout()
    out.print(table)
    for label, values in lines.items():
        out.print(f"{label}: " + ", ".join(f"fits {n} {share(values, b):.0%}" for b, n in zip(grid.budgets, names)),
                  highlight=False, markup=False)
    if any(d.device is not None for d in grid.devices):
        fits = {}
        for c in cells:
            if c["status"] == "ok" and c["fits_device"] is not None:
                fits.setdefault((c["device"], c["stage"], c["dtype"]), []).append(c["fits_device"])
        for (device, stage, dt), values in sorted(fits.items()):
            out.print(f"{device} {stage} {dt}: {sum(values)}/{len(values)} models fit", highlight=False, markup=False)
    if "tiled" in grid.stages:
        from ..study.html_tiled import tiled_lines

        for line in tiled_lines(cells):
            out.print(line, highlight=False, markup=False)
    errors = {}
    for c in cells:
        if c["status"] != "ok":
            errors.setdefault((c["model"], c["error"]), []).append(c["stage"])
    for (model, error), stages in errors.items():
        out.print(f"{model} ({', '.join(dict.fromkeys(stages))}): {error}", highlight=False, markup=False)
    out.print(f"cells: {summary.cells} in all, {summary.skipped} reused from the database, {summary.done} done, "
              f"{summary.failed} failed, {summary.wall_seconds:.1f} s on {summary.backend} ({summary.workers} workers)",
              highlight=False, markup=False)


def cells_csv(db) -> str:
    import csv
    import io

    columns = ["model", "device", "dtype", "stage", "budget", "status", "arena_bytes", "lower_bound_bytes",
               "fits_device", "bytes_moved", "placement", "error"]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(columns)
    for r in db.cells():
        w.writerow(["" if r[c] is None else r[c] for c in columns])
    return out.getvalue()


@click.command("report")
@click.argument("database")
@click.option("--output", "-o", required=True, metavar="PATH", help="The HTML file to write (self-contained).")
@user_errors
def report_command(database, output):
    """One self-contained HTML page from a study database: the fit curve, the share of models
    that fit per stage and budget, a sortable models table, device placements, memory pictures
    and failed cells."""
    from ..fileio import write_atomic
    from ..study.html import load_study, render
    from ..study.db import StudyDB

    if not output.lower().endswith((".html", ".htm")):
        raise InputError(f"--output {output}: the report is HTML; give a path ending in .html")
    db = StudyDB(database, readonly=True)
    try:
        page = render(load_study(db))
    finally:
        db.close()
    write_atomic(output, page)
    click.echo(f"wrote {output} ({len(page) / 1024:.0f} KiB)")
