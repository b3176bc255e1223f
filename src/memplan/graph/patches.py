"""Patches of a tiled model, recognised by name.

`memplan.tiling` writes each patch's copy of a stage op as ``<op>__p<row>_<col>`` and the
Slices a patch reads as ``<tensor>__p<row>_<col>__slice<k>``; the Concats that assemble the patch outputs are
``<until>__row<r>`` (a row of patches) and ``<until>__assemble`` (the rows). A plain ``memplan plan
tiled.onnx`` knows nothing else about the tiling, so the order search (patches run one after
the other) and the memory picture (colour and label by patch) find the patches here, by name.
"""
from __future__ import annotations

import re

from .ir import Graph

PATCH_NAME = re.compile(r"__p(\d+)_(\d+)(?:__slice\d+)?$")
ASSEMBLY_NAME = re.compile(r"__(?:row\d+|assemble)$")  # the Concats that assemble the patches


def patch_of(name: str) -> tuple[int, int] | None:
    """(row, column) of the patch an op (or the tensor it writes) belongs to, else None."""
    m = PATCH_NAME.search(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def patch_groups(graph: Graph) -> dict[tuple[int, int], list[int]]:
    """(row, column) -> indices of that patch's ops, patches in row-major order. Empty when
    the graph has fewer than two patches."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, op in enumerate(graph.ops):
        p = patch_of(op.name)
        if p is not None:
            groups.setdefault(p, []).append(i)
    return {p: groups[p] for p in sorted(groups)} if len(groups) > 1 else {}



def stage_output_ops(graph: Graph) -> list[int]:
    """The op writing the assembled stage output: ``__assemble``, else the one row Concat."""
    ops = [i for i, op in enumerate(graph.ops) if ASSEMBLY_NAME.search(op.name)]
    final = [i for i in ops if graph.ops[i].name.endswith("__assemble")]
    return final or (ops if len(ops) == 1 else [])
