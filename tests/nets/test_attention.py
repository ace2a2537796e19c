"""Attention and transformer blocks against plain softmax(QK^T / sqrt(d)) V references."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets.attention import (CrossAttention, LearnedPositionEmbedding, RelativePositionBias,
                                   SelfAttention, TransformerBlock, causal_mask, padding_mask,
                                   sincos_embedding, sincos_embedding_2d, window_merge,
                                   window_partition)
from jaxgen.nets.layers import dot_product_attention

# bfloat16 keeps 8 significant bits (relative step 2^-8 = 0.004): q, k, v, the attention weights
# and the output are each rounded once, so outputs of unit scale agree to about 1e-2.
TOLERANCES = {jnp.float32: 1e-5, jnp.bfloat16: 3e-2}


def reference_attention(q, k, v, mask=None, bias=None):
  """softmax(q k^T / sqrt(d) + bias, masked to -inf) v in float64 numpy; shapes as the library's."""
  q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))  # [b, t or s, heads, d]
  logits = np.einsum("bthd,bshd->bhts", q, k) / np.sqrt(q.shape[-1])
  if bias is not None:
    logits = logits + np.asarray(bias, np.float64)
  if mask is not None:
    logits = np.where(np.asarray(mask), logits, -np.inf)
  weights = np.exp(logits - logits.max(-1, keepdims=True))
  weights /= weights.sum(-1, keepdims=True)
  return np.einsum("bhts,bshd->bthd", weights, v)


def normal(seed, shape, dtype=jnp.float32):
  """Standard normal values from numpy: no XLA compilation, which dominates tiny tests."""
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


def random_params(module, *args, seed=0, **kwargs):
  """Variables of module.init(*args) filled from numpy (kernels ~ 1/sqrt(fan_in), others 0.5).

  Shapes come from jax.eval_shape, so nothing compiles: eager initialisation compiles every
  initialiser op by op, seconds per test on 2 cores.
  """
  # Keyword arguments (a grid) stay static Python values, not traced.
  shapes = jax.eval_shape(functools.partial(module.init, **kwargs), jax.random.PRNGKey(0), *args)
  rng = np.random.default_rng(seed)

  def fill(s):
    std = 1 / np.sqrt(s.shape[0]) if len(s.shape) == 2 else 0.5
    return jnp.asarray(std * rng.standard_normal(s.shape), s.dtype)

  return jax.tree.map(fill, shapes)


def jit_apply(module, **static):
  """module.apply, jitted with static keyword arguments: one compilation beats eager op-by-op."""
  return jax.jit(functools.partial(module.apply, **static))


def mask_and_bias(case, b, heads, t, s):
  """The mask and bias of one test case, in the shapes callers pass."""
  valid = np.arange(s)[None] < np.array([s, s - 3])[:, None]  # [b, s]: example 1 pads 3 keys
  bias = 2.0 * normal(9, (1, heads, t, s))
  return {
      "none": (None, None),
      "padding": (padding_mask(jnp.asarray(valid)), None),
      "causal": (causal_mask(t), None),  # [t, t]: broadcast over batch and heads
      "bias": (None, bias),
      "causal+bias": (causal_mask(t), bias),
  }[case]


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("case", ["none", "padding", "causal", "bias", "causal+bias"])
def test_dot_product_attention_matches_reference(case, dtype):
  b, heads, d = 2, 3, 8
  t, s = (6, 6) if "causal" in case else (5, 7)  # cross-attention shapes where no causal mask
  q, k, v = normal(0, (b, t, heads, d), dtype), normal(1, (b, s, heads, d), dtype), normal(
      2, (b, s, heads, d), dtype)
  mask, bias = mask_and_bias(case, b, heads, t, s)
  out = dot_product_attention(q, k, v, mask=mask, bias=bias)
  assert out.shape == (b, t, heads, d) and out.dtype == dtype
  tol = TOLERANCES[dtype]
  np.testing.assert_allclose(out.astype(jnp.float32), reference_attention(q, k, v, mask, bias),
                             rtol=tol, atol=tol)


