"""Execution orders: file/greedy/heuristic schedules, the exact branch and bound, its bounds,
and optimal orders for series-parallel graphs."""
