"""experiments/score.py: sampler settings parse, score and write grids; the exact NLL is finite."""

import dataclasses
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import ndtr

from experiments import score
from jaxgen.data.pipeline import SplitData
from jaxgen.diffusion import schedules
from jaxgen.diffusion.classifier_family import load_guide
from jaxgen.errors import UserError
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import assert_proportion_with_interval, shared_run, tiny_config

# The trained fixtures below run once per test run, not once per xdist worker: they train
# through tests.helpers.shared_run, under a file lock (scripts/test.sh spreads single tests over
# the workers with --dist worksteal; --dist loadgroup does not group with pytest 9.2 and xdist
# 3.8, xdist issue 1386).


def test_parse_setting():
  assert score.parse_setting("ddim:50") == score.Setting("ddim", 50)
  assert score.parse_setting("ddpm:1000:w=1.5:cls=2") == score.Setting("ddpm", 1000, w=1.5, cls=2)
  assert score.parse_setting("ddim:25:eta=1").name == "ddim25 eta=1"
  quad = score.parse_setting("ddim:50:spacing=quadratic")
  assert quad.name == "ddim50 spacing=quadratic"
  assert quad.sampler_options()["spacing"] == "quadratic"
  assert "spacing" not in score.parse_setting("ddim:50").sampler_options()  # the config's
  for bad in ["ddim", "euler:50", "ddim:0", "ddim:50:zeta=1", "ddim:50:w=high",
              "ddim:50:spacing=cubic"]:
    with pytest.raises(UserError, match="--settings item"):
      score.parse_setting(bad)


def test_parse_token_setting():
  from experiments.sampler_settings import parse_token_setting, token_setting_name
  assert parse_token_setting("maskgit", "steps=8:w=1") == {"decode_steps": 8, "guidance_scale": 1.0}
  options = parse_token_setting("paella", "steps=12:w=4:typical=0.2")
  assert options == {"sample_steps": 12, "guidance_scale": 4.0, "typical_mass": 0.2}
  assert token_setting_name(options) == "12 steps w=4 typical=0.2"
  assert token_setting_name({**options, "typical_mass": 1.0}) == "12 steps w=4"
  baseline = parse_token_setting("maskgit_ar", "w=1:temp=0.8:top_k=32")
  assert baseline == {"guidance_scale": 1.0, "temperature": 0.8, "top_k": 32}
  assert token_setting_name(baseline) == "w=1 temp=0.8 top_k=32"
  tuned = parse_token_setting("maskgit", "steps=8:temp=1.2:choice=10:top_k=4")
  assert tuned == {"decode_steps": 8, "temperature": 1.2, "choice_temperature": 10.0,
                   "top_k": 4}
  assert token_setting_name(tuned) == "8 steps temp=1.2 choice=10 top_k=4"
  with pytest.raises(UserError, match="choice is a Gumbel scale"):
    parse_token_setting("maskgit", "choice=-1")
  with pytest.raises(UserError, match="not 'choice'"):
    parse_token_setting("maskgit_ar", "choice=1")
  annealed = parse_token_setting("paella", "steps=12:temp_end=0.2")
  assert annealed == {"sample_steps": 12, "final_temperature": 0.2}
  assert token_setting_name(annealed) == "12 steps temp_end=0.2"
  from experiments.sampler_settings import token_setting
  defaults = {"sample_steps": 12, "guidance_scale": 4.0, "typical_mass": 0.2}
  given = token_setting("paella", defaults, "w=8")  # the config's other options, in the name
  assert given.sampler_options() == {"guidance_scale": 8.0}
  assert given.name == "12 steps w=8 typical=0.2" and given.cls is None
  assert token_setting("paella", defaults, None).sampler_options() == {}
  assert token_setting("paella", defaults, None).name == "12 steps w=4 typical=0.2"
  for family, bad, match in [("maskgit", "typical=0.2", "not 'typical'"),
                             ("maskgit_ar", "steps=4", "not 'steps'"),
                             ("paella", "typical=0", "in \\(0, 1\\]"),
                             ("paella", "steps=1.5", "whole number"),
                             ("paella", "temp_end=0", "positive temperature"),
                             ("maskgit", "temp_end=0.2", "not 'temp_end'"),
                             ("maskgit_ar", "top_k=2.5", "whole number"),
                             ("maskgit_ar", "temp=0", "positive temperature")]:
    with pytest.raises(UserError, match=match):
      parse_token_setting(family, bad)


