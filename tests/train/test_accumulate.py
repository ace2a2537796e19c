"""Gradient accumulation: k microbatches make the update of one batch k times larger."""

import glob
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.errors import UserError
from jaxgen.train import accumulate
from jaxgen.train.family import DataSpec, make_family
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.profiling import parse_window
from tests.helpers import tiny_config


def test_microbatches_are_strided_and_merge_back_in_order():
  batch = {"x": jnp.arange(12).reshape(12, 1), "y": jnp.arange(12)}
  micro = accumulate.split_microbatches(batch, 3)
  chex.assert_shape(micro["x"], (3, 4, 1))
  np.testing.assert_array_equal(micro["y"][1], [1, 4, 7, 10])
  np.testing.assert_array_equal(accumulate.merge_microbatches(micro["y"]), batch["y"])


def test_accumulated_gradient_equals_the_full_batch_gradient():
  """A least-squares loss (mean over examples): scalar aux averaged, per-example aux merged."""
  x = jax.random.normal(jax.random.key(0), (12, 5))
  batch = {"x": x, "y": x @ jnp.arange(5.0) + 1.0}
  params = {"w": jnp.zeros(5), "b": jnp.zeros(())}

  def loss_fn(p, b, rng):
    del rng
    err = b["x"] @ p["w"] + p["b"] - b["y"]  # [m]
    return jnp.mean(err**2), {"abs_err": jnp.abs(err), "max_err": jnp.max(jnp.abs(err))}

  (loss1, aux1), g1 = accumulate.value_and_grad(loss_fn, params, batch, jax.random.key(1), 1)
  (loss4, aux4), g4 = accumulate.value_and_grad(loss_fn, params, batch, jax.random.key(1), 4)
  np.testing.assert_allclose(loss4, loss1, rtol=1e-6)
  np.testing.assert_allclose(aux4["abs_err"], aux1["abs_err"], rtol=1e-6)
  chex.assert_trees_all_close(g4, g1, rtol=1e-5)
  assert aux4["max_err"].shape == ()  # a scalar: the mean of the microbatches' maxima


@pytest.mark.slow
def test_family_step_with_microbatches_matches_the_large_batch_and_compiles_once():
  """The deterministic autoencoder (no binarisation, no batch statistics): one step over 4
  microbatches of 4 gives the first Adam moment (0.1 x gradient) of one batch of 16."""
  spec = DataSpec(image_shape=(28, 28, 1), num_classes=10)
  images = jax.random.uniform(jax.random.key(0), (16, 28, 28, 1))
  batch = {"image": images, "label": jnp.arange(16) % 10}
  moments = []
  for k in (1, 4):
    config = tiny_config("ae", binarize=False, batch_size=16, grad_accum_steps=k)
    family = make_family(config, spec)
    assert family.grad_accum
    state = jax.jit(family.create_state)(jax.random.key(1), batch)
    step = jax.jit(chex.assert_max_traces(family.train_step, n=1))
    new, metrics = step(state, batch, jax.random.key(2))
    step(new, batch, jax.random.key(3))  # a second call: no second trace
    moments.append(new.opt_state[0].mu)  # Adam's first moment, 0.1 x the gradient
    assert np.isfinite(float(metrics["loss"]))
    chex.clear_trace_counter()
  chex.assert_trees_all_close(moments[1], moments[0], rtol=2e-4, atol=1e-8)


def test_families_that_cannot_accumulate_refuse_and_bad_values_are_one_line(tmp_path):
  with pytest.raises(UserError, match="does not accumulate gradients"):
    train_and_evaluate(tiny_config("gan", grad_accum_steps=2), str(tmp_path / "gan"))
  with pytest.raises(UserError, match="divide batch_size"):
    make_family(tiny_config("ddpm", grad_accum_steps=5),
                DataSpec(image_shape=(28, 28, 1), num_classes=10))


def test_profile_steps_write_a_tensorboard_trace(tmp_path):
  workdir = str(tmp_path / "run")
  train_and_evaluate(tiny_config("classifier", num_train_steps=4, eval_every_steps=4,
                                 checkpoint_every_steps=4, profile_steps="1:3"), workdir)
  traces = glob.glob(os.path.join(workdir, "profile", "plugins", "profile", "*", "*.xplane.pb"))
  assert len(traces) == 1 and os.path.getsize(traces[0]) > 0
  assert parse_window("") is None and parse_window("3:7") == (3, 7)
  for bad in ("7", "5:2", "a:b"):
    with pytest.raises(UserError, match="profile_steps"):
      parse_window(bad)
