"""Vector quantisation (van den Oord et al. 2017) as pure functions of arrays.

z: encoder vectors [..., d]; codebook [K, d]. `quantize` returns the straight-through vectors
z + stop_gradient(e - z) (forward: the code e; backward: the identity to z) and both VQ-VAE
losses computed from e itself, *before* that swap: the codebook loss |sg(z) - e|^2 moves only
the codebook, the commitment loss |z - sg(e)|^2 only the encoder. Computed after the swap, the
"codebook" term would see z_q = z + sg(...) and hand the codebook's gradient to the encoder.

EMA codebook (the paper's appendix, and MaskGIT/VQGAN practice): per-code counts and sums of
the vectors assigned to it, averaged over steps; the codebook is their ratio with Laplace
smoothing, and gets no gradient. Dead codes (EMA usage below a threshold) restart at random
encoder vectors of the batch, against index collapse.
"""

import jax
import jax.numpy as jnp


def nearest_codes(z: jax.Array, codebook: jax.Array) -> jax.Array:
  """Index of the closest code (squared Euclidean) for each vector z [..., d]: int32 [...]."""
  # |z - e|^2 = |z|^2 - 2 z.e + |e|^2; |z|^2 is the same for every code.
  scores = (jnp.sum(jnp.square(codebook), axis=-1)
            - 2.0 * jnp.einsum("...d,kd->...k", z, codebook))  # [..., K]
  return jnp.argmin(scores, axis=-1).astype(jnp.int32)


def quantize(z: jax.Array, codebook: jax.Array) -> dict[str, jax.Array]:
  """Snaps z [..., d] to its nearest codes.

  Returns z_q (straight-through vectors [..., d]), indices [...], codebook_loss and
  commitment_loss (scalars, means over all elements).
  """
  indices = nearest_codes(jax.lax.stop_gradient(z), codebook)
  e = codebook[indices]  # [..., d]
  codebook_loss = jnp.mean(jnp.square(jax.lax.stop_gradient(z) - e))
  commitment_loss = jnp.mean(jnp.square(z - jax.lax.stop_gradient(e)))
  z_q = z + jax.lax.stop_gradient(e - z)  # forward e, gradient to z unchanged
  return {"z_q": z_q, "indices": indices, "codebook_loss": codebook_loss,
          "commitment_loss": commitment_loss}


def code_counts(indices: jax.Array, num_codes: int) -> jax.Array:
  """How many times each code occurs in indices [...]: float32 [K]."""
  return jnp.zeros((num_codes,), jnp.float32).at[indices.reshape(-1)].add(1.0)


def ema_codebook(stats: dict[str, jax.Array], z: jax.Array, indices: jax.Array, decay: float,
                 epsilon: float = 1e-5) -> dict[str, jax.Array]:
  """One EMA step of the codebook statistics from vectors z [..., d] assigned to indices [...].

  stats: {"cluster_size" [K], "embed_sum" [K, d], "codebook" [K, d]}; returns the updated ones.
  The codebook is embed_sum / cluster_size, the sizes Laplace-smoothed so an unused code keeps a
  finite vector.
  """
  k, d = stats["embed_sum"].shape
  one_hot = jax.nn.one_hot(indices.reshape(-1), k, dtype=z.dtype)  # [n, K]
  flat = jax.lax.stop_gradient(z).reshape(-1, d)  # [n, d]
  size = decay * stats["cluster_size"] + (1 - decay) * one_hot.sum(0)  # [K]
  embed_sum = decay * stats["embed_sum"] + (1 - decay) * one_hot.T @ flat  # [K, d]
  total = size.sum()
  smoothed = (size + epsilon) / (total + k * epsilon) * total  # [K]
  return {"cluster_size": size, "embed_sum": embed_sum, "codebook": embed_sum / smoothed[:, None]}


def restart_dead_codes(codebook: jax.Array, usage: jax.Array, z: jax.Array, rng: jax.Array,
                       threshold: float) -> tuple[jax.Array, jax.Array]:
  """Codes whose usage [K] (an EMA of each code's share of the vectors) is below `threshold`
  move to random encoder vectors of z [..., d]; their usage restarts at the uniform share.

  Returns (codebook [K, d], usage [K]).
  """
  k, d = codebook.shape
  flat = jax.lax.stop_gradient(z).reshape(-1, d)  # [n, d]
  picks = jax.random.randint(rng, (k,), 0, flat.shape[0])  # one candidate per code
  dead = usage < threshold  # [K]
  codebook = jnp.where(dead[:, None], flat[picks], codebook)
  usage = jnp.where(dead, 1.0 / k, usage)
  return codebook, usage


def perplexity(counts: jax.Array) -> jax.Array:
  """exp(entropy) of the code distribution given by counts [K]: K when uniform, 1 when one code."""
  p = counts / jnp.maximum(counts.sum(), 1.0)
  return jnp.exp(-jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)))