def test_softmax_is_float32_for_bfloat16_logits():
  # q.k = 256 and 257 (scaled by 1/sqrt(2)): in bfloat16 (step 2 between 256 and 512) both round
  # to 256 and the weights would be 1/2, 1/2; in float32 the second weighs sigmoid(1 / sqrt(2)).
  q = jnp.ones((1, 1, 1, 2), jnp.bfloat16)
  k = jnp.array([[256.0, 0.0], [256.0, 1.0]], jnp.bfloat16).reshape(1, 2, 1, 2)
  v = jnp.array([0.0, 1.0], jnp.bfloat16).reshape(1, 2, 1, 1).repeat(2, -1)
  out = dot_product_attention(q, k, v).astype(jnp.float32)  # [1, 1, 1, 2]
  np.testing.assert_allclose(out.reshape(-1), 1 / (1 + np.exp(-np.sqrt(0.5))), atol=4e-3)


def test_attention_compiles_once_for_new_mask_values():
  @jax.jit
  @chex.assert_max_traces(n=1)
  def attend(q, k, v, mask, bias):
    return dot_product_attention(q, k, v, mask=mask, bias=bias)

  q = normal(0, (2, 4, 2, 8))
  for seed in range(3):
    mask = jax.random.bernoulli(jax.random.PRNGKey(seed), 0.7, (2, 1, 4, 4)).at[..., 0].set(True)
    attend(q, q, q, mask, normal(seed, (1, 2, 4, 4)))


def project(params, x):
  """x @ kernel + bias of a Dense layer's params, in float64."""
  return np.asarray(x, np.float64) @ np.asarray(params["kernel"]) + np.asarray(params["bias"])


def test_self_attention_module_matches_reference():
  b, n, d, heads = 2, 6, 12, 3
  x = normal(0, (b, n, d))
  bias = normal(1, (1, heads, n, n))
  module = SelfAttention(num_heads=heads)
  params = random_params(module, x)["params"]
  out = jit_apply(module)({"params": params}, x, causal_mask(n), bias)
  qkv = project(params["qkv"], x).reshape(b, n, 3, heads, d // heads)  # [3, heads, head_dim]
  ref = reference_attention(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], causal_mask(n), bias)
  ref = project(params["proj"], ref.reshape(b, n, d))
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_cross_attention_module_matches_reference_with_other_context_length():
  b, t, s, d, dc, heads, head_dim = 2, 5, 9, 8, 6, 2, 5  # context of other length and width
  x, context = normal(0, (b, t, d)), normal(1, (b, s, dc))
  valid = jnp.arange(s)[None] < jnp.array([[s], [4]])  # [b, s]: example 1 has 4 context tokens
  module = CrossAttention(num_heads=heads, head_dim=head_dim, out_features=7)
  params = random_params(module, x, context)["params"]
  apply = jit_apply(module)
  out = apply({"params": params}, x, context, padding_mask(valid))
  assert out.shape == (b, t, 7)
  q = project(params["q"], x).reshape(b, t, heads, head_dim)
  kv = project(params["kv"], context).reshape(b, s, 2, heads, head_dim)
  ref = reference_attention(q, kv[:, :, 0], kv[:, :, 1], padding_mask(valid))
  ref = project(params["proj"], ref.reshape(b, t, heads * head_dim))
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
  # Padded context tokens are ignored: changing them leaves example 1's output unchanged.
  other = apply({"params": params}, x, context.at[1, 4:].set(100.0), padding_mask(valid))
  np.testing.assert_allclose(other[1], out[1], rtol=1e-5, atol=1e-5)