def test_parse_langevin_setting():
  als = score.parse_langevin_setting("als:steps=10:lr=2e-5")
  assert als.name == "als steps=10 lr=2e-05" and als.cls is None and als.w is None
  assert als.sampler_options() == {"sampler": "als", "steps_per_sigma": 10, "step_lr": 2e-5}
  cas = score.parse_langevin_setting("cas:denoise=0")
  assert cas.sampler_options() == {"sampler": "cas", "denoise": False}  # lr: the config's
  assert score.parse_langevin_setting("als").sampler_options() == {"sampler": "als"}
  pc = score.parse_langevin_setting("pc:steps=0:snr=0.2")
  assert pc.name == "pc steps=0 snr=0.2"
  assert pc.sampler_options() == {"sampler": "pc", "steps_per_sigma": 0, "snr": 0.2}
  for bad, match in [("ddim:50", "als .* or pc"), ("cas:steps=3", "not 'steps'"),
                     ("als:steps=0", "whole number >= 1"), ("pc:lr=1e-5", "not 'lr'"),
                     ("pc:snr=0", "positive"), ("pc:steps=-1", "whole number >= 0"), ("als:lr=-1", "positive"),
                     ("als:denoise=2", "0 or 1"), ("als:lr=fast", "needs a number")]:
    with pytest.raises(UserError, match=match):
      score.parse_langevin_setting(bad)


@pytest.fixture(scope="session")
def trained_cfg_and_scorer(tmp_path_factory, digit_scorer):
  """A tiny conditional DDPM (CFG) and the shared tiny scoring classifier, both trained on real
  digits."""
  config = tiny_config("cfg")
  # One level without attention: these tests check scoring, bounds and reports, not the U-Net,
  # and every sampler and bound below compiles it again (cold, the two-level U-Net took 87 s).
  config.model.channel_mult, config.model.attention_resolutions = (1,), ()
  workdir = shared_run(tmp_path_factory, "score_cfg", config)
  return restore_trained(workdir), digit_scorer, workdir


@pytest.mark.slow
def test_score_settings_report_fcd_and_accuracy(trained_cfg_and_scorer):
  trained, scorer, workdir = trained_cfg_and_scorer
  settings = [score.Setting("ddim", 5), score.Setting("ddpm", 50, w=1.0)]
  rows = score.score_settings(trained, scorer, settings, 20, 0, workdir)
  assert [r["setting"] for r in rows] == ["ddim5", "ddpm50 w=1"]
  # The second setting against the first, paired on the same seed and labels.
  [paired] = score.compare_to_first(scorer, rows, num_boot=20)
  assert (paired["a"], paired["b"]) == ("ddpm50 w=1", "ddim5")
  assert paired["fcd"]["difference"] == pytest.approx(rows[1]["fcd"] - rows[0]["fcd"], rel=1e-6)
  assert paired["cond_accuracy"]["n"] == 20 and "_samples" not in rows[0]
  for row in rows:
    assert row["num_samples"] == 20 and math.isfinite(row["fcd"])
    assert row["fcd_floor"] < row["fcd_ceiling"]
    assert_proportion_with_interval(row, "cond_accuracy", 20)
  assert os.path.exists(os.path.join(workdir, "samples", "score_ddpm50_w1.png"))
  with pytest.raises(UserError, match="needs --classifier_workdir"):
    score.score_settings(trained, scorer, [score.Setting("ddim", 5, cls=1.0)], 4, 0, workdir)
  table = score.markdown(rows)
  assert table.count("\n") == 3 and "cond_accuracy" in table


