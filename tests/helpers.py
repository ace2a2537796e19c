"""Shared test helpers: tiny configs, trained runs shared by the xdist workers, stand-in scorers,
and the checks that generated images, counted proportions and label conditioning must pass."""

import importlib

import ml_collections


def tiny_config(name: str, **overrides) -> ml_collections.ConfigDict:
  """experiments/configs/<name>.py at its tiny setting, with `overrides` applied."""
  config = importlib.import_module(f"experiments.configs.{name}").get_config("tiny")
  with config.unlocked():
    for key, value in overrides.items():
      config[key] = value
  return config


def ldm_label_model() -> ml_collections.ConfigDict:
  """The tiny ldm's model in the brain chain's first-stage shape (reproduce's ldm_label, from
  before issue 38's speed sizing): transformers at 8x8 and 4x4, no pooled context."""
  model = tiny_config("ldm").model
  model.attention_resolutions = (8, 4)
  model.pooled_context = False
  return model


def untrained_scorer(dataset: str, data_dir=None, train_split: str = "train",
                     reference_split: str = "validation", kind: str = "cnn"):
  """A Scorer on a freshly initialised tiny classifier, standing in for `trained_scorer` where a
  test checks that figures are reported rather than what they are (it trains nothing)."""
  import jax
  import jax.numpy as jnp
  from jaxgen.data.pipeline import SplitData
  from jaxgen.metrics.quality import Scorer
  from jaxgen.nets.classifier import CNNClassifier
  from jaxgen.train import scorers
  cls_config = tiny_config("classifier")
  model = CNNClassifier(num_classes=10, channels=tuple(cls_config.channels),
                        feature_dim=cls_config.feature_dim)
  # Jitted: an eager init compiles each initializer op on its own (seconds per kernel shape).
  params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
  held_out = scorers.held_out_split(reference_split)
  return Scorer(model, params, SplitData.open(dataset, train_split, data_dir),
                SplitData.open(dataset, reference_split, data_dir),
                SplitData.open(dataset, held_out, data_dir) if held_out else None, num_boot=50)


def trace_train_step_once(monkeypatch, family_module) -> None:
  """Makes `family_module.make_family` return families whose train step fails on a second
  trace (`chex.assert_max_traces`), so a run through the loop proves the step compiles once."""
  import chex
  from jaxgen.train.family import Family
  build = family_module.make_family
  chex.clear_trace_counter()  # the counter is keyed by the function

  def traced_once(config, spec) -> Family:
    family = build(config, spec)
    return Family(**{**family.__dict__,
                     "train_step": chex.assert_max_traces(family.train_step, n=1)})

  monkeypatch.setattr(family_module, "make_family", traced_once)


def changed_leaves(before, after) -> list[bool]:
  """Per leaf of two pytrees of the same structure: whether its values differ."""
  import jax
  import numpy as np
  return [not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after))]


def free_port() -> str:
  """A localhost TCP port the OS reports free now (bound as port 0, then released)."""
  import socket
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return str(s.getsockname()[1])


def shared_run(tmp_path_factory, name: str, config: ml_collections.ConfigDict) -> str:
  """The workdir of `config` trained once per test run and shared by every xdist worker.

  The first worker to ask trains it under a file lock and marks it done; the others wait on the
  lock and reuse it. A session fixture alone would train once per worker. The folder is named by
  `name` and a digest of the config, so two callers never share a run of another config.
  """
  import hashlib
  import os
  from jaxgen import locks
  from jaxgen.train.loop import train_and_evaluate
  base = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    base = base.parent  # the run's folder, above each worker's own (popen-gw0, popen-gw1, ...)
  digest = hashlib.sha256(config.to_json_best_effort(sort_keys=True).encode()).hexdigest()[:12]
  workdir = os.path.join(str(base), "shared_runs", f"{name}_{digest}")
  with locks.exclusive(workdir + ".lock"):
    if not os.path.exists(os.path.join(workdir, "DONE")):
      train_and_evaluate(config, workdir)  # resumes a run a killed worker left half done
      open(os.path.join(workdir, "DONE"), "w").close()
  return workdir


def assert_plausible_images(images, max_mean: float = 0.7) -> None:
  """Generated images [n, h, w, c], n >= 2, that a broken sampler fails: finite and in [0, 1],
  none blank (each has some contrast), not washed out (mean at most `max_mean`: digits are mostly
  dark background) nor mostly saturated at white, and no two the same (the noise reaches every
  sample). A range check alone passes anything clipped."""
  import numpy as np
  images = np.asarray(images, np.float64)
  assert images.ndim == 4 and len(images) >= 2, images.shape
  assert np.all(np.isfinite(images)) and images.min() >= 0.0 and images.max() <= 1.0
  flat = images.reshape(len(images), -1)
  # No blank image (a 30-step autoencoder's prior samples are faint blobs: std 0.015 seen).
  assert np.all(flat.std(axis=1) > 0.005), flat.std(axis=1)
  assert 0.01 < flat.mean() < max_mean, flat.mean()
  assert np.mean(flat >= 1.0) < 0.5, np.mean(flat >= 1.0)  # not saturated white
  gaps = np.abs(flat[:, None, :] - flat[None, :, :]).max(axis=-1)  # [n, n]
  assert np.all(gaps[~np.eye(len(flat), dtype=bool)] > 1e-3), "two samples are identical"


def assert_proportion_with_interval(record: dict, key: str, n: int, interval: bool = True) -> None:
  """`record[key]` is a proportion of `n` (a whole number of them: the figure was counted over
  the items it claims, not merely clipped into [0, 1]) and, with `interval`, its 95% Wilson
  interval `key`_ci95_low/high is the one recomputed from that count."""
  from jaxgen.metrics.intervals import wilson_interval
  value = float(record[key])
  hits = round(value * n)
  assert abs(value * n - hits) < 1e-6 * n, (key, value, n)
  if interval:
    low, high = wilson_interval(hits, n)
    assert abs(record[f"{key}_ci95_low"] - low) < 1e-6, (key, record[f"{key}_ci95_low"], low)
    assert abs(record[f"{key}_ci95_high"] - high) < 1e-6, (key, record[f"{key}_ci95_high"], high)


def assert_labels_condition(sample, num: int = 4, a: int = 3, b: int = 7) -> None:
  """`sample(labels [num]) -> images [num, h, w, c]`, drawn from one fixed key each call, is
  conditioned by its labels: the same labels give the same images, other labels other images,
  and each image follows its own label alone (row i of a mixed batch is row i of the batch
  that gives every row row i's label)."""
  import jax.numpy as jnp
  import numpy as np
  first, other = (np.asarray(sample(jnp.full((num,), c, jnp.int32))) for c in (a, b))
  np.testing.assert_array_equal(first, np.asarray(sample(jnp.full((num,), a, jnp.int32))))
  per_row = np.abs(first - other).reshape(num, -1).max(axis=1)
  assert np.all(per_row > 1e-3), f"labels {a} and {b} gave the same image: {per_row}"
  mixed = np.asarray(sample(jnp.array([a, b] * (num // 2), jnp.int32)))
  np.testing.assert_allclose(mixed[0::2], first[0::2], atol=1e-5)
  np.testing.assert_allclose(mixed[1::2], other[1::2], atol=1e-5)
