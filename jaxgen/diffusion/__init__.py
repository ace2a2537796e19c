"""Gaussian diffusion, samplers, score-based models and guidance: pure functions of a network callable."""
