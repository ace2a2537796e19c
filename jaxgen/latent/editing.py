"""Attribute editing in a Diffusion Autoencoder's semantic space (Preechakul et al. 2022 sec. 5).

A linear classifier (logistic regression) on normalised codes z_sem finds a direction along
which an attribute grows; an edit moves an image's normalised code along it and decodes with
the image's own x_T, so what does not belong to the attribute stays. Our attribute is stroke
thickness, measured as ink mass (the mean pixel value of a digit on a black background): the
classifier separates digits above the training median from those below.
"""

import jax
import jax.numpy as jnp
import numpy as np


def ink_mass(images: jax.Array | np.ndarray) -> np.ndarray:
  """Mean pixel value of each image [b, h, w, c] in [0, 1]: [b]."""
  return np.asarray(jnp.mean(jnp.asarray(images), axis=(1, 2, 3)))


def fit_direction(codes: np.ndarray, targets: np.ndarray, steps: int = 500,
                  learning_rate: float = 0.5, l2: float = 1e-3) -> np.ndarray:
  """Unit direction [d] of an L2-regularised logistic regression of binary targets [n] on
  (normalised) codes [n, d], fitted by full-batch gradient descent; the bias is not part of
  the direction."""
  x = jnp.asarray(codes, jnp.float32)
  y = jnp.asarray(targets, jnp.float32)

  def loss(wb):
    logits = x @ wb[:-1] + wb[-1]
    return jnp.mean(jax.nn.softplus(logits) - y * logits) + l2 * jnp.sum(jnp.square(wb[:-1]))

  grad = jax.jit(jax.grad(loss))

  def step(wb, _):
    return wb - learning_rate * grad(wb), None

  wb, _ = jax.lax.scan(step, jnp.zeros((x.shape[1] + 1,)), None, length=steps)
  w = np.asarray(wb[:-1])
  return w / max(float(np.linalg.norm(w)), 1e-12)


def edit_codes(codes: np.ndarray, direction: np.ndarray, amounts: np.ndarray) -> np.ndarray:
  """Normalised codes [n, d] moved by each amount [k] along a unit direction [d]:
  [k, n, d]."""
  return codes[None] + np.asarray(amounts)[:, None, None] * direction[None, None]


def is_monotonic(values: np.ndarray) -> bool:
  """Whether values [k] strictly increase."""
  return bool(np.all(np.diff(np.asarray(values)) > 0))
