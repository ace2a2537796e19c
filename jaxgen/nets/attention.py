"""The one set of attention and transformer blocks: ViT, TransGAN, MaskGIT, latent diffusion.

Every attention here goes through `jaxgen.nets.layers.dot_product_attention` (heads-major einsums
on the CPU, jax.nn.dot_product_attention's fused kernels elsewhere; softmax always in float32).
Tokens are [b, n, d]; a 2-D grid of tokens is flattened row-major, token (y, x) at y * w + x.
Masks are boolean (True = attend) and, like additive biases, broadcast to [b, heads, t, s].
"""

import math
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nets.layers import dot_product_attention

Dtype = Any  # a jnp dtype or None (the input's)
Initializer = Callable[..., jax.Array]


def causal_mask(n: int) -> jax.Array:
  """[n, n] bool: query i may attend to keys j <= i."""
  return jnp.tril(jnp.ones((n, n), jnp.bool_))


def padding_mask(valid: jax.Array) -> jax.Array:
  """valid [b, s] bool (True = a real key token) -> [b, 1, 1, s], a mask over keys."""
  return valid[:, None, None, :]


def sincos_embedding(positions: jax.Array, dim: int, max_period: float = 10000.0) -> jax.Array:
  """Fixed sinusoidal embedding of positions [n] -> [n, dim]: [sin(p w_i), cos(p w_i)].

  w_i = max_period^(-i / (dim / 2)) for i < dim / 2 (Vaswani et al.; MAE's layout, sines first).
  """
  if dim % 2:
    raise ValueError(f"a sinusoidal embedding needs an even dimension, got {dim}")
  half = dim // 2
  freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)  # [half]
  args = jnp.asarray(positions, jnp.float32)[:, None] * freqs[None]  # [n, half]
  return jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=-1)


