"""The pure offset-assignment problem: blocks with sizes and lifetimes (or explicit
conflicts), plus an optional capacity. No model, no graph.

Convention: a block is live on the **half-open** step interval ``[lower, upper)``, as in
MiniMalloc's CSV. Two blocks conflict when their intervals intersect, or when either names
the other in ``conflicts`` (TVM USMP's ``BufferInfo`` model).

Asymmetric lists (``directed=True``, the file's ``directed_conflicts: true``): a pair
conflicts if **either side lists it**, which is what TVM's liveness analysis always
produces. This one rule holds for every algorithm, ``best`` and the validator
(``pair_conflicts``). ``directed`` changes only what the TVM-faithful algorithms *read*
(``own_conflicts``: TVM looks only at the list of the buffer being placed): they follow
TVM literally while its plan stays valid, and where TVM would overlap a pair that only one
side lists they avoid the pair and add a one-line note to the ``Solution`` naming it.

Pools (TVM USMP's ``PoolInfo``): ``Problem.pools`` names memory pools and their size limits
(None = unbounded); ``Block.pools`` lists a block's candidate pools in preference order
(empty = every pool, in declaration order). Blocks in different pools never collide. With
no pools the problem is one arena, and ``capacity`` is its target size.

An allocator is a plain function ``problem -> Solution``; a ``Solution`` never writes back
into the problem.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class Block:
    """One thing to place: ``size`` bytes, live on ``[lower, upper)``, offset a multiple of
    ``alignment``. ``lower``/``upper`` may be None when only ``conflicts`` say who overlaps."""

    id: str
    size: int
    lower: int | None = None
    upper: int | None = None
    alignment: int = 1
    conflicts: tuple[str, ...] = ()
    pools: tuple[str, ...] = ()

    def __post_init__(self):
        if self.size < 0:
            raise ValueError(f"block {self.id!r}: negative size {self.size}")
        if self.alignment < 1:
            raise ValueError(f"block {self.id!r}: alignment must be >= 1, got {self.alignment}")
        if (self.lower is None) != (self.upper is None):
            raise ValueError(f"block {self.id!r}: give both lower and upper, or neither")
        if self.lower is not None and self.upper < self.lower:
            raise ValueError(f"block {self.id!r}: upper {self.upper} < lower {self.lower}")

    @property
    def timed(self) -> bool:
        return self.lower is not None


@dataclass(frozen=True)
class Problem:
    blocks: tuple[Block, ...]
    capacity: int | None = None
    directed: bool = False
    memory_pressure: int = 0
    pools: tuple[tuple[str, int | None], ...] = ()

    def __post_init__(self):
        ids = [b.id for b in self.blocks]
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dup = next(i for i in ids if i in seen or seen.add(i))
            raise ValueError(f"duplicate block id {dup!r}")
        known = set(ids)
        for b in self.blocks:
            for c in b.conflicts:
                if c not in known:
                    raise ValueError(f"block {b.id!r} names unknown conflict {c!r}")
        pool_names = {name for name, _ in self.pools}
        if len(pool_names) != len(self.pools):
            raise ValueError("duplicate pool name")
        for b in self.blocks:
            for p in b.pools:
                if p not in pool_names:
                    raise ValueError(f"block {b.id!r} names unknown pool {p!r}")

    def __len__(self) -> int:
        return len(self.blocks)

    @cached_property
    def index(self) -> Mapping[str, int]:
        return {b.id: i for i, b in enumerate(self.blocks)}

    @cached_property
    def sizes(self) -> np.ndarray:
        return np.array([b.size for b in self.blocks], dtype=np.int64)

    @cached_property
    def all_timed(self) -> bool:
        return all(b.timed for b in self.blocks)

    @cached_property
    def memo(self) -> dict:
        """Derived facts computed once per problem (bounds, graph classes), by name."""
        return {}

    @cached_property
    def has_lists(self) -> bool:
        return any(b.conflicts for b in self.blocks)

    def own_conflicts(self) -> list[list[int]]:
        """Per block, the blocks TVM would look at when placing it: overlapping lifetimes,
        plus its own list, plus (undirected) every block that lists it. Sorted indices. Only
        the TVM-faithful algorithms read this; the constraint is ``pair_conflicts``."""
        return self._own_conflicts

    def pair_conflicts(self) -> list[list[int]]:
        """Per block, every block that must not share bytes with it: overlapping lifetimes
        or named by either side's list (directed or not)."""
        return self._pair_conflicts

    @cached_property
    def _own_conflicts(self) -> list[list[int]]:
        sets = _interval_overlaps(self.blocks)
        for i, b in enumerate(self.blocks):
            for c in b.conflicts:
                j = self.index[c]
                if j != i:
                    sets[i].add(j)
                    if not self.directed:
                        sets[j].add(i)
        return [sorted(s) for s in sets]

    @cached_property
    def _pair_conflicts(self) -> list[list[int]]:
        if not self.directed:
            return self._own_conflicts
        sets = [set(s) for s in self._own_conflicts]
        for i, s in enumerate(self._own_conflicts):
            for j in s:
                sets[j].add(i)
        return [sorted(s) for s in sets]


def _interval_overlaps(blocks: tuple[Block, ...]) -> list[set[int]]:
    """Sweep over starts; O(n log n + pairs)."""
    sets: list[set[int]] = [set() for _ in blocks]
    timed = sorted((b.lower, b.upper, i) for i, b in enumerate(blocks) if b.timed and b.upper > b.lower)
    active: list[tuple[int, int]] = []  # (upper, index)
    for lower, upper, i in timed:
        active = [(u, j) for u, j in active if u > lower]
        for _, j in active:
            sets[i].add(j)
            sets[j].add(i)
        active.append((upper, i))
    return sets


@dataclass(frozen=True)
class Solution:
    """Offsets (one per block, in problem order) and what the algorithm knows about them.

    ``status``: ``"heuristic"`` (no claim), ``"optimal"`` (proved: height equals a proven
    bound), ``"feasible"`` (fits the capacity, no optimality claim), ``"infeasible"``
    (proved: nothing fits the capacity), ``"timeout"`` (stopped before either proof; offsets
    are the best found, or empty). ``bound`` is the best proven lower bound on the height
    (with pools: on the pools' total size). ``notes``: one line each where a TVM-faithful
    algorithm departed from TVM's literal plan because that plan would be invalid."""

    offsets: tuple[int, ...]
    algorithm: str
    status: str = "heuristic"
    bound: int = 0
    stats: Mapping[str, float] = field(default_factory=dict)
    pools: tuple[str, ...] = ()  # pool of each block when the problem declares pools
    notes: tuple[str, ...] = ()

    def height(self, problem: Problem) -> int:
        if not self.offsets:
            return 0
        return int(max((o + b.size for o, b in zip(self.offsets, problem.blocks)), default=0))

    def cost(self, problem: Problem) -> int:
        """What the algorithms minimise by default: the height, or with pools their total size."""
        if problem.pools and self.pools:
            return sum(self.pool_sizes(problem).values())
        return self.height(problem)

    def pool_sizes(self, problem: Problem) -> dict[str, int]:
        """Bytes used in each declared pool (highest end of its blocks); {} without pools."""
        sizes = {name: 0 for name, _ in problem.pools}
        for o, b, p in zip(self.offsets, problem.blocks, self.pools):
            sizes[p] = max(sizes[p], o + b.size)
        return sizes
