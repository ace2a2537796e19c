"""On-device data augmentation: pure functions of an rng and a batch, for use inside a train step."""

import jax
import jax.numpy as jnp


def random_shift(rng: jax.Array, images: jax.Array, max_shift: int,
                 fill: float = 0.0) -> jax.Array:
  """Translates each image by its own random (dy, dx) in [-max_shift, max_shift], filling with `fill`.

  images [b, h, w, c] -> [b, h, w, c]. The digits' background is 0 in [0, 1] pixel scale, so the
  default fill adds no edge. max_shift=0 returns the batch unchanged.
  """
  if max_shift < 0:
    raise ValueError(f"max_shift must be >= 0, got {max_shift}")
  if max_shift == 0:
    return images
  b, h, w, c = images.shape
  s = max_shift
  padded = jnp.pad(images, ((0, 0), (s, s), (s, s), (0, 0)), constant_values=fill)  # [b, h+2s, w+2s, c]
  offsets = jax.random.randint(rng, (b, 2), 0, 2 * s + 1)  # [b, 2]: top-left corner of the crop

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, c))

  return jax.vmap(crop)(padded, offsets)


def warp(images: jax.Array, coords: jax.Array, fill: float = 0.0) -> jax.Array:
  """Samples each image at its own source coordinates by bilinear interpolation.

  images [b, h, w, c]; coords [b, 2, h, w], the (row, column) in the source image that each
  output pixel reads (the identity grid returns the images exactly). Outside the image reads
  `fill`.
  """
  def one(image, where):  # [h, w, c], [2, h, w]
    return jnp.stack([jax.scipy.ndimage.map_coordinates(image[..., k], list(where), order=1,
                                                        mode="constant", cval=fill)
                      for k in range(image.shape[-1])], axis=-1)

  return jax.vmap(one)(images, coords)


def random_affine(rng: jax.Array, images: jax.Array, max_degrees: float = 15.0,
                  scale: tuple[float, float] = (0.9, 1.1), max_shear_degrees: float = 10.0,
                  max_shift: float = 2.0) -> jax.Array:
  """Each image [b, h, w, c] rotated, scaled, sheared and translated about its centre by its own
  uniformly drawn amounts (the handwriting variations of a digit), filled with 0."""
  b, h, w, _ = images.shape
  keys = jax.random.split(rng, 4)
  angle = jnp.deg2rad(jax.random.uniform(keys[0], (b,), minval=-max_degrees, maxval=max_degrees))
  zoom = jax.random.uniform(keys[1], (b,), minval=scale[0], maxval=scale[1])
  shear = jnp.tan(jnp.deg2rad(jax.random.uniform(keys[2], (b,), minval=-max_shear_degrees,
                                                  maxval=max_shear_degrees)))
  shift = jax.random.uniform(keys[3], (b, 2), minval=-max_shift, maxval=max_shift)
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  # The forward map A = rotation @ shear @ zoom; the output reads the source at A^-1 (p - c - t) + c.
  forward = jnp.stack([jnp.stack([cos, -sin], -1), jnp.stack([sin, cos], -1)], -2)  # [b, 2, 2]
  shear_m = jnp.stack([jnp.stack([jnp.ones(b), shear], -1),
                       jnp.stack([jnp.zeros(b), jnp.ones(b)], -1)], -2)
  forward = forward @ shear_m * zoom[:, None, None]
  return affine_warp(images, jnp.linalg.inv(forward), shift)


