"""Where a Vision Transformer looks: attention weights and attention rollout as pure functions.

The ViT's attention runs through `jaxgen.nets.layers.dot_product_attention`, which never forms
the weights it does not need; here they are recomputed from each block's fused q/k/v projection
(captured with flax's `capture_intermediates`), so the model stays as it trains.

Attention rollout (Abnar & Zuidema 2020): each block's head-averaged weights, plus the identity
for the residual path, renormalised per row, multiplied from the first block to the last; the
class token's row over the patches says how much each patch fed the class token.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


def attention_weights(qkv: jax.Array, num_heads: int) -> jax.Array:
  """Softmax attention weights [b, heads, n, n] from a fused projection qkv [b, n, 3 heads d]
  laid out [3, heads, d] (as `jaxgen.nets.attention.SelfAttention`'s)."""
  b, n, width = qkv.shape
  head_dim = width // (3 * num_heads)
  qkv = qkv.reshape(b, n, 3, num_heads, head_dim)
  q, k = qkv[:, :, 0], qkv[:, :, 1]  # [b, n, heads, d]
  logits = jnp.einsum("bthd,bshd->bhts", q, k) / jnp.sqrt(jnp.float32(head_dim))
  return jax.nn.softmax(logits, axis=-1)  # [b, heads, n, n]


def rollout(weights: list[jax.Array]) -> jax.Array:
  """Attention rollout [b, n, n] of per-block weights [b, heads, n, n], first block first."""
  n = weights[0].shape[-1]
  out = jnp.broadcast_to(jnp.eye(n), weights[0].shape[:1] + (n, n))
  for w in weights:
    a = w.mean(axis=1) + jnp.eye(n)  # [b, n, n]: the heads' mean and the residual path
    a = a / a.sum(axis=-1, keepdims=True)
    out = a @ out  # later blocks act on what earlier ones mixed
  return out


def vit_attention(model: nn.Module, params, images: jax.Array) -> dict[str, jax.Array]:
  """Per-block weights and the rollout of a ViT (pool="cls") on images [b, h, w, c].

  Returns logits [b, classes], weights [depth, b, heads, n + 1, n + 1] (token 0 is the class
  token), rollout_map [b, h / patch, w / patch] (the class token's rollout row over the
  patches) and last_map [b, heads, h / patch, w / patch] (the last block's class-token weights).
  """
  if model.pool != "cls":
    raise ValueError("attention maps read the class token: train the ViT with pool='cls'")
  logits, state = model.apply({"params": params}, images, train=False,
                              capture_intermediates=lambda mdl, _: mdl.name == "qkv")
  inter = state["intermediates"]
  weights = [attention_weights(inter[f"block{i}"]["attn"]["qkv"]["__call__"][0], model.num_heads)
             for i in range(model.depth)]
  b, h, w, _ = images.shape
  grid = (h // model.patch, w // model.patch)
  rolled = rollout(weights)  # [b, n + 1, n + 1]
  return {"logits": logits, "weights": jnp.stack(weights),
          "rollout_map": rolled[:, 0, 1:].reshape(b, *grid),
          "last_map": weights[-1][:, :, 0, 1:].reshape(b, model.num_heads, *grid)}
