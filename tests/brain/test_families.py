"""MinD-Vis end to end at tiny size: stage A (mbm) and stage B (mindvis) on a tiny
label-conditioned ldm, through the one loop."""

import json
import os

import chex
import flax
import jax
import numpy as np
import pytest

from experiments import brain_eval
from jaxgen.brain import mbm_family, mindvis_family
from jaxgen.data import brain
from jaxgen.data.pipeline import SplitData
from jaxgen.errors import UserError
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import (ldm_label_model, shared_run, tiny_config, trace_train_step_once,
                           untrained_scorer)

# End-to-end chains: the slow tier (scripts/test.sh --full, .ci/run).
pytestmark = pytest.mark.slow


def _evals(workdir: str) -> list[dict]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [m for m in map(json.loads, f) if m["split"] == "eval"]


@pytest.fixture(scope="module")
def tiny_mbm(tmp_path_factory) -> str:
  """A 20-step tiny mbm run whose train step must compile once."""
  with pytest.MonkeyPatch.context() as monkeypatch:
    trace_train_step_once(monkeypatch, mbm_family)
    return shared_run(tmp_path_factory, "mbm", tiny_config("mbm"))


@pytest.fixture(scope="module")
def tiny_ldm_label(tmp_path_factory, tiny_autoencoder) -> str:
  return shared_run(tmp_path_factory, "ldm_label",
                    tiny_config("ldm", context="label", model=ldm_label_model(),
                                autoencoder_workdir=tiny_autoencoder))


def test_mbm_learns_to_fill_in_hidden_patches(tiny_mbm):
  evals = _evals(tiny_mbm)
  print([(m["step"], m["masked_mse"], m["masked_corr"]) for m in evals])
  # Seen: masked MSE 1.24 at step 10, 1.12 at step 20 (predicting zeros gives about 1.0 plus
  # the decoder's initial spread).
  assert evals[-1]["masked_mse"] < evals[0]["masked_mse"] - 0.03


def test_mindvis_trains_only_encoder_mappers_and_cross_attention(tmp_path, monkeypatch,
                                                                  tiny_mbm, tiny_ldm_label):
  trace_train_step_once(monkeypatch, mindvis_family)
  workdir = str(tmp_path / "mindvis")
  train_and_evaluate(tiny_config("mindvis", ldm_workdir=tiny_ldm_label, mbm_workdir=tiny_mbm),
                     workdir)
  monkeypatch.undo()  # the steps below trace the train step again, on purpose
  trained = restore_trained(workdir)
  state = trained.state
  ldm = restore_trained(tiny_ldm_label).state.ema_params["unet"]
  mbm = restore_trained(tiny_mbm).state.params["encoder"]
  flat_ldm = flax.traverse_util.flatten_dict(ldm)
  # The frozen U-Net is the ldm's, untouched; the trained parameters are exactly the
  # conditioner's and the cross-attention's with its norm.
  for key, value in state.extras["frozen"].items():
    path = tuple(key.split("."))
    assert path[0] == "unet" and not mindvis_family.is_trained(path)
    np.testing.assert_array_equal(value, flat_ldm[path[1:]])
  trained_paths = [tuple(k.split(".")) for k in state.params]
  assert all(mindvis_family.is_trained(p) for p in trained_paths)
  assert any("cross_attn" in p for p in trained_paths)
  assert any(p[:2] == ("conditioner", "encoder") for p in trained_paths)
  changed = {p for p, k in zip(trained_paths, state.params)
             if p[0] == "unet" and not np.array_equal(state.params[k], flat_ldm[p[1:]])}
  assert changed, "the cross-attention did not train"
  enc = flax.traverse_util.flatten_dict(mbm)
  assert any(not np.array_equal(state.params["conditioner.encoder." + ".".join(p)], v)
             for p, v in enc.items())
  # Reconstructions from a GOD-layout file, as experiments.sample --signals reads it.
  brain.write_god(str(tmp_path / "god"), ("sbj_1",))
  signals = brain.read_signals(str(tmp_path / "god" / "sbj_1.npz"), trained.spec.signal_length)
  images = jax.jit(trained.family.reconstruct)(state, {"signal": signals[:4]}, jax.random.key(0))
  chex.assert_shape(images, (4, 28, 28, 1))
  # The scoring functions of experiments.brain_eval, on an untrained scorer.
  test = SplitData.open("brain_digits/sbj_1", "test").arrays()
  recon = np.stack([brain_eval.reconstruct(trained, test["signal"][:20], j, guidance_scale=1.5)
                    for j in range(2)])  # two samples of each of 20 stimuli
  scorer = untrained_scorer("embedded_digits", reference_split="test")
  row, per_item = brain_eval.score(scorer, recon, test["image"][:20], [2, 10], 3)
  assert row["fcd"] > 0 and row["samples_per_stimulus"] == 2 and row["num"] == 20
  # Per stimulus, each figure is the mean over its 2 samples: 10-way and identification of one
  # trial each are 0, 0.5 or 1; pair-wise shares of 19 comparisons, averaged.
  for key in ("top1_10way", "id20_features", "id20_pixcorr"):
    assert per_item[key].shape == (20,) and set(np.unique(per_item[key] * 2)) <= {0.0, 1.0, 2.0}
  assert np.all(np.isin(np.round(per_item["pairwise_ssim"] * 38), np.arange(39)))
  # The linear baselines on the same signals, and the run against each of them, paired.
  splits = {s: SplitData.open("brain_digits/sbj_1", s).arrays() for s in ("train", "validation")}
  first = {k: v[:20] for k, v in test.items()}
  base = brain_eval.baselines(scorer, splits["train"], splits["validation"], first, [2, 10], 3)
  assert set(base) == {"ridge_labels", "ridge_features_retrieval", "ridge_pixels"}
  paired = brain_eval.paired_comparisons(
      {"mindvis": per_item, **{name: values for name, (_, values) in base.items()}}, list(base))
  assert {(p["b"], p["figure"]) for p in paired} >= {("ridge_labels", "top1_10way"),
                                                     ("ridge_pixels", "id20_pixcorr")}
  assert "| ridge_pixels |" in brain_eval.markdown(
      {"mindvis": row, **{name: figures for name, (figures, _) in base.items()}}, paired, [])
  # The trained path reaches the loss: steps on one batch, with the same noise and times each
  # step, lower it steadily (seen: 0.784 to 0.774 in 15 steps at 3e-3 on the tiny ldm).
  batch = {k: jax.numpy.asarray(v[:16]) for k, v in test.items()}
  fresh = trained.family.create_state(jax.random.key(0), batch)
  step = jax.jit(trained.family.train_step)
  losses = []
  for _ in range(12):
    fresh, metrics = step(fresh, batch, jax.random.key(1))
    losses.append(float(metrics["loss"]))
  print(losses)
  assert np.all(np.diff(losses[1:]) < 0) and losses[-1] < 0.995 * losses[0]


