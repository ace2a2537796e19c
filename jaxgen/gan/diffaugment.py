"""DiffAugment (Zhao et al. 2020): differentiable augmentation of everything the discriminator sees.

A data-efficient GAN augments real and fake images alike, and the generator's gradient flows back
through the augmentation. The transforms here are pure functions of the images and of per-image
parameters drawn i.i.d. (`sample_params`), so one call on the concatenation [real; fake] gives real
and fake images the same distribution of transforms, and each image's result depends only on its
own parameters. Images are [b, h, w, c] in [-1, 1]; pixels moved in from outside the image and cut
out become 0, as in the reference implementation (mit-han-lab/data-efficient-gans).

Policies (any subset, applied in this order): "color" (brightness, saturation, contrast),
"translation" (integer shifts of up to `translation_ratio` of the side, zero padding) and
"cutout" (a zeroed square of `cutout_ratio` of the side at a random centre, clipped at the border).
"""

from typing import Sequence

import jax
import jax.numpy as jnp

POLICIES = ("color", "translation", "cutout")
Params = dict[str, jax.Array]


def check_policy(policy: Sequence[str]) -> tuple[str, ...]:
  """The policy as a tuple in application order; ValueError for unknown names."""
  unknown = sorted(set(policy) - set(POLICIES))
  if unknown:
    raise ValueError(f"unknown DiffAugment policies {unknown}; known: {', '.join(POLICIES)}")
  return tuple(p for p in POLICIES if p in policy)


def _shift(side: int, ratio: float) -> int:
  """The largest shift, rounded as the reference does: int(side * ratio + 0.5)."""
  return int(side * ratio + 0.5)


def sample_params(rng: jax.Array, shape: tuple[int, ...], policy: Sequence[str],
                  translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> Params:
  """Per-image random parameters for images of `shape` [b, h, w, c]; each entry has leading b."""
  b, h, w, _ = shape
  # One draw per policy (each random draw is a sizeable piece of a compiled step).
  keys = jax.random.split(rng, 3)
  params: Params = {}
  policy = check_policy(policy)
  if "color" in policy:
    u = jax.random.uniform(keys[0], (3, b))  # [3, b]
    params["brightness"] = u[0] - 0.5  # [b] in [-0.5, 0.5)
    params["saturation"] = u[1] * 2.0  # [b] in [0, 2)
    params["contrast"] = u[2] + 0.5  # [b] in [0.5, 1.5)
  if "translation" in policy:
    sy, sx = _shift(h, translation_ratio), _shift(w, translation_ratio)
    params["translation"] = jax.random.randint(  # [b, 2]: (dy, dx) in [-sy, sy] x [-sx, sx]
        keys[1], (b, 2), jnp.array([-sy, -sx]), jnp.array([sy + 1, sx + 1]))
  if "cutout" in policy:
    # Centres in [0, side]: the reference's randint(0, side + 1 - size % 2) for even sizes.
    size = (_shift(h, cutout_ratio), _shift(w, cutout_ratio))
    high = jnp.array([h + 1 - size[0] % 2, w + 1 - size[1] % 2])
    params["cutout"] = jax.random.randint(keys[2], (b, 2), 0, high)  # [b, 2]: (cy, cx)
  return params


def _color(x: jax.Array, p: Params) -> jax.Array:
  """Brightness offset, saturation about the channel mean, contrast about the image mean."""
  x = x + p["brightness"][:, None, None, None]
  mean_c = x.mean(axis=-1, keepdims=True)  # [b, h, w, 1]; saturation is a no-op on one channel
  x = mean_c + (x - mean_c) * p["saturation"][:, None, None, None]
  mean = x.mean(axis=(1, 2, 3), keepdims=True)  # [b, 1, 1, 1]
  return mean + (x - mean) * p["contrast"][:, None, None, None]


def _translate(x: jax.Array, shifts: jax.Array) -> jax.Array:
  """x [b, h, w, c] moved by integer shifts [b, 2] (dy, dx): out[y, x] = in[y - dy, x - dx], zeros
  where that falls outside.

  As two batched products with 0/1 shift matrices rather than a gather: on the CPU a gather's
  gradient is a scatter, slow to compile and to run, while these are small matmuls both ways.
  """
  _, h, w, _ = x.shape
  rows = jnp.arange(h)[None, :, None] - shifts[:, 0, None, None] == jnp.arange(h)[None, None, :]
  cols = jnp.arange(w)[None, :, None] - shifts[:, 1, None, None] == jnp.arange(w)[None, None, :]
  # rows [b, h (out y), h (in Y)], cols [b, w (out x), w (in X)]: 1 where Y = y - dy, X = x - dx.
  # Highest precision: accelerators may otherwise round the pixels in a float32 matmul (TF32).
  return jnp.einsum("byY,bYXc,bxX->byxc", rows.astype(x.dtype), x, cols.astype(x.dtype),
                    precision=jax.lax.Precision.HIGHEST)


def _cutout(x: jax.Array, centres: jax.Array, size: tuple[int, int]) -> jax.Array:
  """x [b, h, w, c] with a size[0] x size[1] square around centres [b, 2] set to 0."""
  _, h, w, _ = x.shape
  top = centres[:, 0:1] - size[0] // 2  # [b, 1]
  left = centres[:, 1:2] - size[1] // 2
  rows = (jnp.arange(h)[None] >= top) & (jnp.arange(h)[None] < top + size[0])  # [b, h]
  cols = (jnp.arange(w)[None] >= left) & (jnp.arange(w)[None] < left + size[1])  # [b, w]
  keep = ~(rows[:, :, None] & cols[:, None, :])  # [b, h, w]
  return x * keep[..., None].astype(x.dtype)


def apply(images: jax.Array, params: Params, cutout_ratio: float = 0.5) -> jax.Array:
  """Transforms images [b, h, w, c] with per-image `params` from `sample_params` (same ratio).

  Differentiable in `images`; the policy is whichever entries `params` holds.
  """
  _, h, w, _ = images.shape
  x = images
  if "brightness" in params:
    x = _color(x, params)
  if "translation" in params:
    x = _translate(x, params["translation"])
  if "cutout" in params:
    x = _cutout(x, params["cutout"], (_shift(h, cutout_ratio), _shift(w, cutout_ratio)))
  return x


def diff_augment(rng: jax.Array, images: jax.Array, policy: Sequence[str],
                 translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> jax.Array:
  """Augments images [b, h, w, c] with `policy`, parameters drawn i.i.d. per image from `rng`."""
  if not policy:
    return images
  params = sample_params(rng, images.shape, policy, translation_ratio, cutout_ratio)
  return apply(images, params, cutout_ratio)
