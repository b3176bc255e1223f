"""Weights read in part (`graph.weight_access`: embedding rows, routed experts) on a device:
what reading them on demand, or in place, costs, and what a placement moves per inference.

A weight read whole moves ``size`` bytes per use when streamed or read in place. A weight read
in part moves only the bytes its indices select: ``expected`` per inference on average,
``worst`` at most. On demand, those bytes are fetched into a staging buffer of ``worst``
bytes at the step that reads them, once the indices are known, so the copy cannot overlap the
step before (unlike a stream prefetch); read in place, the op reads them from the home tier.
Under the bytes objective on-demand costs one unit more than in place (which needs no RAM),
and both cost the bytes read instead of the weight's size.
"""
from __future__ import annotations

from typing import Mapping

from ..graph.weight_access import Access, analyze, total_read


PARTIAL_MODES = ("on-demand", "in-place")  # the modes that read only what the indices select


def partial_access(graph, *, enabled: bool = True, branches=None) -> dict[str, Access]:
    """Weight -> `Access` for the weights read in part (empty when not ``enabled``);
    ``branches`` as `weight_access.analyze` takes it."""
    if not enabled:
        return {}
    return {w: a for w, a in analyze(graph, branches=branches).items() if a.partial}


def demand_costs(access: Access, home, objective: str, scale: int, allowed) -> dict[str, int]:
    """The costs of ``on-demand`` and (when ``allowed``) ``in-place`` for a weight read in part,
    in the units of `placement.weight_items`."""
    if objective == "bytes":
        moved = scale * access.expected
        out = {"on-demand": moved + 2, "in-place": moved + 1}
    else:
        ns = int(round(home.read_seconds(access.expected) * 1e9))
        out = {"on-demand": ns + 1, "in-place": ns}
    return {m: c for m, c in out.items() if m in allowed or m == "on-demand"}


def bytes_moved(items, by_name: Mapping[str, str], access: Mapping[str, Access]) -> tuple[int, int]:
    """(expected, worst) weight bytes moved per inference: streamed weights whole at every use,
    in-place ones too unless read in part, on-demand ones and in-place partial ones the bytes
    read."""
    whole = sum(w.size * len(w.steps) for w in items
                if by_name[w.name] != "resident" and not (w.name in access and by_name[w.name] in PARTIAL_MODES))
    expected, worst = demand_read(by_name, access)
    return whole + expected, whole + worst


def demand_read(by_name: Mapping[str, str], access: Mapping[str, Access]) -> tuple[int, int]:
    """(expected, worst) bytes fetched per inference by the weights read in part that are not
    resident or streamed whole (what the executor's fetch count is compared with)."""
    return total_read(access, [w for w in access if by_name.get(w) in PARTIAL_MODES])


def step_read_bytes(items, access: Mapping[str, Access]) -> dict[str, int]:
    """Weight read in part -> bytes read at each step that reads it (expected, spread evenly)."""
    return {w.name: access[w.name].expected // max(len(w.steps), 1) for w in items if w.name in access}
