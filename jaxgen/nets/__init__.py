"""Flax linen modules only: they know nothing of losses or training."""
