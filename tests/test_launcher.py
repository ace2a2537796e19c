"""The launcher contract, end to end in subprocesses: train, kill -9, resume, sample."""

import json
import os
import signal
import subprocess
import sys
import time

import chex
import numpy as np
import pytest

from tests.helpers import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Single device in the subprocesses: the batch of the tiny configs must not depend on it.
ENV = {**os.environ, "XLA_FLAGS": "", "PYTHONPATH": ROOT}
TRAIN = [sys.executable, "-m", "experiments.main", "--config=experiments/configs/vae.py:tiny",
         "--config.num_train_steps=60", "--config.checkpoint_every_steps=10",
         "--config.eval_every_steps=1000", "--config.log_every_steps=20"]


def _final_eval(workdir) -> dict:
  lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  return [l for l in lines if l["split"] == "eval"][-1]


def _params(workdir):
  """The trained parameters of a workdir, restored on this process's devices."""
  import jax
  from jaxgen.train.restore import restore_trained
  return jax.tree.map(np.asarray, jax.device_get(restore_trained(workdir).state.params))


def _run(args, env=None):
  return subprocess.run(args, cwd=ROOT, env=env or ENV, capture_output=True, text=True,
                        timeout=600)


@pytest.mark.slow
def test_kill_minus_nine_then_rerun_matches_uninterrupted_run(tmp_path):
  full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
  done = _run(TRAIN + [f"--workdir={full}"])
  assert done.returncode == 0, done.stderr[-2000:]
  assert "metrics.jsonl" in done.stdout

  proc = subprocess.Popen(TRAIN + [f"--workdir={cut}"], cwd=ROOT, env=ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  first = os.path.join(cut, "checkpoints", "10")
  deadline = time.time() + 300
  while not os.path.isdir(first) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  steps = [int(d) for d in os.listdir(os.path.join(cut, "checkpoints")) if d.isdigit()]
  assert max(steps) < 60, "the run finished before it could be killed"

  resumed = _run(TRAIN + [f"--workdir={cut}"])
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "resuming from step" in resumed.stdout
  assert _final_eval(cut) == _final_eval(full)
  logged = [(l["step"], l["split"]) for l in map(json.loads, open(os.path.join(cut, "metrics.jsonl")))]
  assert len(logged) == len(set(logged)), "steps repeated after the resume are logged once"

  out = tmp_path / "S.npz"
  sampled = _run([sys.executable, "-m", "experiments.sample", f"--workdir={full}",
                  "--num_samples=64", f"--output={out}"])
  assert sampled.returncode == 0, sampled.stderr[-2000:]
  images = np.load(out)["images"]
  assert images.shape == (64, 28, 28, 1) and images.dtype == np.uint8
  assert os.path.exists(tmp_path / "S.png")


@pytest.mark.slow
def test_sigterm_saves_the_step_in_flight_exits_75_and_resumes_exactly(tmp_path):
  full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
  done = _run(TRAIN + [f"--workdir={full}"])
  assert done.returncode == 0, done.stderr[-2000:]
  proc = subprocess.Popen(TRAIN + [f"--workdir={cut}"], cwd=ROOT, env=ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  first = os.path.join(cut, "checkpoints", "10")
  deadline = time.time() + 300
  while not os.path.isdir(first) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.02)
  proc.send_signal(signal.SIGTERM)  # as SLURM's --signal or a spot VM's notice
  _, stderr = proc.communicate(timeout=300)
  assert proc.returncode == 75, stderr[-2000:]
  [line] = [l for l in stderr.splitlines() if l.startswith("preempted:")]
  stopped = int(line.split("stopped at step ")[1].split()[0])
  assert "SIGTERM" in line and 10 <= stopped < 60
  steps = [int(d) for d in os.listdir(os.path.join(cut, "checkpoints")) if d.isdigit()]
  assert max(steps) == stopped  # saved where it stopped, not at the last periodic checkpoint
  resumed = _run(TRAIN + [f"--workdir={cut}"])
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert f"resuming from step {stopped}" in resumed.stdout
  assert _final_eval(cut) == _final_eval(full)


@pytest.mark.slow
def test_a_run_checkpointed_on_four_devices_resumes_on_two_and_on_one(tmp_path):
  """Elastic resume: the global batch and the data order depend on the step alone, and the
  checkpoint is resharded on restore, so a run moved to fewer devices ends where it would
  have on the same four (to the rounding of reductions split differently)."""
  devices = lambda n: {**ENV, "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"}
  full = str(tmp_path / "full")
  done = _run(TRAIN + [f"--workdir={full}"], devices(4))
  assert done.returncode == 0, done.stderr[-2000:]
  for count in (2, 1):
    moved = str(tmp_path / f"moved_to_{count}")
    first = _run(TRAIN + [f"--workdir={moved}", "--config.num_train_steps=30"], devices(4))
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = _run(TRAIN + [f"--workdir={moved}"], devices(count))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from step 30" in resumed.stdout
    # The parameters (the evaluation's own sampling may split its draws by device).
    chex.assert_trees_all_close(_params(moved), _params(full), rtol=1e-3, atol=1e-5)


def test_bad_flags_give_one_line_errors(tmp_path):
  for args, expected in [
      (["--config=experiments/configs/vae.py:tiny", "--config.nope=1"], "unknown config key"),
      (["--config=experiments/configs/missing.py"], "cannot load --config"),
      (["--config=experiments/configs/vae.py:tiny", "--config.dataset=nonsense_set"],
       "unknown dataset 'nonsense_set'"),
  ]:
    result = _run([sys.executable, "-m", "experiments.main", f"--workdir={tmp_path}"] + args)
    assert result.returncode == 2
    errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], result.stderr[-1000:]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_two_processes_match_one_process_and_resume_after_a_kill(tmp_path):
  """The multi-host path (jax.distributed, per-process batch slices) on one machine: two
  processes of one device each end where one process of two devices ends, and a two-process
  job killed with SIGKILL after its first checkpoint (the whole job, as a scheduler does when
  a host dies) resumes on rerun and still ends there."""
  config = ["--config=experiments/configs/classifier.py:tiny", "--config.num_train_steps=60",
            "--config.eval_every_steps=20", "--config.checkpoint_every_steps=10"]
  single = _run([sys.executable, "-m", "experiments.main", f"--workdir={tmp_path / 'one'}"] + config,
                env={**ENV, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
  assert single.returncode == 0, single.stderr[-2000:]
  env = {**ENV, "PYTHON": sys.executable}
  launch = lambda workdir: ["bash", "launch/local_multiprocess.sh", "2",
                            f"--workdir={workdir}"] + config
  multi = subprocess.run(launch(tmp_path / "two"), cwd=ROOT, capture_output=True, text=True,
                         timeout=600, env={**env, "JAXGEN_COORDINATOR_PORT": free_port()})
  assert multi.returncode == 0, multi.stderr[-2000:]
  assert _final_eval(tmp_path / "two") == _final_eval(tmp_path / "one")

  cut = tmp_path / "cut"
  job = subprocess.Popen(launch(cut), cwd=ROOT, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**env, "JAXGEN_COORDINATOR_PORT": free_port()})
  first = cut / "checkpoints" / "10"
  deadline = time.time() + 300
  while not first.is_dir() and job.poll() is None and time.time() < deadline:
    time.sleep(0.02)
  os.killpg(job.pid, signal.SIGKILL)  # the launcher and both training processes
  job.wait()
  steps = [int(d) for d in os.listdir(cut / "checkpoints") if d.isdigit()]
  assert steps and max(steps) < 60, "the job finished before it could be killed"
  resumed = subprocess.run(launch(cut), cwd=ROOT, capture_output=True, text=True,
                           timeout=600, env={**env, "JAXGEN_COORDINATOR_PORT": free_port()})
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "resuming from step" in resumed.stdout + resumed.stderr
  assert _final_eval(cut) == _final_eval(tmp_path / "one")
  logged = [(l["step"], l["split"]) for l in map(json.loads, open(cut / "metrics.jsonl"))]
  assert len(logged) == len(set(logged)), "steps repeated after the resume are logged once"