def test_block_is_permutation_equivariant_and_context_order_free():
  x, context = normal(0, (2, 7, 16)), normal(1, (2, 5, 8))
  block = TransformerBlock(num_heads=4, dropout=0.1)
  params = random_params(block, x, context)
  assert {"attn", "cross_attn", "mlp", "norm1", "norm_cross", "norm2"} == set(params["params"])
  apply = jit_apply(block)
  out = apply(params, x, context)
  perm = np.array([3, 0, 6, 1, 5, 2, 4])
  np.testing.assert_allclose(apply(params, x[:, perm], context), out[:, perm], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(apply(params, x, context[:, ::-1]), out, rtol=1e-5, atol=1e-5)


def test_modulated_block_starts_as_the_identity_and_places_shift_scale_and_gate():
  """adaLN-Zero: at initialisation every gate is 0 (the block is the identity); a modulation of
  shift 0, scale 0, gate 1 gives back the plain block; scale -1 blanks the normalised input of
  both sub-blocks; each example follows its own condition."""
  x, cond = normal(0, (2, 5, 8)), normal(1, (2, 6))
  block = TransformerBlock(num_heads=2)
  initial = block.init(jax.random.PRNGKey(0), x, modulation=cond)
  apply = jit_apply(block)
  np.testing.assert_allclose(apply(initial, x, modulation=cond), x, atol=1e-6)
  params = random_params(block, x, modulation=cond)
  plain = {"params": {k: v for k, v in params["params"].items() if k != "modulation"}}
  d = x.shape[-1]

  def modulation(shift, scale, gate):  # a Dense giving these values whatever the condition
    bias = np.concatenate([np.full(d, v, np.float32) for v in (shift, scale, gate) * 2])
    return {"params": {**params["params"], "modulation": {
        "kernel": jnp.zeros((cond.shape[-1], 6 * d)), "bias": jnp.asarray(bias)}}}

  np.testing.assert_allclose(apply(modulation(0.0, 0.0, 1.0), x, modulation=cond),
                             apply(plain, x), rtol=1e-5, atol=1e-5)
  # Scale -1 and shift s feed each sub-block the constant s: the output is x plus the two
  # sub-blocks' responses to constant tokens, the same at every position.
  blank = apply(modulation(0.3, -1.0, 1.0), x, modulation=cond) - x
  np.testing.assert_allclose(blank, np.broadcast_to(blank[:, :1], blank.shape), atol=1e-5)
  # Each example's output follows its own condition only.
  out = apply(params, x, modulation=cond)
  other = apply(params, x, modulation=cond.at[1].set(0.0))
  np.testing.assert_allclose(other[0], out[0], rtol=1e-5, atol=1e-5)
  assert not np.allclose(other[1], out[1])


def test_stochastic_depth_skips_whole_branches_per_example_only_in_training():
  x = normal(0, (400, 3, 8))
  block = TransformerBlock(num_heads=2, drop_path=0.5)
  params = random_params(block, x)
  plain = jit_apply(TransformerBlock(num_heads=2))(params, x)
  np.testing.assert_allclose(jit_apply(block)(params, x), plain, rtol=1e-6)  # deterministic
  train = jax.jit(lambda p, x, r: block.apply(p, x, deterministic=False, rngs={"dropout": r}))
  out = np.asarray(train(params, x, jax.random.PRNGKey(0)))
  # Both branches skipped (probability 1/4): the example passes through unchanged.
  unchanged = np.all(np.isclose(out, np.asarray(x), atol=1e-6), axis=(1, 2))
  assert abs(unchanged.mean() - 0.25) < 0.07
  assert not np.any(np.all(np.isclose(out, plain, atol=1e-6), axis=(1, 2)))  # kept ones scale


def test_causal_block_output_ignores_later_tokens():
  x = normal(0, (1, 6, 8))
  block = TransformerBlock(num_heads=2)
  params = random_params(block, x)
  apply = jit_apply(block)
  out = apply(params, x, mask=causal_mask(6))
  changed = apply(params, x.at[:, 4:].set(5.0), mask=causal_mask(6))
  np.testing.assert_allclose(changed[:, :4], out[:, :4], rtol=1e-5, atol=1e-5)
  assert not np.allclose(changed[:, 4:], out[:, 4:])


def test_dropout_only_when_not_deterministic_and_compiles_once():
  x = normal(0, (2, 4, 8))
  block = TransformerBlock(num_heads=2, dropout=0.5)
  params = random_params(block, x)

  @jax.jit
  @chex.assert_max_traces(n=1)
  def train_apply(params, x, rng):
    return block.apply(params, x, deterministic=False, rngs={"dropout": rng})

  a = train_apply(params, x, jax.random.PRNGKey(2))
  b = train_apply(params, x, jax.random.PRNGKey(3))
  assert not np.allclose(a, b)  # a fresh mask per rng, and a single trace for both
  # deterministic=True (the default) ignores the dropout rng.
  apply = jit_apply(block)
  np.testing.assert_array_equal(apply(params, x, rngs={"dropout": jax.random.PRNGKey(2)}),
                                apply(params, x, rngs={"dropout": jax.random.PRNGKey(3)}))


def test_bfloat16_block_stays_close_to_float32():
  x = normal(0, (2, 6, 16))
  block = TransformerBlock(num_heads=2)
  params = random_params(block, x)
  out16 = jit_apply(block.clone(dtype=jnp.bfloat16))(params, x.astype(jnp.bfloat16))
  assert out16.dtype == jnp.bfloat16
  # Several bfloat16 matmuls in sequence: about 1e-2 of the output's unit scale.
  np.testing.assert_allclose(out16.astype(jnp.float32), jit_apply(block)(params, x), atol=6e-2)


def test_window_partition_round_trip_and_layout():
  x = jnp.arange(4 * 6, dtype=jnp.float32).reshape(1, 24, 1)  # token id = y * 6 + x
  windows = window_partition(x, (4, 6), 2)
  assert windows.shape == (6, 4, 1)
  np.testing.assert_array_equal(windows[1, :, 0], [2, 3, 8, 9])  # the second window of row 0
  np.testing.assert_array_equal(window_merge(windows, (4, 6), 2), x)
  with pytest.raises(ValueError, match="does not divide"):
    window_partition(x, (4, 6), 4)
  with pytest.raises(ValueError, match="need the token grid"):
    jax.eval_shape(TransformerBlock(num_heads=1, window=2).init, jax.random.PRNGKey(0), x)


def test_windowed_block_equals_full_block_per_window():
  (h, w), win, d = (4, 6), 2, 8
  x = normal(0, (2, h * w, d))
  windowed = TransformerBlock(num_heads=2, window=win, relative_bias=True)
  params = random_params(windowed, x, grid=(h, w))
  out = jit_apply(windowed, grid=(h, w))(params, x)
  # The same parameters as a full-attention block over one window's grid, window by window.
  full = jit_apply(TransformerBlock(num_heads=2, relative_bias=True), grid=(win, win))
  ref = np.zeros(out.shape, np.float32)
  for wy in range(h // win):
    for wx in range(w // win):
      idx = [(wy * win + i) * w + wx * win + j for i in range(win) for j in range(win)]
      ref[:, idx] = full(params, x[:, idx])
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_sincos_embedding_closed_form():
  dim, positions = 8, np.array([0.0, 1.0, 5.0, 37.0])
  emb = sincos_embedding(jnp.asarray(positions), dim)
  freqs = 10000.0 ** (-np.arange(4) / 4)  # w_i = 1 / 10000^(i / (dim / 2))
  np.testing.assert_allclose(emb[:, :4], np.sin(positions[:, None] * freqs), atol=1e-5)
  np.testing.assert_allclose(emb[:, 4:], np.cos(positions[:, None] * freqs), atol=1e-5)
  np.testing.assert_allclose(emb[0], np.r_[np.zeros(4), np.ones(4)])
  with pytest.raises(ValueError, match="even"):
    sincos_embedding(jnp.arange(3), 7)


def test_sincos_embedding_2d_embeds_row_then_column():
  h, w, dim = 3, 4, 16
  emb = sincos_embedding_2d(h, w, dim)
  assert emb.shape == (h * w, dim)
  token = 2 * w + 1  # row 2, column 1
  np.testing.assert_allclose(emb[token, :8], sincos_embedding(jnp.array([2.0]), 8)[0], atol=1e-6)
  np.testing.assert_allclose(emb[token, 8:], sincos_embedding(jnp.array([1.0]), 8)[0], atol=1e-6)
  with pytest.raises(ValueError, match="divisible by 4"):
    sincos_embedding_2d(h, w, 6)


def test_learned_position_embedding_adds_a_table():
  x = normal(0, (2, 5, 4))
  module = LearnedPositionEmbedding()
  params = random_params(module, x)
  table = params["params"]["embedding"]
  assert table.shape == (5, 4)
  np.testing.assert_allclose(module.apply(params, x), x + table[None], rtol=1e-6)


def test_relative_position_bias_shares_values_between_equal_offsets():
  (h, w), heads = (3, 4), 2
  module = RelativePositionBias(num_heads=heads, grid=(h, w))
  params = random_params(module)
  assert params["params"]["table"].shape == ((2 * h - 1) * (2 * w - 1), heads)
  bias = np.asarray(module.apply(params))
  assert bias.shape == (1, heads, h * w, h * w)
  ys, xs = np.divmod(np.arange(h * w), w)  # row-major token coordinates
  for head in range(heads):
    values = {}
    for i in range(h * w):
      for j in range(h * w):
        values.setdefault((ys[i] - ys[j], xs[i] - xs[j]), set()).add(bias[0, head, i, j])
    assert len(values) == (2 * h - 1) * (2 * w - 1)  # every offset occurs
    assert all(len(v) == 1 for v in values.values())  # one value per offset
    assert len({v.pop() for v in values.values()}) == len(values)  # and its own entry
