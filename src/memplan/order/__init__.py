"""Execution orders: file/greedy/heuristic schedules, the exact branch and bound, its bounds,
and optimal orders for series-parallel graphs."""

# The scheduler names, here so that the CLI's help lists them without importing the
# schedulers (and numpy); `order.schedule.SCHEDULERS` has exactly these keys.
ORDER_NAMES = ("file", "greedy", "heuristic", "exact")
