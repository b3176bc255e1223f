"""`memplan pipeline`: the layer-pipeline simulator."""
from __future__ import annotations

import click

from ..errors import InputError
from .common import NON_NEGATIVE, _stdout, check_outputs, load_model, user_errors
from .vocabulary import budget_option, wrote


@click.command("pipeline")
@click.argument("model")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=D1,D2,..",
              help="Fix a dynamic input shape, e.g. data=1,3,224,224 (repeatable).")
@click.option("--device", default="l2-4mib", show_default=True, help="Device profile: a bundled name or a .toml path.")
@click.option("--batches", default=1000, show_default=True, type=int, help="Batches to simulate.")
@click.option("--depth", default=None, type=int, help="Most batches in flight (default: unbounded).")
@click.option("--backlog", is_flag=True, help="Every batch waits at the input from time 0 (default: one every II*).")
@click.option("--stages", default=None, type=int, help="Partition the layers into K stages (exact DP) and simulate those.")
@budget_option("With --stages: the memory budget of each stage, e.g. 8MiB.", aliases=("--stage-memory",))
@click.option("--costs", "costs_path", default=None, metavar="CSV", help="Measured times: layer,in,compute,out (seconds).")
@click.option("--unfused", is_flag=True, help="Every runtime op is a layer (default: BN/activations fold into the producer).")
@click.option("--weight-reads", default=1.0, show_default=True, type=NON_NEGATIVE,
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
def pipeline_command(model, input_shapes, device, batches, depth, backlog, stages, budget, costs_path, unfused,
                     weight_reads, depths, algorithm, alignment, all_layers, heatmap, gantt, memory_plot, json_path):
    """Simulate MODEL as a layer pipeline: batches flow through the layers as a wavefront.
    Prints the initiation interval, throughput, latencies, bottleneck and bubble, the stage
    partitions (--stages) and the arena needed at each number of batches in flight."""
    import time

    from ..tiers.devices import load_device
    from ..errors import PlanError
    from ..pipeline.simulate import apply_overrides, build_pipeline, read_overrides, simulate, stats
    from ..pipeline.balance import balance, even_split, merge_stages, one_per_layer
    from ..pipeline.memory import ALGORITHM, depth_table, parse_depths
    from ..report import pipeline_text as text
    from ..units import parse_size

    check_outputs(heatmap=heatmap, gantt=gantt, memory_plot=memory_plot, json=json_path)
    if alignment < 1 or alignment & (alignment - 1):
        raise PlanError(f"--alignment must be a power of two, got {alignment}")
    capacity = parse_size(budget) if budget is not None else None
    if capacity is not None and stages is None:
        raise InputError("--budget (each stage's memory) needs --stages K")
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
    from ..fileio import write_all
    from ..report import pipeline_pictures as pictures
    from ..report.picture import figure_bytes

    outputs = []  # rendered first, written together, the JSON last (see fileio)
    if heatmap:
        outputs.append((heatmap, figure_bytes(pictures.heatmap_figure(tl), heatmap)))
    if gantt:
        outputs.append((gantt, figure_bytes(pictures.gantt_figure(tl), gantt)))
    if memory_plot and rows:
        title = f"{tl.pipe.name}: throughput vs memory"
        outputs.append((memory_plot, figure_bytes(pictures.depth_figure(rows, title=title), memory_plot)))
    if json_path:
        from ..report.pipeline_text import pipeline_json

        outputs.append((json_path, pipeline_json(tl, st, seconds=seconds, partitions=parts, memory=rows)))
    write_all(outputs)
    for path, _ in outputs:
        wrote(path)
