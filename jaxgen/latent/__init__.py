"""Diffusion in learned spaces: the KL autoencoder, latent diffusion and Diffusion Autoencoders."""
