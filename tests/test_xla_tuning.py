"""Measured XLA CPU flags: the decision logic, where it applies, and that both routes agree."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxgen import xla_tuning

_CONV_SCRIPT = """
import sys, numpy as np, jax, jax.numpy as jnp
from jax import lax
rng = np.random.default_rng(0)
x = jnp.asarray(rng.standard_normal((8, 14, 14, 16)), jnp.float32)
w = jnp.asarray(rng.standard_normal((3, 3, 16, 8)) * 0.1, jnp.float32)
w2 = jnp.asarray(rng.standard_normal((4, 4, 8, 4)) * 0.1, jnp.float32)
def f(x, w, w2):
  dn = ("NHWC", "HWIO", "NHWC")
  h = jnp.tanh(lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn))
  return lax.conv_general_dilated(h, w2, (2, 2), "SAME", dimension_numbers=dn)
y, vjp = jax.vjp(jax.jit(f), x, w, w2)
dx, dw, dw2 = jax.jit(vjp)(jnp.ones_like(y))
np.savez(sys.argv[1], y=y, dx=dx, dw=dw, dw2=dw2)
"""


def _run_conv(tmp_path, name: str, xla_flags: str) -> dict[str, np.ndarray]:
  out = tmp_path / f"{name}.npz"
  env = dict(os.environ, XLA_FLAGS=xla_flags, JAXGEN_XLA_TUNING="off", JAX_PLATFORMS="cpu")
  subprocess.run([sys.executable, "-c", _CONV_SCRIPT, str(out)], env=env, check=True, timeout=300)
  return dict(np.load(out))


def test_both_convolution_routes_give_the_same_values_and_gradients(tmp_path):
  ynn = _run_conv(tmp_path, "ynn", f"--{xla_tuning.FLAG_NAME}=individual_convolution")
  eigen = _run_conv(tmp_path, "eigen", xla_tuning.CANDIDATE)
  for key in ("y", "dx", "dw", "dw2"):
    np.testing.assert_allclose(eigen[key], ynn[key], rtol=1e-4, atol=1e-4, err_msg=key)


def test_the_suite_runs_under_this_machines_stored_decision():
  """tests/conftest.py measured both settings on this machine (or found them measured) before
  jax started, and this process runs with the setting that was stored. (How the decision is
  taken is tested below on given timings.)"""
  if os.environ.get(xla_tuning.ENV_VAR) == "off":
    pytest.skip(f"{xla_tuning.ENV_VAR}=off: the suite runs with XLA's defaults, unmeasured")
  if f"--{xla_tuning.FLAG_NAME}=" in os.environ.get("XLA_FLAGS", "").replace(
      xla_tuning.CANDIDATE, ""):
    pytest.skip("XLA_FLAGS names the fusion types itself: the user's choice is kept")
  decision = xla_tuning.stored_decision()
  assert decision is not None
  assert decision["default_ms"] > 0 and decision["candidate_ms"] > 0
  in_use = xla_tuning.CANDIDATE in os.environ.get("XLA_FLAGS", "")
  assert in_use == decision["use_candidate"]


@pytest.fixture
def fresh(tmp_path, monkeypatch):
  """A private cache and an environment in which jax's backend counts as not started."""
  monkeypatch.setenv("JAXGEN_CACHE", str(tmp_path))
  monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
  monkeypatch.delenv(xla_tuning.ENV_VAR, raising=False)
  monkeypatch.setattr(xla_tuning, "_backend_started", lambda: False)
  return tmp_path


def test_measure_picks_the_faster_setting_and_stores_it(fresh, monkeypatch):
  times = {"": [100.0], xla_tuning.CANDIDATE: [40.0]}
  monkeypatch.setattr(xla_tuning, "_run_probe", lambda flags: times[flags].pop(0))
  decision = xla_tuning.apply(measure_if_unknown=True)
  assert decision["use_candidate"] and decision["default_ms"] == 100.0
  assert os.environ["XLA_FLAGS"] == f"--xla_force_host_platform_device_count=2 {xla_tuning.CANDIDATE}"
  stored = json.loads((fresh / "xla_cpu_tuning.json").read_text())
  assert stored[xla_tuning.machine_key()]["candidate_ms"] == 40.0


def test_close_timings_are_measured_twice_and_xla_default_kept_unless_clearly_faster(fresh, monkeypatch):
  times = {"": [100.0, 95.0], xla_tuning.CANDIDATE: [96.0, 90.0]}
  monkeypatch.setattr(xla_tuning, "_run_probe", lambda flags: times[flags].pop(0))
  decision = xla_tuning.apply(measure_if_unknown=True)
  assert not times[""] and not times[xla_tuning.CANDIDATE]  # a second pair was run
  assert decision["default_ms"] == 95.0 and decision["candidate_ms"] == 90.0
  assert not decision["use_candidate"]  # 5% is inside the noise: XLA's default stays
  assert xla_tuning.CANDIDATE not in os.environ["XLA_FLAGS"]


def test_stored_decision_is_applied_without_measuring(fresh, monkeypatch):
  (fresh / "xla_cpu_tuning.json").write_text(json.dumps(
      {xla_tuning.machine_key(): {"use_candidate": True, "default_ms": 9.0, "candidate_ms": 1.0}}))
  monkeypatch.setattr(xla_tuning, "_run_probe", lambda flags: pytest.fail("measured again"))
  assert xla_tuning.apply(measure_if_unknown=True)["candidate_ms"] == 1.0
  assert os.environ["XLA_FLAGS"].endswith(xla_tuning.CANDIDATE)


def test_unknown_machine_keeps_xla_defaults_when_not_asked_to_measure(fresh, monkeypatch):
  monkeypatch.setattr(xla_tuning, "_run_probe", lambda flags: pytest.fail("measured"))
  assert xla_tuning.apply(measure_if_unknown=False) is None
  assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"


@pytest.mark.parametrize("setting", ["user_flag", "off", "started"])
def test_user_choices_and_a_started_backend_are_left_alone(fresh, monkeypatch, setting):
  monkeypatch.setattr(xla_tuning, "_run_probe", lambda flags: pytest.fail("measured"))
  if setting == "user_flag":
    monkeypatch.setenv("XLA_FLAGS", f"--{xla_tuning.FLAG_NAME}=dot")
  elif setting == "off":
    monkeypatch.setenv(xla_tuning.ENV_VAR, "off")
  else:
    monkeypatch.setattr(xla_tuning, "_backend_started", lambda: True)
  before = os.environ["XLA_FLAGS"]
  assert xla_tuning.apply(measure_if_unknown=True) is None
  assert os.environ["XLA_FLAGS"] == before


def test_a_fresh_process_importing_jaxgen_gets_the_stored_flags(fresh):
  (fresh / "xla_cpu_tuning.json").write_text(json.dumps(
      {xla_tuning.machine_key(): {"use_candidate": True, "default_ms": 9.0, "candidate_ms": 1.0}}))
  env = dict(os.environ, JAXGEN_CACHE=str(fresh), XLA_FLAGS="")
  out = subprocess.run([sys.executable, "-c", "import os, jaxgen; print(os.environ['XLA_FLAGS'])"],
                       env=env, capture_output=True, text=True, check=True, timeout=120)
  assert out.stdout.strip() == xla_tuning.CANDIDATE
