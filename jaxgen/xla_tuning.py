"""XLA CPU settings measured on the machine they run on: today, whether convolutions go to YNNPACK.

Why (issue 12, experiments/bench/results/profile_steps*.txt): jaxlib 0.10 hands convolutions to
YNNPACK fusions by default. On an AVX2-only AMD EPYC that route's weight gradient of a 3x3
convolution at b64 28x28 32->32 took 358 ms against 21 ms through XLA's own (Eigen) kernels,
and the default DDPM train step took 5.5 s against 1.3 s. Whether YNNPACK's kernels or Eigen's
are faster depends on the processor (an AVX-512 machine measured YNNPACK's at 61-79 GFLOP/s),
so instead of hard-wiring a flag, `apply()` times a small convolution training step both ways
once per machine, in two short subprocesses (about 10 s), stores the result in
`$JAXGEN_CACHE/xla_cpu_tuning.json` keyed by the processor and jax version, and from then on
sets the faster setting in `XLA_FLAGS` before JAX starts its CPU backend.

Opt out with `JAXGEN_XLA_TUNING=off`; an `XLA_FLAGS` that already names the YNN fusion types is
left as the user wrote it. `python -m jaxgen.xla_tuning` measures again and prints both timings.
"""

import glob
import hashlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

from jaxgen import user_cache

# The one candidate: XLA's default fusion types, less YNNPACK's individual convolutions.
FLAG_NAME = "xla_cpu_experimental_ynn_fusion_type"
CANDIDATE = f"--{FLAG_NAME}=-individual_convolution"
ENV_VAR = "JAXGEN_XLA_TUNING"  # "off" disables the whole module
# The candidate must be at least this much faster to be used (timing noise on shared cores).
WIN_FACTOR = 0.9
_PROBE_TIMEOUT_S = 300


def machine_key() -> str:
  """A hash of what the measurement depends on: processor model and ISA flags, jax version."""
  text = platform.processor()
  try:
    with open("/proc/cpuinfo") as f:
      text = "\n".join(sorted({l for l in f.read().splitlines() if l.startswith(("model name", "flags"))}))
  except OSError:
    pass
  # jaxlib's version from its dist-info folder's name: importlib.metadata costs ~30 ms to import,
  # and `import jaxgen` (the fractal CLI) should stay quick.
  spec = importlib.util.find_spec("jaxlib")
  if spec and spec.origin:
    site = os.path.dirname(os.path.dirname(spec.origin))
    text += "\n" + " ".join(sorted(glob.glob(os.path.join(site, "jaxlib-*.dist-info"))))
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cache_file() -> str:
  return os.path.join(user_cache.root(), "xla_cpu_tuning.json")


def stored_decision() -> dict | None:
  """This machine's stored measurement {"use_candidate", "default_ms", "candidate_ms"}, or None."""
  try:
    with open(_cache_file()) as f:
      return json.load(f).get(machine_key())
  except (OSError, ValueError, AttributeError):
    return None


def _store(decision: dict) -> None:
  """Adds this machine's decision to the cache file (write, then rename over the old one)."""
  path = _cache_file()
  try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
      with open(path) as f:
        data = json.load(f)
    except (OSError, ValueError):
      data = {}
    data[machine_key()] = decision
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
      json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
  except OSError:
    pass  # an unwritable cache only means measuring again next time


