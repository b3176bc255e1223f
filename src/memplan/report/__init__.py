"""Reports are pure functions of a plan: text tables, the plan JSON, pictures."""
