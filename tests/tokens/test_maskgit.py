"""MaskGIT: mask counts follow the cosine schedule, decoding reveals every token and never
changes a known one, and a tiny chain (tokenizer, then MaskGIT) learns on real digits."""

import json
import math
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.errors import UserError
from jaxgen.tokens import maskgit
from jaxgen.tokens import maskgit_family
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from experiments import evaluations, records, report, tables
from jaxgen.train import loop
from tests.helpers import (assert_labels_condition, assert_plausible_images, tiny_config,
                           trace_train_step_once, untrained_scorer)


def test_mask_counts_follow_the_cosine_schedule():
  n = 49
  mask = np.asarray(jax.jit(maskgit.random_mask, static_argnums=(1, 2))(
      jax.random.key(0), 4000, n))
  counts = mask.sum(-1)
  assert counts.min() >= 1 and counts.max() <= n
  # With r ~ U[0, 1), count = ceil(n cos(pi r / 2)): P(count <= m) = 1 - (2 / pi) acos(m / n).
  for m in (10, 25, 40):
    expected = 1 - 2 / math.pi * math.acos(m / n)
    assert abs(np.mean(counts <= m) - expected) < 0.03, (m, np.mean(counts <= m), expected)
  # Every position is masked about as often as any other.
  per_position = mask.mean(0)
  assert per_position.max() - per_position.min() < 0.08


def test_masked_cross_entropy_ignores_unmasked_positions():
  logits = jnp.zeros((1, 3, 4)).at[0, 1, 2].set(10.0)
  targets = jnp.array([[0, 2, 1]])
  only_second = maskgit.masked_cross_entropy(logits, targets, jnp.array([[False, True, False]]))
  np.testing.assert_allclose(only_second, -jax.nn.log_softmax(logits[0, 1])[2], rtol=1e-6)
  wrong = logits.at[0, 0].set(-50.0)  # unmasked positions may be anything
  np.testing.assert_allclose(
      maskgit.masked_cross_entropy(wrong, targets, jnp.array([[False, True, False]])),
      only_second, rtol=1e-6)


@pytest.mark.parametrize("steps", [1, 4, 8])
def test_decoding_reveals_everything_and_keeps_known_tokens(steps):
  b, n, k = 6, 49, 16
  mask_id = k
  known = jax.random.randint(jax.random.key(1), (b, n), 0, k)
  given = jax.random.bernoulli(jax.random.key(2), 0.3, (b, n))  # 30% of the tokens known
  start = jnp.where(given, known, mask_id)
  seen = []

  def logits_fn(tokens, labels):
    # A network that prefers code (position + label) mod k, and records what it was shown.
    seen.append(tokens)
    pref = (jnp.arange(n)[None] + labels[:, None]) % k  # [b, n]
    return 3.0 * jax.nn.one_hot(pref, k)

  out = jax.jit(lambda rng, t, y: maskgit.decode(logits_fn, rng, t, y, mask_id, steps))(
      jax.random.key(3), start, jnp.arange(b))
  out = np.asarray(out)
  assert (out != mask_id).all() and (out < k).all()  # every position revealed, a real code
  np.testing.assert_array_equal(out[np.asarray(given)], np.asarray(known)[np.asarray(given)])


def test_top_k_keeps_the_likeliest_codes():
  """Decoding draws only among the top_k likeliest codes at each position: with a network whose
  two likeliest codes per position carry little mass against a flat tail of 30, top_k=2 never
  draws from the tail (which unfiltered draws mostly do)."""
  from jaxgen.tokens.filtering import top_k_filter
  logits = jnp.array([[3.0, 1.0, 2.0, 0.0]])
  np.testing.assert_array_equal(top_k_filter(logits, 2), [[3.0, -jnp.inf, 2.0, -jnp.inf]])
  np.testing.assert_array_equal(top_k_filter(logits, 0), logits)
  np.testing.assert_array_equal(top_k_filter(logits, 4), logits)
  # The k-th largest by rounds of maxima is lax.top_k's, ties counted with multiplicity.
  from jaxgen.tokens.filtering import kth_largest
  tied = jnp.round(2.0 * jax.random.normal(jax.random.key(5), (300, 64)))  # many ties
  for k in (1, 5, 20):
    np.testing.assert_array_equal(kth_largest(tied, k), jax.lax.top_k(tied, k)[0][..., -1:])
  b, n, k = 8, 49, 32
  best = (jnp.arange(n)[None] * 3 + jnp.arange(b)[:, None]) % k  # [b, n]
  second = (best + 1) % k

  def logits_fn(tokens, labels):
    return 1.0 * jax.nn.one_hot(best, k) + 0.5 * jax.nn.one_hot(second, k)  # [b, n, k]

  start = jnp.full((b, n), k)
  for top_k, in_top in ((2, 1.0), (0, None)):
    out = np.asarray(maskgit.decode(logits_fn, jax.random.key(0), start, jnp.zeros(b, jnp.int32),
                                    k, 4, top_k=top_k))
    share = np.mean((out == np.asarray(best)) | (out == np.asarray(second)))
    if in_top is None:
      assert share < 0.5, share  # the tail's 30 codes hold most of the mass
    else:
      assert share == in_top


def test_decoding_unmasks_on_schedule_and_never_revisits():
  """Trace the masked count after each step: it follows floor(gamma((t + 1) / T) N) and a token
  revealed at one step is the same at every later one."""
  b, n, k, steps = 2, 49, 8, 6
  shown = []

  def logits_fn(tokens, labels):
    jax.debug.callback(lambda t: shown.append(np.asarray(t)), tokens)
    return jnp.zeros((b, n, k))

  out = maskgit.decode(logits_fn, jax.random.key(0), jnp.full((b, n), k), jnp.zeros(b, jnp.int32),
                       k, steps)
  jax.block_until_ready(out)
  history = shown + [np.asarray(out)]  # the input of each step, then the result
  masked = [int((h[0] == k).sum()) for h in history]
  expected = [n] + [max(1, math.floor(math.cos(math.pi / 2 * (t + 1) / steps) * n))
                    for t in range(steps - 1)] + [0]
  assert masked == expected, (masked, expected)
  for before, after in zip(history, history[1:]):
    revealed = before != k
    np.testing.assert_array_equal(after[revealed], before[revealed])


