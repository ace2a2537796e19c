"""The train loop end to end: outputs, exact resume, NaN guard and clear errors."""

import json
import os

import jax
import numpy as np
import pytest

from jaxgen.errors import UserError
from jaxgen.train import family as family_lib
from jaxgen.train.checkpoints import Checkpoints
from jaxgen.train.loop import NonFiniteError, check_same_experiment, train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import tiny_config


def _params(workdir):
  return jax.tree.map(np.asarray, jax.device_get(restore_trained(str(workdir)).state.params))


@pytest.mark.slow
def test_vae_run_leaves_metrics_samples_and_checkpoints(tmp_path):
  final = train_and_evaluate(tiny_config("vae"), str(tmp_path))
  lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert {l["split"] for l in lines} == {"train", "eval"}
  assert all("step" in l and "loss" in l for l in lines)
  train_losses = [l["loss"] for l in lines if l["split"] == "train"]
  assert train_losses[-1] < train_losses[0]
  assert os.path.exists(tmp_path / "samples" / "step_000020.png")
  assert os.path.exists(tmp_path / "samples" / "recon_step_000020.png")
  assert Checkpoints(str(tmp_path)).latest_step() == 20
  assert any(f.startswith("events") for f in os.listdir(tmp_path / "tensorboard"))
  assert np.isfinite(final["nll_iw"]) and final["nll_iw"] > 0


def test_resume_ends_with_the_same_parameters(tmp_path):
  config = tiny_config("classifier", num_train_steps=20, checkpoint_every_steps=10)
  full = train_and_evaluate(config, str(tmp_path / "full"))
  # An interrupted run: stopped after its step-10 checkpoint, then rerun with the full budget.
  train_and_evaluate(tiny_config("classifier", num_train_steps=10), str(tmp_path / "cut"))
  resumed = train_and_evaluate(config, str(tmp_path / "cut"))
  assert resumed == full
  jax.tree.map(np.testing.assert_array_equal, _params(tmp_path / "full"), _params(tmp_path / "cut"))


def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
  monkeypatch.setitem(family_lib.REGISTRY, "nan_classifier", "tests.train.nan_family")
  config = tiny_config("classifier", family="nan_classifier", checkpoint_every_steps=5,
                       eval_every_steps=100, log_every_steps=100)
  with config.unlocked():
    config.nan_from_step = 7
  with pytest.raises(NonFiniteError, match="at step 8; the last good checkpoint \\(step 5\\)"):
    train_and_evaluate(config, str(tmp_path))
  ckpt = Checkpoints(str(tmp_path))
  assert ckpt.latest_step() == 5
  state = restore_trained(str(tmp_path)).state
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state.params))


def test_batch_that_does_not_divide_devices_is_a_clear_error(tmp_path):
  with pytest.raises(UserError, match="does not divide evenly over 4 devices"):
    train_and_evaluate(tiny_config("vae", batch_size=30), str(tmp_path))


def _damage(step_dir) -> None:
  """Overwrites a checkpoint's array files with garbage, its metadata left intact."""
  for root, _, files in os.walk(step_dir):
    for name in files:
      if name != "_METADATA" and "commit" not in name:
        with open(os.path.join(root, name), "wb") as f:
          f.write(b"garbage")


