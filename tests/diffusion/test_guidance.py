"""Classifier-free and classifier guidance."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.diffusion import guidance
from jaxgen.diffusion.process import Spec, VarType


def labelled_model(x, t, y):
  """A toy conditional network whose output depends on x, t and the label (null = 10)."""
  return jnp.sin(x + 0.01 * t[:, None, None, None]) + 0.1 * y[:, None, None, None]


def test_cfg_w0_equals_conditional_and_formula():
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 4, 2))
  t, y = jnp.array([1, 5, 9]), jnp.array([0, 3, 7])
  spec = Spec()
  np.testing.assert_allclose(guidance.classifier_free(spec, labelled_model, y, 10, 0.0)(x, t),
                             labelled_model(x, t, y), rtol=1e-6)
  w = 2.5
  want = (1 + w) * labelled_model(x, t, y) - w * labelled_model(x, t, jnp.full_like(y, 10))
  np.testing.assert_allclose(guidance.classifier_free(spec, labelled_model, y, 10, w)(x, t), want,
                             rtol=1e-5, atol=1e-6)


def test_cfg_keeps_the_conditional_variance_channel():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 3, 1))
  t, y = jnp.array([1, 2]), jnp.array([4, 5])
  model = lambda x, t, y: jnp.concatenate([labelled_model(x, t, y), 0.01 * y[:, None, None, None]
                                           * jnp.ones_like(x)], -1)
  out = guidance.classifier_free(Spec(var_type=VarType.LEARNED_RANGE), model, y, 10, 3.0)(x, t)
  np.testing.assert_allclose(out[..., 1:], model(x, t, y)[..., 1:])


def test_drop_labels_rate():
  y = jnp.zeros((20000,), jnp.int32)
  dropped = guidance.drop_labels(jax.random.PRNGKey(0), y, 0.2, 10)
  assert set(np.unique(dropped)) == {0, 10}
  assert abs(float(jnp.mean(dropped == 10)) - 0.2) < 0.01


def test_classifier_grad_of_linear_softmax():
  """For logits = x W, grad_x log p(y | x) = W_y - sum_k p_k W_k, times the scale."""
  w = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
  logits_fn = lambda x, t: x.reshape(x.shape[0], -1) @ w
  x = jax.random.normal(jax.random.PRNGKey(2), (2, 2, 2, 2))
  y = jnp.array([0, 2])
  got = guidance.classifier_grad(logits_fn, y, 3.0)(x, jnp.zeros(2, jnp.int32))
  p = jax.nn.softmax(logits_fn(x, None))
  want = 3.0 * (w.T[y] - p @ w.T).reshape(x.shape)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