def affine_warp(images: jax.Array, inverse: jax.Array, shift: jax.Array) -> jax.Array:
  """images [b, h, w, c] under the affine maps p -> A p + shift about the image centre, given
  A's inverses [b, 2, 2] (row, column coordinates) and shift [b, 2] in pixels."""
  b, h, w, _ = images.shape
  centre = jnp.array([(h - 1) / 2.0, (w - 1) / 2.0])
  grid = jnp.stack(jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij"), 0)  # [2, h, w]
  offset = grid[None] - centre[None, :, None, None] - shift[:, :, None, None]  # [b, 2, h, w]
  source = jnp.einsum("bij,bjhw->bihw", inverse, offset) + centre[None, :, None, None]
  return warp(images, source)


def elastic_field(rng: jax.Array, shape: tuple[int, int, int], alpha: float = 1.5,
                  sigma: float = 3.0) -> jax.Array:
  """The displacement field of `random_elastic`, [b, 2, h, w] for shape (b, h, w): white noise
  smoothed by a Gaussian of width `sigma` pixels, scaled to an RMS of `alpha` pixels per axis
  away from the border."""
  b, h, w = shape
  noise = jax.random.normal(rng, (b, 2, h, w))
  radius = int(3 * sigma)
  taps = jnp.exp(-0.5 * (jnp.arange(-radius, radius + 1) / sigma) ** 2)
  taps = taps / taps.sum()  # [k]
  # Separable Gaussian smoothing along rows then columns ("same" size, zero padded).
  rows = jax.vmap(jax.vmap(jax.vmap(lambda r: jnp.convolve(r, taps, mode="same"))))
  smooth = jnp.swapaxes(rows(jnp.swapaxes(rows(noise), -1, -2)), -1, -2)  # [b, 2, h, w]
  # White noise smoothed by normalised taps in 2-D has variance sum(taps^2)^2: rescale to 1.
  return alpha * smooth / jnp.sum(taps ** 2)


def random_elastic(rng: jax.Array, images: jax.Array, alpha: float = 1.5,
                   sigma: float = 3.0) -> jax.Array:
  """Elastic distortion (Simard et al. 2003): every pixel of images [b, h, w, c] reads the
  source displaced by `elastic_field` (Simard's alpha 34 on uniform noise with sigma 4 comes
  to an RMS of about 1.4 pixels)."""
  b, h, w, _ = images.shape
  grid = jnp.stack(jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij"), 0)  # [2, h, w]
  return warp(images, grid[None] + elastic_field(rng, (b, h, w), alpha, sigma))


def mix(rng: jax.Array, images: jax.Array, targets: jax.Array, mixup_alpha: float,
        cutmix_alpha: float) -> tuple[jax.Array, jax.Array]:
  """Mixup (Zhang et al. 2018) or CutMix (Yun et al. 2019), one of them per batch with equal
  chance when both alphas are positive, as DeiT trains: each image is mixed with the batch's
  reversed order, with lambda ~ Beta(alpha, alpha). Mixup blends the pixels; CutMix pastes a
  box of area share 1 - lambda (lambda then set to the box's exact share). The soft targets
  [b, classes] mix with the same lambda. Returns (images [b, h, w, c], targets [b, classes])."""
  if mixup_alpha <= 0 and cutmix_alpha <= 0:
    return images, targets
  b, h, w, _ = images.shape
  which, mix_key, cut_key, box_key = jax.random.split(rng, 4)
  other_images, other_targets = images[::-1], targets[::-1]

  def mixup():
    lam = jax.random.beta(mix_key, mixup_alpha, mixup_alpha)
    return lam * images + (1 - lam) * other_images, lam

  def cutmix():
    lam = jax.random.beta(cut_key, cutmix_alpha, cutmix_alpha)
    cut_h = jnp.round(h * jnp.sqrt(1 - lam)).astype(jnp.int32)
    cut_w = jnp.round(w * jnp.sqrt(1 - lam)).astype(jnp.int32)
    centre = jax.random.randint(box_key, (2,), 0, jnp.array([h, w]))
    top, left = jnp.clip(centre[0] - cut_h // 2, 0, h), jnp.clip(centre[1] - cut_w // 2, 0, w)
    bottom = jnp.clip(centre[0] - cut_h // 2 + cut_h, 0, h)
    right = jnp.clip(centre[1] - cut_w // 2 + cut_w, 0, w)
    rows, cols = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
    box = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)  # [h, w]
    mixed = jnp.where(box[None, :, :, None], other_images, images)
    return mixed, 1.0 - jnp.mean(box)  # the exact share kept from each image

  if mixup_alpha > 0 and cutmix_alpha > 0:
    mixed, lam = jax.lax.cond(jax.random.bernoulli(which), mixup, cutmix)
  else:
    mixed, lam = mixup() if mixup_alpha > 0 else cutmix()
  return mixed, lam * targets + (1 - lam) * other_targets