def probe_step_ms(reps: int = 3) -> float:
  """Median ms of one convolution training step shaped like jaxgen's defaults (this process).

  3x3 convolutions at b64 28x28 (1->32, 32->32), a 4x4/2 (32->64), 3x3 at 14x14 64->64, a 3x3/2
  to 7x7 and 3x3 at 7x7: forward, input and weight gradients, as the U-Net, DCGAN and VAE use.
  """
  import jax
  import jax.numpy as jnp
  from jax import lax

  dn = ("NHWC", "HWIO", "NHWC")
  layers = [((3, 3, 1, 32), 1), ((3, 3, 32, 32), 1), ((4, 4, 32, 64), 2), ((3, 3, 64, 64), 1),
            ((3, 3, 64, 64), 2), ((3, 3, 64, 64), 1)]
  keys = jax.random.split(jax.random.PRNGKey(0), len(layers) + 1)
  kernels = [jax.random.normal(k, shape) * 0.1 for k, (shape, _) in zip(keys, layers)]
  x = jax.random.normal(keys[-1], (64, 28, 28, 1))

  def loss(kernels, x):
    h = x
    for w, (_, stride) in zip(kernels, layers):
      h = jnp.tanh(lax.conv_general_dilated(h, w, (stride, stride), "SAME", dimension_numbers=dn))
    return jnp.mean(h**2)

  step = jax.jit(jax.grad(loss, argnums=(0, 1)))
  jax.block_until_ready(step(kernels, x))
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    jax.block_until_ready(step(kernels, x))
    times.append(time.perf_counter() - t0)
  return sorted(times)[len(times) // 2] * 1e3


def _run_probe(extra_flags: str) -> float:
  """probe_step_ms() in a fresh process whose XLA_FLAGS get `extra_flags` (flags are per process)."""
  env = dict(os.environ, JAX_PLATFORMS="cpu", **{ENV_VAR: "off"})
  env["XLA_FLAGS"] = " ".join(f for f in (os.environ.get("XLA_FLAGS", ""), extra_flags) if f)
  out = subprocess.run([sys.executable, "-m", "jaxgen.xla_tuning", "--probe"], env=env,
                       capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, check=True)
  return float(out.stdout.strip().splitlines()[-1])


def measure() -> dict:
  """Times the probe with XLA's default and with the candidate flag; stores the result.

  One run each, and a second pair (best of two) only when they are within 25% of each other.
  """
  default_ms, candidate_ms = [_run_probe("")], [_run_probe(CANDIDATE)]
  if 0.8 < candidate_ms[0] / default_ms[0] < 1.25:
    default_ms.append(_run_probe(""))
    candidate_ms.append(_run_probe(CANDIDATE))
  decision = {"default_ms": round(min(default_ms), 2), "candidate_ms": round(min(candidate_ms), 2),
              "candidate": CANDIDATE}
  decision["use_candidate"] = decision["candidate_ms"] < WIN_FACTOR * decision["default_ms"]
  _store(decision)
  return decision


def _backend_started() -> bool:
  if "jax" not in sys.modules:
    return False
  try:
    from jax._src import xla_bridge
    return bool(xla_bridge.backends_are_initialized())
  except Exception:  # noqa: BLE001 (a private API: if it moved, assume it may have started)
    return True


def apply(measure_if_unknown: bool) -> dict | None:
  """Puts this machine's measured XLA CPU flags into XLA_FLAGS; returns the decision used.

  Call before JAX's backend starts (before the first array is created). With
  `measure_if_unknown`, a machine seen for the first time is measured now (about 10 s, once;
  concurrent callers wait for one measurement); otherwise it keeps XLA's defaults until
  something measures it. Does nothing when JAXGEN_XLA_TUNING=off, when XLA_FLAGS already sets
  the YNN fusion types, off Linux-like CPUs, or once the backend has started.
  """
  if os.environ.get(ENV_VAR, "").lower() == "off" or FLAG_NAME in os.environ.get("XLA_FLAGS", ""):
    return None
  if os.environ.get("JAX_PLATFORMS", "cpu").split(",")[0] not in ("", "cpu") or _backend_started():
    return None
  decision = stored_decision()
  if decision is None and measure_if_unknown:
    from jaxgen.locks import exclusive
    with exclusive(os.path.join(user_cache.root(), "xla_cpu_tuning.lock")):
      decision = stored_decision()
      if decision is None:
        try:
          decision = measure()
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
          return None  # no measurement: XLA's defaults, exactly as without this module
  if decision and decision.get("use_candidate"):
    os.environ["XLA_FLAGS"] = " ".join(f for f in (os.environ.get("XLA_FLAGS", ""), CANDIDATE) if f)
  return decision


def main() -> None:
  """`--probe`: print probe_step_ms() (used by measure()); otherwise measure and print the decision."""
  if "--probe" in sys.argv:
    print(f"{probe_step_ms():.3f}")
    return
  print(json.dumps({"machine": machine_key(), **measure()}))


if __name__ == "__main__":
  main()