def test_mindvis_refuses_mismatched_first_stages(tiny_mbm, tiny_autoencoder):
  config = tiny_config("mindvis", ldm_workdir=tiny_autoencoder, mbm_workdir=tiny_mbm)
  with pytest.raises(UserError, match="must name a ldm run"):
    mindvis_family.load_ldm(config.ldm_workdir)
  with pytest.raises(UserError, match="pretrained on signals of"):
    mindvis_family.load_mbm(tiny_mbm, 1000)


def test_condition_dropout_replaces_the_signal_by_the_null_context():
  """Where `drop` is true the network sees the null context and no pooled embedding, whatever
  the signal; elsewhere the signal conditions it."""
  import jax
  import jax.numpy as jnp
  from jaxgen.nets.mindvis import BrainDiffusionNet
  from jaxgen.nets.unet import UNet
  net = BrainDiffusionNet(UNet(4, 8, (1,), 1, (4,), head_dim=8), patch=4, dim=16, depth=1,
                          num_heads=2, context_tokens=2, context_dim=8)
  x, t = jnp.ones((2, 4, 4, 4)), jnp.array([3, 7])
  a, b = jax.random.normal(jax.random.key(1), (2, 2, 32))
  params = net.init(jax.random.key(0), x, t, a)
  # Every parameter perturbed: the U-Net's zero-initialised output layer would make every
  # output 0 whatever the condition.
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(3), len(leaves))
  params = jax.tree.unflatten(tree, [p + 0.3 * jax.random.normal(k, p.shape)
                                     for p, k in zip(leaves, keys)])
  null = jax.random.normal(jax.random.key(2), (2, 8))  # [m, context_dim]
  drop = jnp.array([True, False])
  out_a = net.apply(params, x, t, a, drop=drop, null_context=null)
  out_b = net.apply(params, x, t, b, drop=drop, null_context=null)
  np.testing.assert_allclose(out_a[0], out_b[0], atol=1e-6)  # dropped: the signal is unseen
  assert not np.allclose(out_a[1], out_b[1], atol=1e-4)  # kept: it conditions
  unconditional = net.apply(params, x, t, jnp.broadcast_to(null, (2, 2, 8)), jnp.zeros((2, 32)),
                            method=BrainDiffusionNet.denoise)
  np.testing.assert_allclose(out_a[0], unconditional[0], atol=1e-5)
