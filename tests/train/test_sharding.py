"""Data-parallel steps: 4 fake CPU devices give the 1-device result; the step compiles once."""

import chex
import jax
import numpy as np
import pytest

from jaxgen.data.pipeline import SplitData, to_global
from jaxgen.train.compile import run_once
from jaxgen.train.family import DataSpec, make_family
from jaxgen.train.mesh import batch_sharded, make_mesh, replicated
from tests.helpers import changed_leaves, tiny_config


@pytest.fixture(scope="module")
def batch():
  data = SplitData.open("embedded_digits", "train")
  return data.train_batches(32, seed=0)[0]


# The classifier in the fast tier; the autoencoders (slower to compile) in the full one.
@pytest.mark.parametrize("name", [pytest.param("vae", marks=pytest.mark.slow),
                                  pytest.param("vampprior", marks=pytest.mark.slow),
                                  "classifier"])
def test_four_devices_match_one(name, batch):
  assert jax.device_count() == 4
  config = tiny_config(name)
  family = make_family(config, DataSpec((28, 28, 1), 10))
  results = []
  for devices in (jax.devices()[:1], jax.devices()):
    mesh = make_mesh(devices)
    repl, data = replicated(mesh), batch_sharded(mesh)
    global_batch = to_global(batch, data)
    state = run_once(family.create_state, jax.random.key(0), global_batch, out_shardings=repl)
    step = jax.jit(family.train_step, in_shardings=(repl, data, repl), out_shardings=(repl, repl))
    for i in range(2):
      state, metrics = step(state, global_batch, jax.random.key(i))
    assert len(global_batch["image"].sharding.device_set) == len(devices)
    results.append(jax.device_get((state.params, metrics)))
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5), *results)


def test_train_step_compiles_once(batch):
  """Fed its own output, the step neither retraces (chex counts traces) nor recompiles (jit's
  cache holds one program), keeps the state replicated over all four devices, and trains."""
  config = tiny_config("vae")
  family = make_family(config, DataSpec((28, 28, 1), 10))
  mesh = make_mesh()
  repl, data = replicated(mesh), batch_sharded(mesh)
  global_batch = to_global(batch, data)

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(state, b, rng):
    return family.train_step(state, b, rng)

  state = run_once(family.create_state, jax.random.key(0), global_batch, out_shardings=repl)
  initial = jax.device_get(state.params)
  losses = []
  for i in range(3):
    state, metrics = step(state, global_batch, jax.random.fold_in(jax.random.key(1), i))
    losses.append(float(metrics["loss"]))
  assert step._cache_size() == 1  # pylint: disable=protected-access
  assert int(state.step) == 3 and all(np.isfinite(losses)) and len(set(losses)) == 3
  for leaf in jax.tree.leaves(state.params):
    assert leaf.sharding.is_fully_replicated and len(leaf.sharding.device_set) == 4
  assert all(changed_leaves(initial, jax.device_get(state.params)))
