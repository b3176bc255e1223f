"""The conflict graph of a problem given by lists: LexBFS, chordality, the heaviest clique
and interval recognition.

* ``lex_bfs``: lexicographic breadth-first search by partition refinement (Rose, Tarjan,
  Lueker 1976); ``prefer`` breaks ties inside a cell (LexBFS+: the vertex that came last
  in the previous sweep). O(n + m log n).
* ``heaviest_clique``: a graph is chordal iff the reverse of a LexBFS order is a perfect
  elimination order; then every maximal clique is a vertex plus its neighbours visited
  before it, so the heaviest clique is exact. Otherwise the best greedy clique grown from
  the heaviest vertices: still a valid lower bound, not necessarily the heaviest.
* ``interval_order``: an order in which every vertex's later neighbours come right after
  it (an *interval ordering*, Olariu 1991) exists iff the graph is an interval graph, and
  then vertex ``k`` of the order is the interval ``[k, k + its later neighbours + 1)``.
  Candidates are multi-sweep LexBFS+ orders and their reverses (Corneil, Olariu and
  Stewart 2009 show a fixed number of LexBFS sweeps find one), each checked in O(n + m).
  A "yes" is certified by that check; a graph missed after ``SWEEPS`` sweeps is treated as
  general (the exact search is then slower, never wrong).

Example: a path a-b-c is an interval graph: a = [0, 2), b = [1, 3), c = [2, 3).
"""
from __future__ import annotations

SWEEPS = 6


def lex_bfs(adj: list[set[int]], prefer: list[int] | None = None) -> list[int]:
    """A LexBFS order of the vertices; ``prefer[v]`` larger = picked first among ties.

    Cells keep the initial (preference) order, so a split sorts only the moved vertices;
    moved and visited vertices stay behind in their old cell's list as stale entries."""
    n = len(adj)
    start = list(range(n)) if prefer is None else sorted(range(n), key=lambda v: -prefer[v])
    rank = [0] * n
    for k, v in enumerate(start):
        rank[v] = k
    cells: dict[int, list[int]] = {0: start}
    read = {0: 0}  # next unread entry of each cell's list
    live = {0: n}  # members not yet visited
    nxt, prv = {0: None}, {0: None}  # a linked list of cell ids, head first
    head, new_id = 0, 1
    cell_of = [0] * n
    done = [False] * n
    order: list[int] = []
    while head is not None:
        if not live[head]:
            head = _unlink(head, (cells, read, live), nxt, prv)
            continue
        cell, k = cells[head], read[head]
        while done[cell[k]] or cell_of[cell[k]] != head:
            k += 1
        read[head] = k + 1
        v = cell[k]
        done[v] = True
        live[head] -= 1
        order.append(v)
        groups: dict[int, list[int]] = {}
        for w in adj[v]:
            if not done[w]:
                groups.setdefault(cell_of[w], []).append(w)
        for c, group in groups.items():
            if len(group) == live[c]:
                continue  # the whole cell: nothing to split
            group.sort(key=rank.__getitem__)
            cells[new_id], read[new_id], live[new_id] = group, 0, len(group)
            live[c] -= len(group)
            for x in group:
                cell_of[x] = new_id
            nxt[new_id], prv[new_id] = c, prv[c]  # the neighbours go just before the rest
            if prv[c] is None:
                head = new_id
            else:
                nxt[prv[c]] = new_id
            prv[c] = new_id
            new_id += 1
    return order


def _unlink(c: int, tables, nxt, prv) -> int | None:
    after, before = nxt.pop(c), prv.pop(c)
    for table in tables:
        del table[c]
    if after is not None:
        prv[after] = before
    if before is not None:
        nxt[before] = after
    return after if before is None else before


def earlier_neighbours(adj: list[set[int]], order: list[int]) -> tuple[list[int], list[list[int]]]:
    pos = [0] * len(adj)
    for k, v in enumerate(order):
        pos[v] = k
    return pos, [[u for u in adj[v] if pos[u] < pos[v]] for v in range(len(adj))]


def is_chordal(adj: list[set[int]], order: list[int] | None = None) -> bool:
    """Whether the reverse of the LexBFS ``order`` is a perfect elimination order."""
    order = lex_bfs(adj) if order is None else order
    pos, earlier = earlier_neighbours(adj, order)
    for v in range(len(adj)):
        if len(earlier[v]) > 1:
            parent = max(earlier[v], key=pos.__getitem__)
            if any(u != parent and u not in adj[parent] for u in earlier[v]):
                return False
    return True


def heaviest_clique(adj: list[set[int]], weights) -> tuple[int, bool]:
    """(weight of a heaviest clique found, whether it is provably the heaviest)."""
    if not adj:
        return 0, True
    order = lex_bfs(adj)
    if is_chordal(adj, order):
        _, earlier = earlier_neighbours(adj, order)
        return max(int(weights[v]) + sum(int(weights[u]) for u in earlier[v]) for v in range(len(adj))), True
    return greedy_clique(adj, weights), False


def greedy_clique(adj: list[set[int]], weights, tries: int = 32) -> int:
    """The heaviest of the cliques grown greedily (heaviest neighbour first) from the
    ``tries`` heaviest vertices."""
    seeds = sorted(range(len(adj)), key=lambda v: (-int(weights[v]), v))[:tries]
    best = 0
    for seed in seeds:
        total, cand = int(weights[seed]), set(adj[seed])
        while cand:
            nxt = max(cand, key=lambda j: (int(weights[j]), -j))
            total += int(weights[nxt])
            cand &= adj[nxt]
        best = max(best, total)
    return best


def interval_order(adj: list[set[int]]) -> list[int] | None:
    """An interval ordering of the graph, or None when none was found (see module doc)."""
    order = None
    for _ in range(SWEEPS):
        prefer = None if order is None else [0] * len(adj)
        if order is not None:
            for k, v in enumerate(order):
                prefer[v] = k
        order = lex_bfs(adj, prefer)
        for cand in (order, order[::-1]):
            if _is_interval_ordering(adj, cand):
                return cand
    return None


def _is_interval_ordering(adj: list[set[int]], order: list[int]) -> bool:
    pos = [0] * len(adj)
    for k, v in enumerate(order):
        pos[v] = k
    for v in range(len(adj)):
        later = [pos[u] for u in adj[v] if pos[u] > pos[v]]
        if later and max(later) != pos[v] + len(later):
            return False
    return True


def intervals(adj: list[set[int]], order: list[int]) -> list[tuple[int, int]]:
    """[lower, upper) of every vertex for an interval ordering: two overlap iff adjacent."""
    pos = [0] * len(adj)
    for k, v in enumerate(order):
        pos[v] = k
    return [(pos[v], pos[v] + 1 + sum(1 for u in adj[v] if pos[u] > pos[v])) for v in range(len(adj))]
