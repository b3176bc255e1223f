"""Proof of plans: the validator (`check`) and the arena executor."""
