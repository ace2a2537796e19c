"""The CPU-fast GroupNorm and attention against flax's and jax's: values, gradients, parameters."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets.layers import GroupNorm, dot_product_attention


@pytest.mark.parametrize("shape,groups", [((2, 5, 6, 8), 4), ((3, 7, 16), 16), ((2, 4, 4, 32), 1)])
def test_group_norm_matches_flax_values_gradients_and_parameters(shape, groups):
  x = jax.random.normal(jax.random.PRNGKey(0), shape) * 3.0 + 2.0  # a mean far from 0
  ours, ref = GroupNorm(num_groups=groups), nn.GroupNorm(num_groups=groups, epsilon=1e-5)
  params = ours.init(jax.random.PRNGKey(1), x)
  ref_params = ref.init(jax.random.PRNGKey(1), x)
  assert jax.tree.structure(params) == jax.tree.structure(ref_params)
  # Non-trivial scale and bias, shared by both.
  c = shape[-1]
  params = {"params": {"scale": jnp.linspace(0.5, 2.0, c), "bias": jnp.linspace(-1.0, 1.0, c)}}
  np.testing.assert_allclose(ours.apply(params, x), ref.apply(params, x), rtol=1e-4, atol=1e-4)
  weights = jax.random.normal(jax.random.PRNGKey(2), shape)

  def loss(module):
    return lambda p, x: jnp.sum(weights * jnp.tanh(module.apply(p, x)))

  got = jax.grad(loss(ours), argnums=(0, 1))(params, x)
  want = jax.grad(loss(ref), argnums=(0, 1))(params, x)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3), got, want)


def test_group_norm_keeps_bfloat16_and_refuses_uneven_groups():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 8))
  params = GroupNorm(num_groups=4).init(jax.random.PRNGKey(1), x)
  y16 = GroupNorm(num_groups=4).apply(params, x.astype(jnp.bfloat16))
  assert y16.dtype == jnp.bfloat16
  np.testing.assert_allclose(y16.astype(jnp.float32), GroupNorm(num_groups=4).apply(params, x), atol=3e-2)
  with pytest.raises(ValueError, match="8 channels do not split into 3 groups"):
    GroupNorm(num_groups=3).init(jax.random.PRNGKey(1), x)


@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 1e-5), (jnp.bfloat16, 2e-2)])
def test_attention_matches_jax_values_and_gradients(dtype, tol):
  kq, kk, kv, kg = jax.random.split(jax.random.PRNGKey(0), 4)
  q = jax.random.normal(kq, (2, 5, 3, 8), dtype)  # 5 queries
  k = jax.random.normal(kk, (2, 7, 3, 8), dtype)  # attending to 7 keys (cross-attention shapes)
  v = jax.random.normal(kv, (2, 7, 3, 8), dtype)
  out = dot_product_attention(q, k, v)
  assert out.shape == (2, 5, 3, 8) and out.dtype == dtype
  ref = jax.nn.dot_product_attention(q, k, v)
  np.testing.assert_allclose(out.astype(jnp.float32), ref.astype(jnp.float32), rtol=tol, atol=tol)
  g = jax.random.normal(kg, out.shape, dtype)
  got = jax.vjp(dot_product_attention, q, k, v)[1](g)
  want = jax.vjp(jax.nn.dot_product_attention, q, k, v)[1](g)
  for a, b in zip(got, want):
    np.testing.assert_allclose(a.astype(jnp.float32), b.astype(jnp.float32), rtol=5 * tol, atol=5 * tol)


@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 1e-5), (jnp.bfloat16, 2e-2)])
def test_attention_with_mask_and_bias_matches_jax_values_and_gradients(dtype, tol):
  kq, kk, kv, kb, km, kg = jax.random.split(jax.random.PRNGKey(0), 6)
  q = jax.random.normal(kq, (2, 5, 3, 8), dtype)
  k = jax.random.normal(kk, (2, 7, 3, 8), dtype)
  v = jax.random.normal(kv, (2, 7, 3, 8), dtype)
  bias = jax.random.normal(kb, (1, 3, 5, 7))  # float32, shared over the batch
  mask = jax.random.bernoulli(km, 0.6, (2, 1, 5, 7)).at[0, 0, 2].set(False)  # query 2 sees nothing
  ours = lambda q, k, v, bias: dot_product_attention(q, k, v, mask=mask, bias=bias)
  ref = lambda q, k, v, bias: jax.nn.dot_product_attention(q, k, v, bias=bias, mask=mask)
  out, vjp = jax.vjp(ours, q, k, v, bias)
  want, ref_vjp = jax.vjp(ref, q, k, v, bias)
  assert out.dtype == dtype
  # A fully masked query averages all values in both (a large finite fill, not -inf: no NaN).
  np.testing.assert_allclose(out[0, 2].astype(jnp.float32), v[0].astype(jnp.float32).mean(0),
                             rtol=tol, atol=tol)
  np.testing.assert_allclose(out.astype(jnp.float32), want.astype(jnp.float32), rtol=tol, atol=tol)
  g = jax.random.normal(kg, out.shape, dtype)
  for a, b in zip(vjp(g), ref_vjp(g)):
    np.testing.assert_allclose(a.astype(jnp.float32), b.astype(jnp.float32), rtol=5 * tol, atol=5 * tol)
  with pytest.raises(ValueError, match="must be boolean"):
    dot_product_attention(q, k, v, mask=mask.astype(jnp.float32))


@pytest.mark.parametrize("query_axis", [True, False])
def test_attention_in_query_chunks_matches_jax_values_and_gradients(monkeypatch, query_axis):
  """Large logits run over chunks of queries (here forced small): 5 queries in chunks of 2 pad
  the last chunk; a mask and bias with a query axis are split with the queries, ones without are
  shared. Values and gradients must equal jax's unchunked attention."""
  from jaxgen.nets import layers
  # 2 x 3 heads x 5 x 7 float32 logits are 840 bytes: chunks of ~2 x 3 x 2 x 7 x 4 = 336 bytes.
  monkeypatch.setattr(layers, "_CHUNK_ABOVE_BYTES", 800)
  monkeypatch.setattr(layers, "_CHUNK_BYTES", 336)
  kq, kk, kv, kb, km, kg = jax.random.split(jax.random.PRNGKey(3), 6)
  q = jax.random.normal(kq, (2, 5, 3, 8))
  k = jax.random.normal(kk, (2, 7, 3, 8))
  v = jax.random.normal(kv, (2, 7, 3, 8))
  t = 5 if query_axis else 1
  bias = jax.random.normal(kb, (1, 3, t, 7))
  mask = jax.random.bernoulli(km, 0.6, (2, 1, t, 7)).at[0, 0, 0, 1].set(True)
  ours = lambda q, k, v, bias: dot_product_attention(q, k, v, mask=mask, bias=bias)
  ref = lambda q, k, v, bias: jax.nn.dot_product_attention(q, k, v, bias=bias, mask=mask)
  g = jax.random.normal(kg, q.shape)

  @jax.jit
  def both(q, k, v, bias):
    out, vjp = jax.vjp(ours, q, k, v, bias)
    want, ref_vjp = jax.vjp(ref, q, k, v, bias)
    return (out, *vjp(g)), (want, *ref_vjp(g))

  jaxpr = str(jax.make_jaxpr(ours)(q, k, v, bias))
  assert "remat" in jaxpr or "checkpoint" in jaxpr, "the chunked path did not run"
  got, want = both(q, k, v, bias)
  for a, b in zip(got, want):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
