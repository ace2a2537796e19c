"""MinD-Vis: masked brain modelling, the signal-conditioned latent diffusion model, metrics."""