def sincos_embedding_2d(h: int, w: int, dim: int, max_period: float = 10000.0) -> jax.Array:
  """Fixed 2-D sinusoidal embedding of an h x w grid -> [h * w, dim] (row-major tokens).

  The first dim / 2 channels embed the row y, the last dim / 2 the column x, each as
  `sincos_embedding`; dim must be divisible by 4.
  """
  if dim % 4:
    raise ValueError(f"a 2-D sinusoidal embedding needs a dimension divisible by 4, got {dim}")
  ys, xs = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij")  # [h, w] each
  emb_y = sincos_embedding(ys.reshape(-1), dim // 2, max_period)  # [h * w, dim / 2]
  emb_x = sincos_embedding(xs.reshape(-1), dim // 2, max_period)
  return jnp.concatenate([emb_y, emb_x], axis=-1)


class LearnedPositionEmbedding(nn.Module):
  """Adds a learned embedding per position to tokens [b, n, d] (ViT's `AddPositionEmbs`)."""

  # ViT's initialisation: small enough that the patch content dominates at the start.
  embedding_init: Initializer = nn.initializers.normal(stddev=0.02)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[b, n, d] -> [b, n, d] plus the [n, d] table (parameter "embedding")."""
    table = self.param("embedding", self.embedding_init, x.shape[1:])  # [n, d]
    return x + table[None].astype(x.dtype)


def relative_position_index(h: int, w: int) -> np.ndarray:
  """[h * w, h * w] int: for tokens i, j of an h x w grid, one index per offset (dy_ij, dx_ij).

  Offsets range over (2h - 1) x (2w - 1) values; two pairs share an index iff they share an offset.
  """
  ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
  ys, xs = ys.reshape(-1), xs.reshape(-1)  # [n]
  dy = ys[:, None] - ys[None, :] + h - 1  # [n, n] in [0, 2h - 2]
  dx = xs[:, None] - xs[None, :] + w - 1
  return dy * (2 * w - 1) + dx


class RelativePositionBias(nn.Module):
  """A learned bias per head and relative 2-D offset (Swin), an additive attention bias.

  Attributes:
    num_heads: attention heads; each gets its own table.
    grid: (h, w) of the token grid the queries and keys live on (a window, for windowed attention).
  """

  num_heads: int
  grid: tuple[int, int]
  # Swin's initialisation (a truncated normal of 0.02): small, so attention starts content-based.
  table_init: Initializer = nn.initializers.truncated_normal(stddev=0.02)

  @nn.compact
  def __call__(self) -> jax.Array:
    """-> [1, heads, h * w, h * w] float32, to pass as `bias` to the attention."""
    h, w = self.grid
    table = self.param("table", self.table_init, ((2 * h - 1) * (2 * w - 1), self.num_heads))
    index = relative_position_index(h, w)  # [n, n], static
    bias = table[index.reshape(-1)].reshape(h * w, h * w, self.num_heads)  # [n, n, heads]
    return bias.transpose(2, 0, 1)[None]


def _head_dim(num_heads: int, head_dim: int | None, features: int) -> int:
  """Channels per head: head_dim if given, else features / num_heads."""
  if head_dim is not None:
    return head_dim
  if features % num_heads:
    raise ValueError(f"{features} features do not split into {num_heads} heads")
  return features // num_heads


class SelfAttention(nn.Module):
  """Multi-head self-attention over tokens [b, n, d], with one fused q/k/v projection.

  Parameters: "qkv" (Dense to 3 * heads * head_dim, laid out [3, heads, head_dim]) and "proj".

  Attributes:
    num_heads: attention heads.
    head_dim: channels per head; default d / num_heads.
    out_features: output channels; default d.
    use_bias: biases in the projections.
    out_kernel_init: initialiser of the output projection (zeros: a residual branch starts at 0).
    dtype: computation dtype (e.g. bfloat16); parameters stay float32.
    decode: autoregressive decoding with a key/value cache (the "cache" collection, made by an
      init call at the full length): each call then takes the next token(s) [b, m, d], stores
      their keys and values, and attends causally to everything stored so far.
  """

  num_heads: int
  head_dim: int | None = None
  out_features: int | None = None
  use_bias: bool = True
  out_kernel_init: Initializer = nn.initializers.lecun_normal()
  dtype: Dtype = None
  decode: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array | None = None,
               bias: jax.Array | None = None) -> jax.Array:
    """x [b, n, d] -> [b, n, out_features]; mask, bias broadcast to [b, heads, n, n]."""
    b, n, d = x.shape
    heads, head_dim = self.num_heads, _head_dim(self.num_heads, self.head_dim, d)
    # One matmul for q, k and v: on the CPU three small ones cost more than one wide one.
    qkv = nn.Dense(3 * heads * head_dim, use_bias=self.use_bias, dtype=self.dtype, name="qkv")(x)
    qkv = qkv.reshape(b, n, 3, heads, head_dim)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # [b, n, heads, head_dim]
    if self.decode:
      k, v, mask = self._cached(k, v, mask, bias)
    out = dot_product_attention(q, k, v, mask=mask, bias=bias).reshape(b, n, heads * head_dim)
    return nn.Dense(self.out_features or d, use_bias=self.use_bias,
                    kernel_init=self.out_kernel_init, dtype=self.dtype, name="proj")(out)


  def _cached(self, k: jax.Array, v: jax.Array, mask: jax.Array | None, bias: jax.Array | None):
    """Stores the new keys and values k, v [b, m, heads, hd] at the cache's index and returns
    all cached ones [b, L, heads, hd] with the causal mask over them [1, 1, m, L]."""
    if mask is not None or bias is not None:
      raise ValueError("cached decoding makes its own causal mask; pass no mask or bias")
    initialised = self.has_variable("cache", "key")
    key = self.variable("cache", "key", jnp.zeros, k.shape, k.dtype)
    value = self.variable("cache", "value", jnp.zeros, v.shape, v.dtype)
    index = self.variable("cache", "index", lambda: jnp.zeros((), jnp.int32))
    if not initialised:  # the init call: it only sizes the cache
      return k, v, causal_mask(k.shape[1])[None, None]
    m, length = k.shape[1], key.value.shape[1]
    i = index.value
    key.value = jax.lax.dynamic_update_slice(key.value, k.astype(key.value.dtype), (0, i, 0, 0))
    value.value = jax.lax.dynamic_update_slice(value.value, v.astype(value.value.dtype),
                                               (0, i, 0, 0))
    index.value = i + m
    # Query j (position i + j) sees cached positions <= i + j.
    mask = (jnp.arange(length)[None, :] <= (i + jnp.arange(m))[:, None])[None, None]
    return key.value, value.value, mask


class CrossAttention(nn.Module):
  """Multi-head attention from tokens x [b, t, d] to a context [b, s, dc] (e.g. text, a label).

  Parameters: "q" (from x), "kv" (from the context, laid out [2, heads, head_dim]) and "proj".
  Attributes as `SelfAttention`'s.
  """

  num_heads: int
  head_dim: int | None = None
  out_features: int | None = None
  use_bias: bool = True
  out_kernel_init: Initializer = nn.initializers.lecun_normal()
  dtype: Dtype = None

  @nn.compact
  def __call__(self, x: jax.Array, context: jax.Array, mask: jax.Array | None = None,
               bias: jax.Array | None = None) -> jax.Array:
    """x [b, t, d], context [b, s, dc] -> [b, t, out_features]; mask, bias as [b, heads, t, s]."""
    b, t, d = x.shape
    s = context.shape[1]
    heads, head_dim = self.num_heads, _head_dim(self.num_heads, self.head_dim, d)
    q = nn.Dense(heads * head_dim, use_bias=self.use_bias, dtype=self.dtype, name="q")(x)
    q = q.reshape(b, t, heads, head_dim)
    kv = nn.Dense(2 * heads * head_dim, use_bias=self.use_bias, dtype=self.dtype, name="kv")
    kv = kv(context).reshape(b, s, 2, heads, head_dim)
    k, v = kv[:, :, 0], kv[:, :, 1]  # [b, s, heads, head_dim]
    out = dot_product_attention(q, k, v, mask=mask, bias=bias).reshape(b, t, heads * head_dim)
    return nn.Dense(self.out_features or d, use_bias=self.use_bias,
                    kernel_init=self.out_kernel_init, dtype=self.dtype, name="proj")(out)


def window_partition(x: jax.Array, grid: tuple[int, int], window: int) -> jax.Array:
  """Tokens [b, h * w, d] of an h x w grid -> [b * (h / window) * (w / window), window^2, d].

  Each row of the result is one non-overlapping window x window block, its tokens row-major.
  """
  b, n, d = x.shape
  h, w = grid
  if h * w != n:
    raise ValueError(f"a {h}x{w} grid has {h * w} tokens, got {n}")
  if h % window or w % window:
    raise ValueError(f"window {window} does not divide the {h}x{w} grid")
  x = x.reshape(b, h // window, window, w // window, window, d)
  x = x.transpose(0, 1, 3, 2, 4, 5)  # [b, h / win, w / win, win, win, d]
  return x.reshape(-1, window * window, d)


def window_merge(x: jax.Array, grid: tuple[int, int], window: int) -> jax.Array:
  """Inverse of `window_partition`: [b * windows, window^2, d] -> [b, h * w, d]."""
  h, w = grid
  d = x.shape[-1]
  x = x.reshape(-1, h // window, w // window, window, window, d)
  x = x.transpose(0, 1, 3, 2, 4, 5)  # [b, h / win, win, w / win, win, d]
  return x.reshape(-1, h * w, d)


class MlpBlock(nn.Module):
  """Dense -> GELU -> dropout -> Dense -> dropout, as in ViT; or, `gated`, the GEGLU feed-forward
  of latent diffusion's transformer blocks (Shazeer 2020): a * gelu(g) with [a, g] one Dense.

  Attributes:
    hidden: width of the hidden layer.
    dropout: dropout rate after the GELU and after the output layer.
    dtype: computation dtype.
    gated: the gated-GELU variant (its first Dense is twice as wide).
  """

  hidden: int
  dropout: float = 0.0
  dtype: Dtype = None
  gated: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, deterministic: bool = True) -> jax.Array:
    """[b, n, d] -> [b, n, d]."""
    if self.gated:
      a, g = jnp.split(nn.Dense(2 * self.hidden, dtype=self.dtype)(x), 2, axis=-1)
      h = a * nn.gelu(g)  # [b, n, hidden]
    else:
      h = nn.gelu(nn.Dense(self.hidden, dtype=self.dtype)(x))  # [b, n, hidden]
    h = nn.Dropout(self.dropout)(h, deterministic=deterministic)
    h = nn.Dense(x.shape[-1], dtype=self.dtype)(h)
    return nn.Dropout(self.dropout)(h, deterministic=deterministic)


def _modulate(h: jax.Array, mod: jax.Array | None) -> jax.Array:
  """adaLN: h [b, n, d] * (1 + scale) + shift, with [shift, scale, gate] = mod [b, 1, 3d]."""
  if mod is None:
    return h
  shift, scale, _ = jnp.split(mod, 3, axis=-1)
  return h * (1 + scale) + shift


def _gate(h: jax.Array, mod: jax.Array | None) -> jax.Array:
  """adaLN-Zero's residual gate: h [b, n, d] * gate, with the gate the last third of mod."""
  return h if mod is None else h * jnp.split(mod, 3, axis=-1)[2]


class TransformerBlock(nn.Module):
  """Pre-LN transformer block: x + SelfAttn(LN x) [+ CrossAttn(LN x, context)] + MLP(LN x).

  The cross-attention sub-block exists when the block is called with a context. Without
  position embeddings (or a relative bias) the block is permutation-equivariant in the tokens.
  Called with a `modulation` vector per example, the self-attention and MLP sub-blocks are
  modulated by it (adaLN-Zero, Peebles & Xie 2023): x + g * Sub(LN(x) * (1 + a) + b), with
  (a, b, g) from a zero-initialised Dense of the vector, so every block starts as the identity
  and the condition reaches every block rather than one token.

  Attributes:
    num_heads: attention heads.
    head_dim: channels per head; default d / num_heads.
    mlp_ratio: MLP hidden width as a multiple of d.
    dropout: dropout rate after attention and inside / after the MLP.
    window: if set, self-attention runs inside non-overlapping window x window blocks of the
      token grid (which the call must then give); masks and biases are then per window,
      [..., window^2, window^2].
    relative_bias: add a learned `RelativePositionBias` over the window (or the whole grid).
    dtype: computation dtype; parameters and softmax stay float32.
    decode: cached autoregressive self-attention (see `SelfAttention`).
    gated_mlp: the gated-GELU feed-forward (see `MlpBlock`), as in latent diffusion.
    drop_path: stochastic depth (Huang et al. 2016, DeiT): in training each example skips each
      residual sub-block with this probability, the kept ones scaled by 1 / (1 - rate).
  """

  num_heads: int
  head_dim: int | None = None
  mlp_ratio: float = 4.0
  dropout: float = 0.0
  window: int | None = None
  relative_bias: bool = False
  dtype: Dtype = None
  decode: bool = False
  gated_mlp: bool = False
  drop_path: float = 0.0

  def _skip(self, h: jax.Array, deterministic: bool) -> jax.Array:
    """Stochastic depth on a residual branch h [b, ...]: zero for a random share drop_path of
    the examples, the rest scaled by 1 / (1 - drop_path) (so the expectation is h)."""
    if not 0.0 <= self.drop_path < 1.0:
      raise ValueError(f"drop_path is a probability below 1, got {self.drop_path}")
    if deterministic or not self.drop_path:
      return h
    keep = jax.random.bernoulli(self.make_rng("dropout"), 1.0 - self.drop_path,
                                (h.shape[0],) + (1,) * (h.ndim - 1))
    return jnp.where(keep, h / (1.0 - self.drop_path), 0.0)

  @nn.compact
  def __call__(self, x: jax.Array, context: jax.Array | None = None, *,
               grid: tuple[int, int] | None = None, mask: jax.Array | None = None,
               bias: jax.Array | None = None, context_mask: jax.Array | None = None,
               modulation: jax.Array | None = None, deterministic: bool = True) -> jax.Array:
    """x [b, n, d] (context [b, s, dc]) -> [b, n, d].

    grid: (h, w) with h * w = n, needed for `window` and `relative_bias`.
    mask, bias: for the self-attention, broadcast to [b, heads, n, n] (per window if windowed).
    context_mask: for the cross-attention, broadcast to [b, heads, n, s].
    modulation: [b, dm], the condition of adaLN-Zero (see the class docstring).
    """
    d = x.shape[-1]
    # Without a modulation the block is the plain one, op for op (no multiplications by 1).
    mod1 = mod2 = None
    if modulation is not None:
      mod = nn.Dense(6 * d, dtype=self.dtype, kernel_init=nn.initializers.zeros,
                     name="modulation")(nn.silu(modulation))[:, None]  # [b, 1, 6d]
      mod1, mod2 = jnp.split(mod, 2, axis=-1)  # each [b, 1, 3d]: shift, scale, gate
    if self.decode and (self.window or self.relative_bias):
      raise ValueError("cached decoding runs over a 1-D sequence: no windows or relative bias")
    if (self.window or self.relative_bias) and grid is None:
      raise ValueError("windowed attention and relative position bias need the token grid (h, w)")
    h = _modulate(nn.LayerNorm(dtype=self.dtype, name="norm1")(x), mod1)
    if self.window:
      # Windows become batch rows: one attention call, each window attending only to itself.
      h = window_partition(h, grid, self.window)  # [b * windows, window^2, d]
    if self.relative_bias:
      side = (self.window, self.window) if self.window else tuple(grid)
      rel = RelativePositionBias(self.num_heads, side, name="relative_bias")()  # [1, heads, m, m]
      bias = rel if bias is None else bias + rel
    h = SelfAttention(self.num_heads, self.head_dim, dtype=self.dtype, decode=self.decode,
                      name="attn")(h, mask, bias)
    if self.window:
      h = window_merge(h, grid, self.window)  # [b, n, d]
    x = x + self._skip(_gate(nn.Dropout(self.dropout)(h, deterministic=deterministic), mod1),
                       deterministic)
    if context is not None:
      h = nn.LayerNorm(dtype=self.dtype, name="norm_cross")(x)
      h = CrossAttention(self.num_heads, self.head_dim, dtype=self.dtype, name="cross_attn")(
          h, context, context_mask)
      x = x + nn.Dropout(self.dropout)(h, deterministic=deterministic)
    h = _modulate(nn.LayerNorm(dtype=self.dtype, name="norm2")(x), mod2)
    h = MlpBlock(int(self.mlp_ratio * d), self.dropout, self.dtype, self.gated_mlp,
                 name="mlp")(h, deterministic)
    return x + self._skip(_gate(h, mod2), deterministic)
