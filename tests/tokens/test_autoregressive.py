"""The autoregressive baseline: the cached decode equals the uncached one, the cache's causal
attention equals the full causal pass, and a tiny chain learns next codes."""

import functools
import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets.token_transformer import CausalTokenTransformer
from jaxgen.tokens import autoregressive
from jaxgen.tokens import autoregressive_family
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import (assert_labels_condition, assert_plausible_images, tiny_config,
                           trace_train_step_once)

SHAPE = dict(num_codes=12, num_classes=3, length=9, dim=16, depth=2, num_heads=2, mlp_ratio=2.0)


def _params():
  model = CausalTokenTransformer(**SHAPE)
  # Jitted: eagerly, every initialiser and layer op compiles on its own (seconds each).
  return model, jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 9), jnp.int32),
                                    jnp.zeros((1,), jnp.int32))["params"]


def test_top_k_draws_only_among_the_k_most_likely_codes():
  logits = jnp.asarray(np.random.default_rng(0).normal(size=(500, 12)), jnp.float32)
  top3 = np.argsort(-np.asarray(logits), axis=1)[:, :3]
  drawn = np.asarray(autoregressive._draw(jax.random.key(0), logits, 1.0, top_k=3))
  assert all(d in row for d, row in zip(drawn, top3))
  assert len(set(zip(range(500), drawn)) - set(zip(range(500), top3[:, 0]))) > 100  # not greedy
  greedy = autoregressive._draw(jax.random.key(1), logits, 1.0, top_k=1)
  np.testing.assert_array_equal(greedy, top3[:, 0])
  every = autoregressive._draw(jax.random.key(2), logits, 1.0, top_k=0)  # no filter
  assert np.mean(~(np.asarray(every)[:, None] == top3).any(1)) > 0.2


def test_cached_steps_equal_the_full_causal_pass():
  model, params = _params()
  cached = CausalTokenTransformer(**SHAPE, decode=True)
  codes = jax.random.randint(jax.random.key(1), (4, 9), 0, 12)
  labels = jnp.array([0, 1, 2, 3])  # 3 is the null label
  prev = autoregressive.shift_right(codes)
  apply = jax.jit(model.apply)
  full = apply({"params": params}, prev, labels)  # [4, 9, 12]
  cache = jax.jit(cached.init)(jax.random.key(0), jnp.zeros((4, 9), jnp.int32), labels)["cache"]
  cached_step = jax.jit(functools.partial(cached.apply, mutable=["cache"]))
  steps = []
  for i in range(9):
    logits, mutated = cached_step({"params": params, "cache": cache}, prev[:, i:i + 1], labels)
    cache = mutated["cache"]
    steps.append(logits[:, 0])
  np.testing.assert_allclose(jnp.stack(steps, 1), full, rtol=1e-5, atol=1e-5)
  # Causality: changing a later code leaves the earlier positions' logits.
  later = prev.at[:, 5].set((prev[:, 5] + 1) % 12)
  np.testing.assert_allclose(apply({"params": params}, later, labels)[:, :5], full[:, :5],
                             rtol=1e-6, atol=1e-6)


def test_cached_decode_equals_the_uncached_decode():
  model, params = _params()
  cached = CausalTokenTransformer(**SHAPE, decode=True)
  labels = jnp.array([0, 1, 2, 1, 0])

  @jax.jit
  def both(params, rng):
    cache = cached.init(jax.random.key(0), jnp.zeros((5, 9), jnp.int32), labels)["cache"]

    def step_fn(cache, prev):
      logits, mutated = cached.apply({"params": params, "cache": cache}, prev, labels,
                                     mutable=["cache"])
      return logits, mutated["cache"]

    fast = autoregressive.sample_cached(step_fn, cache, rng, 5, 9)
    slow = autoregressive.sample_uncached(lambda prev: model.apply({"params": params}, prev,
                                                                   labels), rng, 5, 9)
    return fast, slow

  fast, slow = both(params, jax.random.key(7))
  np.testing.assert_array_equal(fast, slow)
  assert len(np.unique(np.asarray(fast))) > 3  # it sampled, rather than repeating one code


@pytest.mark.slow
def test_tiny_chain_learns_next_codes_and_samples_both_ways(tmp_path, monkeypatch,
    tiny_tokenizer):
  tokenizer = tiny_tokenizer
  trace_train_step_once(monkeypatch, autoregressive_family)
  workdir = str(tmp_path / "ar")
  config = tiny_config("maskgit_ar", tokenizer_workdir=tokenizer, num_train_steps=60,
                       eval_every_steps=20, checkpoint_every_steps=60, learning_rate=3e-3)
  train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    evals = [m for m in map(json.loads, f) if m["split"] == "eval"]
  print([(m["step"], m["next_code_accuracy"], m["loss"]) for m in evals])
  assert evals[-1]["loss"] < evals[0]["loss"] - 0.1
  trained = restore_trained(workdir)
  sample = jax.jit(trained.family.sample, static_argnums=(2, 5))
  labels = jnp.arange(4)
  fast = sample(trained.state, jax.random.key(0), 4, labels, None, True)
  slow = sample(trained.state, jax.random.key(0), 4, labels, None, False)
  chex.assert_shape(fast, (4, 28, 28, 1))
  np.testing.assert_allclose(fast, slow, atol=1e-5)  # guided (w = 1), cached or not
  assert_plausible_images(fast)
  assert_labels_condition(lambda labels: sample(trained.state, jax.random.key(0), 4, labels,
                                                None, True))
