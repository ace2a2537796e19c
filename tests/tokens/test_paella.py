"""Paella: the replacement schedule, the sampler's levels, and a tiny chain that learns to
restore replaced codes."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.tokens import paella
from jaxgen.tokens import paella_family
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import (assert_labels_condition, assert_plausible_images, tiny_config,
                           trace_train_step_once)


def test_noise_replaces_the_scheduled_share_with_uniform_codes():
  codes = jnp.zeros((2000, 49), jnp.int32)
  t = jnp.concatenate([jnp.zeros(500), jnp.full(500, 1 / 3), jnp.full(500, 0.5), jnp.ones(500)])
  noised, replaced = jax.jit(paella.add_noise, static_argnums=3)(jax.random.key(0), codes, t, 8)
  noised, replaced = np.asarray(noised), np.asarray(replaced)
  for i, level in enumerate((0.0, 1 / 3, 0.5, 1.0)):
    share = replaced[500 * i:500 * (i + 1)].mean()
    assert abs(share - np.sin(np.pi / 2 * level)) < 0.01, (level, share)
  assert (noised[~replaced] == 0).all()  # kept codes are the originals
  drawn = np.bincount(noised[1500:].reshape(-1), minlength=8) / noised[1500:].size
  assert np.abs(drawn - 1 / 8).max() < 0.01  # replacements are uniform over the codebook


def test_sampler_levels_and_a_perfect_denoiser():
  np.testing.assert_allclose(paella.levels(4), [1.0, 0.75, 0.5, 0.25, 0.0])
  target = jnp.arange(12) % 5  # every sequence should become this

  def oracle(codes, labels, level):  # certain of the target whatever it is shown
    return 50.0 * jax.nn.one_hot(jnp.broadcast_to(target, codes.shape), 5)

  for mass in (1.0, 0.2):  # filtering keeps a certain prediction
    out = paella.sample(oracle, jax.random.key(0), jnp.zeros(3, jnp.int32), 12, 5, 4,
                        typical_mass=mass)
    np.testing.assert_array_equal(out, np.broadcast_to(target, (3, 12)))


def test_renoising_with_the_initial_noise_and_annealed_temperature():
  """A denoiser that copies what it is shown keeps the initial noise under "start" re-noising
  (every replaced code is the start's own) and loses it under "random"; a mild preference
  (logit 1 on the target among 5 codes) is drawn with p = e / (e + 4) at temperature 1 and
  almost surely at a final temperature of 0.01, since the last draw is the output."""
  num_codes, length, b = 5, 49, 64
  copy = lambda codes, labels, level: 50.0 * jax.nn.one_hot(codes, num_codes)
  labels = jnp.zeros(b, jnp.int32)
  start = jax.random.randint(jax.random.split(jax.random.key(0))[0], (b, length), 0, num_codes)
  kept = paella.sample(copy, jax.random.key(0), labels, length, num_codes, 6, renoise="start")
  np.testing.assert_array_equal(kept, start)  # the sampler's own first draw of its start
  moved = paella.sample(copy, jax.random.key(0), labels, length, num_codes, 6, renoise="random")
  assert np.mean(np.asarray(moved) != np.asarray(start)) > 0.5
  target = jnp.arange(length) % num_codes
  mild = lambda codes, labels, level: jnp.broadcast_to(
      jax.nn.one_hot(target, num_codes), codes.shape + (num_codes,))
  hits = lambda out: float(np.mean(np.asarray(out) == np.asarray(target)))
  p = np.e / (np.e + 4)
  constant = paella.sample(mild, jax.random.key(1), labels, length, num_codes, 4)
  assert abs(hits(constant) - p) < 0.03  # 3136 draws: sd 0.009
  annealed = paella.sample(mild, jax.random.key(1), labels, length, num_codes, 4,
                           final_temperature=0.01)
  assert hits(annealed) == 1.0
  with pytest.raises(ValueError, match="renoise"):
    paella.sample(mild, jax.random.key(1), labels, length, num_codes, 4, renoise="prev")


def _typical_reference(p: np.ndarray, mass: float) -> set[int]:
  """The kept codes by the definition: most typical first (surprisal nearest the entropy),
  until they hold `mass`."""
  entropy = -np.sum(p * np.log(p))
  kept, held = set(), 0.0
  for i in sorted(range(len(p)), key=lambda i: abs(-np.log(p[i]) - entropy)):
    if held >= mass:
      break
    kept.add(i)
    held += p[i]
  return kept


def test_typical_filter_matches_its_definition_and_drops_the_smoothing_tail():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(6, 9)) * 2.0
  for mass in (0.05, 0.2, 0.5, 0.9, 0.999):
    out = np.asarray(paella.typical_filter(jnp.asarray(logits), mass))
    for row, filtered in zip(logits, out):
      p = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
      assert set(np.flatnonzero(np.isfinite(filtered))) == _typical_reference(p, mass), mass
      np.testing.assert_allclose(filtered[np.isfinite(filtered)], row[np.isfinite(filtered)])
  # A confident prediction trained with label smoothing 0.1 over 256 codes: 0.9 on one code and
  # the rest spread thinly. A plain draw picks a tail code one time in ten; filtering keeps
  # only the confident code.
  p = np.full(256, 0.1 / 255)
  p[17] = 0.9
  kept = np.isfinite(np.asarray(paella.typical_filter(jnp.log(jnp.asarray(p)), 0.2)))
  assert np.flatnonzero(kept).tolist() == [17]


@pytest.mark.slow
def test_tiny_chain_learns_to_restore_codes(tmp_path, monkeypatch,
    tiny_tokenizer):
  tokenizer = tiny_tokenizer
  trace_train_step_once(monkeypatch, paella_family)
  workdir = str(tmp_path / "paella")
  config = tiny_config("paella", tokenizer_workdir=tokenizer, num_train_steps=60,
                       eval_every_steps=20, checkpoint_every_steps=60, learning_rate=3e-3)
  train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    evals = [m for m in map(json.loads, f) if m["split"] == "eval"]
  print([(m["step"], m["replaced_accuracy"], m["loss"]) for m in evals])
  assert evals[-1]["loss"] < evals[0]["loss"] - 0.1
  trained = restore_trained(workdir)
  sample = jax.jit(trained.family.sample, static_argnums=(2, 4))
  images = sample(trained.state, jax.random.key(0), 4, jnp.arange(4), 3)
  chex.assert_shape(images, (4, 28, 28, 1))
  assert_plausible_images(images)
  assert_labels_condition(lambda labels: sample(trained.state, jax.random.key(0), 4, labels, 3))
