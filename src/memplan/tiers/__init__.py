"""Memory tiers: device profiles, placement of a plan on them (spills, weight modes), and the
CP-SAT search both use."""