def test_a_damaged_checkpoint_is_set_aside_and_the_run_resumes_from_the_one_before(
    tmp_path, capsys):
  config = tiny_config("classifier", num_train_steps=10, checkpoint_every_steps=5)
  train_and_evaluate(config, str(tmp_path / "full"))
  train_and_evaluate(config, str(tmp_path / "cut"))
  _damage(tmp_path / "cut" / "checkpoints" / "10" / "default")
  # The stopping variant refuses and moves nothing.
  with pytest.raises(UserError, match="cannot be restored.*move that folder aside"):
    train_and_evaluate(tiny_config("classifier", num_train_steps=10, checkpoint_every_steps=5,
                                   damaged_checkpoints="stop"), str(tmp_path / "cut"))
  assert os.path.isdir(tmp_path / "cut" / "checkpoints" / "10")
  capsys.readouterr()
  train_and_evaluate(config, str(tmp_path / "cut"))  # by default: back to step 5, redo 6-10
  lines = [l for l in capsys.readouterr().out.splitlines() if "cannot be restored" in l]
  assert len(lines) == 1 and "renamed it 10.damaged" in lines[0]
  assert os.path.isdir(tmp_path / "cut" / "checkpoints" / "10.damaged")  # kept to inspect
  assert Checkpoints(str(tmp_path / "cut")).latest_step() == 10  # saved again
  jax.tree.map(np.testing.assert_array_equal, _params(tmp_path / "full"), _params(tmp_path / "cut"))
  # When no checkpoint can be read (here all damaged; a changed model looks the same), nothing
  # is renamed and the run does not start afresh over them.
  for step in (5, 10):
    _damage(tmp_path / "full" / "checkpoints" / str(step) / "default")
  with pytest.raises(UserError, match="no checkpoint in .* can be restored \\(the newest, 10"):
    train_and_evaluate(tiny_config("classifier", num_train_steps=20, checkpoint_every_steps=5),
                       str(tmp_path / "full"))
  assert sorted(os.listdir(tmp_path / "full" / "checkpoints")) == ["10", "5"]


def test_resuming_under_a_different_experiment_is_refused(tmp_path):
  train_and_evaluate(tiny_config("classifier", num_train_steps=10), str(tmp_path))
  saved = open(tmp_path / "config.json").read()
  with pytest.raises(UserError, match="different experiment \\(feature_dim: 32 -> 64\\)"):
    train_and_evaluate(tiny_config("classifier", num_train_steps=20, feature_dim=64), str(tmp_path))
  assert open(tmp_path / "config.json").read() == saved  # nothing overwritten
  # A longer budget is the same experiment: it resumes.
  train_and_evaluate(tiny_config("classifier", num_train_steps=20), str(tmp_path))
  assert Checkpoints(str(tmp_path)).latest_step() == 20


def test_a_new_eval_sampler_resumes_a_new_model_does_not(tmp_path):
  saved = tiny_config("ddpm")
  (tmp_path / "checkpoints").mkdir()
  (tmp_path / "config.json").write_text(saved.to_json_best_effort())
  resampled = tiny_config("ddpm")
  resampled.sampler.eta, resampled.sampler.kind = 1.0, "ddpm"
  check_same_experiment(resampled, str(tmp_path))  # no error
  wider = tiny_config("ddpm")
  wider.model.base_channels *= 2
  with pytest.raises(UserError, match="different experiment \\(model: "):
    check_same_experiment(wider, str(tmp_path))


def test_unwritable_workdir_and_unknown_names_are_clear_errors(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("x")
  with pytest.raises(UserError, match="cannot write to workdir"):
    train_and_evaluate(tiny_config("vae"), str(blocker / "sub"))
  with pytest.raises(UserError, match="unknown dataset 'no_such_dataset'.*embedded_digits"):
    train_and_evaluate(tiny_config("vae", dataset="no_such_dataset"), str(tmp_path / "a"))
  with pytest.raises(UserError, match="unknown model family"):
    train_and_evaluate(tiny_config("vae", family="nope"), str(tmp_path / "b"))
  with pytest.raises(UserError, match="config.variant='vea' is not one of ae, vae"):
    train_and_evaluate(tiny_config("vae", variant="vea"), str(tmp_path / "c"))


def test_all_finite_finds_one_bad_value_among_mixed_leaves():
  """The checkpoint guard's check: one NaN or Inf anywhere in a float leaf (float32 or
  bfloat16) makes it false; integer leaves are ignored; an empty tree is finite."""
  import jax.numpy as jnp
  from jaxgen.train.loop import _all_finite
  tree = {"w": jnp.ones((3, 4)), "b": jnp.zeros((5,), jnp.bfloat16), "n": jnp.arange(3)}
  assert bool(_all_finite(tree)) and bool(_all_finite({}))
  assert not bool(_all_finite({**tree, "w": tree["w"].at[2, 1].set(jnp.nan)}))
  assert not bool(_all_finite({**tree, "b": tree["b"].at[4].set(jnp.inf)}))
