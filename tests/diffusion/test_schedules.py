"""Beta schedules against their definitions, and respacing."""

import math

import numpy as np
import pytest

from jaxgen.diffusion import schedules


def test_linear_matches_ddpm_definition():
  betas = schedules.linear_betas(1000)
  np.testing.assert_allclose(betas, np.linspace(1e-4, 0.02, 1000))
  # Fewer steps keep the same curve by scaling the endpoints by 1000 / T.
  np.testing.assert_allclose(schedules.linear_betas(100)[[0, -1]], [1e-3, 0.2])


def test_cosine_matches_improved_ddpm_definition():
  T, s = 1000, 0.008
  sched = schedules.from_betas(schedules.cosine_betas(T, s))
  t = np.arange(1, T + 1)
  f = lambda u: math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2
  want = np.array([f(u) / f(0) for u in t])
  # Away from the end, where betas are clipped at 0.999, abar_t = f(t) / f(0) exactly.
  np.testing.assert_allclose(np.asarray(sched.alphas_cumprod)[:-5], want[:-5], rtol=2e-5, atol=1e-7)
  assert np.all(schedules.cosine_betas(T) <= 0.999)


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_derived_constants(name):
  sched = schedules.make_schedule(name, 200)
  betas = np.asarray(sched.betas, np.float64)
  abar = np.cumprod(1 - betas)
  np.testing.assert_allclose(sched.alphas_cumprod, abar, rtol=1e-4)
  np.testing.assert_allclose(sched.alphas_cumprod_prev[1:], abar[:-1], rtol=1e-5)
  np.testing.assert_allclose(sched.sqrt_recipm1_alphas_cumprod, np.sqrt(1 / abar - 1), rtol=1e-4)
  assert sched.num_timesteps == 200 and sched.betas.dtype == np.float32


def test_respace_keeps_alpha_bar_of_kept_steps():
  betas = schedules.linear_betas(1000)
  sched, kept = schedules.respace(betas, 50)
  assert sched.num_timesteps == 50 and kept[0] == 0 and kept[-1] == 999
  full = np.cumprod(1 - betas)
  np.testing.assert_allclose(sched.alphas_cumprod, full[kept], rtol=1e-5)


def test_respacings_pick_the_published_timesteps():
  """DDIM's uniform skip (leading) and quadratic sequences (ermongroup/ddim's runner), diffusers'
  trailing: checked against their defining formulas written out by hand."""
  T, K = 1000, 50
  np.testing.assert_array_equal(schedules.respaced_timesteps(T, K, "leading"),
                                np.arange(0, 1000, 20))
  trailing = schedules.respaced_timesteps(T, K, "trailing")
  assert trailing[-1] == 999 and trailing[0] == 19 and np.all(np.diff(trailing) == 20)
  quad = schedules.respaced_timesteps(T, K, "quadratic")
  # int(0.33^2) and int(0^2) are both 0: DDIM's runner calls the network twice at t=0, the
  # second time a no-op step (abar_next = abar); it is kept once here, so 49 calls.
  assert quad[0] == 0 and quad[1] == 1 and quad[-1] == 800 and len(quad) == K - 1
  assert quad[1] - quad[0] < quad[-1] - quad[-2]  # dense near the data, sparse near noise
  q100 = schedules.respaced_timesteps(T, 100, "quadratic")
  assert len(q100) < 100 and np.all(np.diff(q100) > 0)
  for spacing in schedules.SPACINGS:  # every spacing keeps alpha_bar of what it keeps
    sched, kept = schedules.respace(schedules.linear_betas(T), 20, spacing)
    np.testing.assert_allclose(sched.alphas_cumprod,
                               np.cumprod(1 - schedules.linear_betas(T))[kept], rtol=1e-5)
  with pytest.raises(ValueError, match="unknown spacing"):
    schedules.respaced_timesteps(T, K, "cubic")