def test_guidance_with_scale_zero_is_the_conditional_logits():
  fn = lambda t, y: jax.nn.one_hot(t + y[:, None], 5)
  tokens, labels = jnp.array([[0, 1]]), jnp.array([2])
  np.testing.assert_allclose(maskgit.guided_logits(fn, tokens, labels, 4, 0.0), fn(tokens, labels))
  guided = maskgit.guided_logits(fn, tokens, labels, 4, 2.0)
  np.testing.assert_allclose(guided, 3.0 * fn(tokens, labels) - 2.0 * fn(tokens, jnp.array([4])))


@pytest.mark.slow
def test_tiny_chain_learns_masked_codes_and_compiles_once(tmp_path, monkeypatch,
    tiny_tokenizer):
  """A tiny tokenizer, then 60 MaskGIT steps on its codes: the masked-code accuracy on
  validation rises from the first eval (step 20) to the last, the step traces once, and
  samples decode."""
  tokenizer = tiny_tokenizer
  trace_train_step_once(monkeypatch, maskgit_family)
  workdir = str(tmp_path / "maskgit")
  config = tiny_config("maskgit", tokenizer_workdir=tokenizer, num_train_steps=60,
                       eval_every_steps=20, checkpoint_every_steps=60, learning_rate=3e-3)
  train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    evals = [m for m in map(json.loads, f) if m["split"] == "eval"]
  print([(m["step"], m["masked_accuracy"], m["loss"]) for m in evals])
  # Seen: loss 3.02 -> 2.85 (ln 32 = 3.47 for a uniform guess), accuracy 0.15 -> 0.20.
  assert evals[-1]["loss"] < evals[0]["loss"] - 0.1
  assert evals[-1]["masked_accuracy"] > evals[0]["masked_accuracy"] + 0.02
  trained = restore_trained(workdir)
  images = jax.jit(trained.family.sample, static_argnums=2)(trained.state, jax.random.key(0), 4,
                                                            jnp.arange(4))
  chex.assert_shape(images, (4, 28, 28, 1))
  assert_plausible_images(images)
  assert_labels_condition(lambda labels: jax.jit(trained.family.sample, static_argnums=2)(
      trained.state, jax.random.key(0), 4, labels))
  # The sampler's temperature and choice temperature reach the decoder: near-greedy draws with
  # confidence alone (no Gumbel noise) do not depend on the key; the config's draws do.
  draw = jax.jit(trained.family.sample, static_argnums=2,
                 static_argnames=("temperature", "choice_temperature"))
  greedy = [draw(trained.state, jax.random.key(i), 4, jnp.arange(4), temperature=1e-4,
                 choice_temperature=0.0) for i in (1, 2)]
  np.testing.assert_array_equal(greedy[0], greedy[1])
  assert not np.array_equal(draw(trained.state, jax.random.key(1), 4, jnp.arange(4)),
                            draw(trained.state, jax.random.key(2), 4, jnp.arange(4)))
  # Its record: the sampler's setting, and a decoding cost that counts every step (XLA counts
  # a loop body once unless the loop is written out, so FLOPs must grow by the same amount
  # per added step).
  monkeypatch.setattr(loop, "trained_scorer", untrained_scorer)
  record = report.report_workdir(workdir, 20, 0, "steps=2:w=1", None, 0, str(tmp_path / "res"),
                                 "maskgit_s2", "cmd")
  assert record["sampler"] == "2 steps w=1" and record["decoding"]["network_calls"] == 2
  assert record["decoding"]["images_per_s_b1"] > 0 and record["decoding"]["images_per_s_b64"] > 0
  cost = lambda steps, **w: evaluations.decoding_cost(trained.family, trained.state,
                                                 {"decode_steps": steps, **w}, 10, 0,
                                                 batch_sizes=())["flops_per_image"]
  flops = {1: cost(1), 2: record["decoding"]["flops_per_image"], 3: cost(3)}  # the config's w=1
  per_step = flops[2] - flops[1]
  assert per_step > 0 and flops[3] - flops[2] == pytest.approx(per_step, rel=0.02)
  # Without guidance a step is one network pass rather than two: half the guided step's FLOPs.
  assert flops[1] - cost(1, guidance_scale=0.0) == pytest.approx(per_step / 2, rel=0.05)
  text = tables.markdown_tables(records.load(str(tmp_path / "res")))
  assert "**Code models" in text and "| maskgit_s2 | 2 steps w=1 | 2 |" in text
  with pytest.raises(UserError, match="steps=8"):
    report.report_workdir(workdir, 20, 0, "ddim:50", None, 0, str(tmp_path / "res"), "x", "cmd")
  # experiments.score tunes the same settings on validation, paired on one seed and labels.
  from experiments import score
  from experiments.sampler_settings import token_setting
  settings = [token_setting("maskgit", evaluations.token_defaults(trained.config), text)
              for text in (None, "steps=1:w=0")]
  rows = score.score_settings(trained, untrained_scorer("embedded_digits"), settings, 20, 0,
                              workdir)
  assert [r["setting"] for r in rows] == [settings[0].name, "1 steps w=0"]
  assert all(np.isfinite(r["fcd"]) and 0 <= r["cond_accuracy"] <= 1 for r in rows)
