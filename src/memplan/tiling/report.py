"""The tiling report: arena and MACs before and after, the split, the grid, the copies."""
from __future__ import annotations

from ..errors import InputError
from ..units import format_size


IN_PLACE = "row strips are contiguous slices of the stage output (NHWC): the plan may build them in place"


def strips_line(outcome) -> str:
    """How the plan assembles NHWC row strips: in place (no copy) or by the concat's copy."""
    t, plan, graph = outcome.tiled, outcome.plan, outcome.graph
    names = [f"{t.stage_output}__p{r}" for r in range(len(t.patches))]
    home = plan.buffer_of.get(t.stage_output)
    copied = [n for n in names if n in plan.buffer_of and plan.buffer_of[n] != home]
    if not copied:
        return "no assembly copy: every row strip is written in place into the stage output (NHWC)"
    nbytes = sum(graph.tensors[n].nbytes for n in copied)
    return (f"assembly copies {format_size(nbytes)} ({nbytes:,} B): {len(copied)} of {len(names)} strips are "
            f"copied, as building them in place (reserving the whole output from the first strip) would raise the peak")


def parse_grid(text: str) -> tuple[int, int]:
    """``4x4`` -> (4, 4) (rows x columns of patches); ``8x1`` are row strips."""
    rows, sep, cols = text.lower().partition("x")
    try:
        grid = (int(rows), int(cols))
    except ValueError:
        grid = None
    if not sep or grid is None or grid[0] < 1 or grid[1] < 1 or grid[0] * grid[1] < 2:
        raise InputError(f"--grid {text!r}: write ROWSxCOLS with positive integers and at least two patches, "
                         f"e.g. 4x4 or 8x1")
    return grid


def tiling_lines(outcome) -> list[str]:
    """Plain lines (also for tests): what the search chose and what it costs."""
    base, plan = outcome.base_plan, outcome.plan
    lines = [f"arena untiled {format_size(base.arena_bytes)} ({base.arena_bytes:,} B)"]
    if outcome.tiled is None:
        lines.append(f"no tiling lowers the arena within {outcome.limit:.0%} extra MACs "
                     f"({outcome.candidates} candidates); the plan is the untiled one")
        return lines
    t = outcome.tiled
    ratio = base.arena_bytes / max(plan.arena_bytes, 1)
    lines += [
        f"arena tiled   {format_size(plan.arena_bytes)} ({plan.arena_bytes:,} B), {ratio:.2f}x smaller",
        f"MACs {outcome.macs_before:,} -> {outcome.macs_after:,} ({outcome.overhead:+.1%})",
        (f"split after node {t.until!r} (tensor {t.stage_output!r}), grid {t.grid[0]}x{t.grid[1]} "
         f"({len(t.patches)} patches)"),
        (f"assembly copies {format_size(t.copy_bytes)} ({t.copy_bytes:,} B: NCHW patches are not contiguous)"
         if t.copy_bytes else strips_line(outcome)),
        f"peak step {plan.peak_step}: {plan.order[plan.peak_step]}",
        (f"search {outcome.search_seconds:.1f} s ({outcome.candidates} candidates, {outcome.screened} screened, "
         f"{outcome.planned} planned); total {outcome.seconds:.1f} s"),
    ]
    if outcome.budget is not None:
        lines.append(f"budget {format_size(outcome.budget)}: {'fits' if outcome.fits else 'does NOT fit'}")
    return lines


def tile_lines(tiled, macs_before: int) -> list[str]:
    """Lines for an explicit ``memplan tile --grid --until``."""
    extra = tiled.tiled_stage_macs - tiled.stage_macs
    return [f"split after node {tiled.until!r}, grid {tiled.grid[0]}x{tiled.grid[1]} ({len(tiled.patches)} patches)",
            f"MACs {macs_before:,} -> {macs_before + extra:,} ({extra / max(macs_before, 1):+.1%})",
            f"assembly copies {format_size(tiled.copy_bytes)} ({tiled.copy_bytes:,} B)" if tiled.copy_bytes else IN_PLACE]
