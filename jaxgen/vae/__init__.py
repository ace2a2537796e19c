"""The autoencoder family: losses, priors and likelihood estimates (networks live in nets/)."""
