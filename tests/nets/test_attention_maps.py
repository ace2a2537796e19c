"""ViT attention maps: recomputed weights reproduce the attention layer, rollout's closed form,
and the script draws a trained tiny ViT's maps."""

import os
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgen.classifier.attention_maps import attention_weights, rollout, vit_attention
from jaxgen.nets.attention import SelfAttention
from jaxgen.nets.vit import ViT


def test_recomputed_weights_reproduce_the_attention_layer():
  """weights @ v through the layer's own output projection gives the layer's output."""
  layer = SelfAttention(num_heads=2)
  x = jax.random.normal(jax.random.key(0), (3, 5, 8))  # [b, n, d]
  params = layer.init(jax.random.key(1), x)["params"]
  out, state = layer.apply({"params": params}, x,
                           capture_intermediates=lambda mdl, _: mdl.name == "qkv")
  qkv = state["intermediates"]["qkv"]["__call__"][0]  # [3, 5, 24]
  weights = attention_weights(qkv, 2)  # [3, 2, 5, 5]
  np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
  v = qkv.reshape(3, 5, 3, 2, 4)[:, :, 2]  # [b, n, heads, d]
  mixed = jnp.einsum("bhts,bshd->bthd", weights, v).reshape(3, 5, 8)
  proj = params["proj"]
  np.testing.assert_allclose(mixed @ proj["kernel"] + proj["bias"], out, rtol=1e-5, atol=1e-5)


def test_rollout_closed_forms():
  w = jax.nn.softmax(jax.random.normal(jax.random.key(0), (2, 3, 4, 4)), axis=-1)
  # One block: (mean over heads + I) / 2, each row of which sums to 1.
  np.testing.assert_allclose(rollout([w]), (w.mean(1) + jnp.eye(4)) / 2, rtol=1e-6)
  # Two blocks: the second's matrix times the first's.
  one = (w.mean(1) + jnp.eye(4)) / 2
  np.testing.assert_allclose(rollout([w, w]), one @ one, rtol=1e-5)
  np.testing.assert_allclose(rollout([w, w, w]).sum(-1), 1.0, rtol=1e-5)


def test_vit_attention_shapes():
  model = ViT(num_classes=10, patch=7, dim=16, depth=2, num_heads=2)
  x = jax.random.uniform(jax.random.key(0), (3, 28, 28, 1))
  params = model.init(jax.random.key(1), x)["params"]
  out = jax.jit(lambda p, x: vit_attention(model, p, x))(params, x)
  chex.assert_shape([out["logits"], out["weights"], out["rollout_map"], out["last_map"]],
                    [(3, 10), (2, 3, 2, 17, 17), (3, 4, 4), (3, 2, 4, 4)])


@pytest.mark.slow
def test_script_draws_a_trained_tiny_vit(tmp_path):
  workdir = str(tmp_path / "vit")
  subprocess.run([sys.executable, "-m", "experiments.main",
                  "--config=experiments/configs/vit.py:tiny", f"--workdir={workdir}",
                  "--config.num_train_steps=10"], check=True, capture_output=True,
                 timeout=600)
  out = subprocess.run([sys.executable, "-m", "experiments.vit_attention",
                        f"--workdir={workdir}", "--num_digits=3"], capture_output=True, text=True,
                       timeout=600)
  assert out.returncode == 0, out.stderr[-2000:]
  png = Image.open(os.path.join(workdir, "attention.png"))
  # 3 rows of 1 + 1 + 2 heads panels, 84 pixels each with 2-pixel gaps, RGB.
  assert png.size == (4 * 86 + 2, 3 * 86 + 2) and png.mode == "RGB", png.size
  bad = subprocess.run([sys.executable, "-m", "experiments.vit_attention",
                        f"--workdir={workdir}", "--num_digits=0"], capture_output=True, text=True,
                       timeout=600)
  assert bad.returncode == 2 and bad.stderr.strip() == "error: --num_digits must be positive, got 0"