def zero_output_bound(betas: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """The expected full bound in bits/dim of an eps-model that outputs 0, with fixed_large
  variance, on images [b, h, w, c] in [0, 1], and its Monte-Carlo sd (one noise draw per
  step and image, as the full bound takes): ([b], [b]), in float64 numpy.

  eps = 0 makes pred_x0 = x_t / sqrt(abar) = x0 + r_t n with r_t = sqrt(1/abar_t - 1), n the
  noise, so p misses the posterior mean by coef1_t r_t n: L_t at t >= 1 is a constant plus
  k_t n^2, and the decoder at t = 0 is the mass of x0's bin under N(x0 + r_0 n, beta~_1), whose
  expectation over n is a Gauss-Hermite sum (it depends on x0 only through the edge bins).
  """
  abar = np.cumprod(1.0 - betas)
  abar_prev = np.append(1.0, abar[:-1])
  post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
  log_q, log_p = np.log(post_var[1:]), np.log(betas[1:])  # t >= 1: posterior, model (beta_t)
  r = np.sqrt(1.0 / abar - 1.0)
  k = 0.5 * (betas * np.sqrt(abar_prev) / (1.0 - abar) * r)[1:] ** 2 / betas[1:]  # [T-1]
  kl_mean = np.sum(0.5 * (-1.0 + log_p - log_q + np.exp(log_q - log_p)) + k)  # E[n^2] = 1
  n, w = np.polynomial.hermite_e.hermegauss(40)  # nodes and weights for N(0, 1)
  w = w / w.sum()
  sigma, half = np.sqrt(post_var[1]), 1.0 / 255.0  # fixed_large uses beta~_1 at t = 0
  upper, lower = (half - r[0] * n) / sigma, (-half - r[0] * n) / sigma  # x0's bin, standardised
  # The mirrored tail where both ends are far above 0, so the difference does not round to 0.
  interior = np.where(lower > 0, ndtr(-lower) - ndtr(-upper), ndtr(upper) - ndtr(lower))
  nll = {"interior": -np.log(interior),
         "edge": -np.log(ndtr(upper))}  # -1 and +1 alike, by symmetry
  x0 = images.reshape(len(images), -1) * 2.0 - 1.0  # [b, d] in [-1, 1]
  edge = np.mean(np.abs(x0) == 1.0, axis=1)  # [b]
  moments = {key: (w @ v, w @ v**2 - (w @ v) ** 2) for key, v in nll.items()}
  decoder = edge * moments["edge"][0] + (1.0 - edge) * moments["interior"][0]
  a_T = abar[-1]
  prior = np.mean(0.5 * (-1.0 - np.log(1.0 - a_T) + (1.0 - a_T) + a_T * x0**2), axis=1)
  d = x0.shape[1]
  # Per pixel: Var(n^2) = 2 for each KL term; the decoder's own variance over n.
  var = (np.sum(k**2) * 2.0 + edge * moments["edge"][1] + (1.0 - edge) * moments["interior"][1]) / d
  return (kl_mean + decoder + prior) / math.log(2.0), np.sqrt(var) / math.log(2.0)


@pytest.mark.slow
def test_exact_nll_is_the_bound_of_the_model_it_is_given(trained_cfg_and_scorer):
  trained, _, _ = trained_cfg_and_scorer
  d = trained.config.diffusion
  assert (d.schedule, d.mean_type, d.var_type) == ("linear", "eps", "fixed_large")
  # The U-Net's last convolution zeroed: eps = 0 for every input, a model with a closed-form
  # bound. Only the EMA params are zeroed, so a bound of the raw params would not match.
  params = jax.tree_util.tree_map_with_path(
      lambda path, v: jnp.zeros_like(v) if "conv_out" in jax.tree_util.keystr(path) else v,
      trained.state.ema_params)
  blank = dataclasses.replace(trained, state=trained.state.replace(ema_params=params))
  bpd, se = score.exact_nll(blank, 4, 0)
  images = SplitData.open(trained.config.dataset, "validation").arrays()["image"][:4]
  want, mc_sd = zero_output_bound(schedules.linear_betas(d.num_timesteps), images)
  sd_of_mean = np.sqrt(np.sum(mc_sd**2)) / len(mc_sd)
  # 16.6 bits/dim, with a Monte-Carlo sd of the 4-image mean of 0.06: nats or a missing term
  # would be off by several bits.
  assert bpd == pytest.approx(want.mean(), abs=4 * sd_of_mean + 1e-3)
  assert 0 < se < 1
  trained_bpd, trained_se = score.exact_nll(trained, 4, 0)
  # The trained weights' own bound: 20 steps (training mse 0.5) took it to 12.1 bits/dim, 4.5
  # below the blank model's, 80 times the Monte-Carlo sd.
  assert np.isfinite(trained_se) and trained_bpd < want.mean() - 2.0


@pytest.mark.slow
def test_classifier_guided_scoring_and_guide_checks(trained_cfg_and_scorer, tmp_path):
  trained, scorer, workdir = trained_cfg_and_scorer
  guide_dir = str(tmp_path / "guide")
  train_and_evaluate(tiny_config("noisy_classifier"), guide_dir)
  guide = load_guide(guide_dir, trained.config.diffusion)
  rows = score.score_settings(trained, scorer, [score.Setting("ddim", 5, cls=3.0)], 10, 0,
                              workdir, guide)
  assert rows[0]["setting"] == "ddim5 cls=3"
  assert_proportion_with_interval(rows[0], "cond_accuracy", 10)
  other = trained.config.diffusion.copy_and_resolve_references()
  other.num_timesteps += 1
  with pytest.raises(UserError, match="trained on a linear schedule with T=50"):
    load_guide(guide_dir, other)
  with pytest.raises(UserError, match="not a noisy_classifier"):
    load_guide(workdir, trained.config.diffusion)


@pytest.mark.slow
def test_exact_nll_leaves_the_restored_config_alone(trained_cfg_and_scorer):
  trained, _, _ = trained_cfg_and_scorer
  before = trained.config.to_dict()
  score.exact_nll(trained, 2, 0)
  assert trained.config.to_dict() == before


@pytest.mark.slow
def test_report_of_a_conditional_diffusion_model(trained_cfg_and_scorer, monkeypatch, tmp_path):
  """experiments.report on the tiny CFG model: the importance-sampled bound with its SE, named
  -log p(x|y), and a sampler setting."""
  from experiments import report
  from jaxgen.train import loop
  trained, scorer, workdir = trained_cfg_and_scorer
  monkeypatch.setattr(loop, "trained_scorer", lambda *a, **k: scorer)
  record = report.report_workdir(workdir, 20, 8, "ddim:5:w=1", None, 0, str(tmp_path), "cfg",
                                 "cmd")
  assert record["sampler"] == "ddim5 w=1" and "cond_accuracy" in record
  nll = record["nll"]
  assert nll["conditional"] and nll["unit"] == "bits/dim" and nll["images"] == 8
  assert "importance-sampled" in nll["estimator"] and 0 < nll["se"] < nll["value"]
  # The same 8 test images under all T terms: the two estimators agree within
  # a few of their errors.
  full_mean, full_se = score.exact_nll(trained, 8, 0, split="test")
  assert abs(full_mean - nll["value"]) < 4 * math.hypot(full_se, nll["se"])
