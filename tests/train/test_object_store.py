"""A workdir in an object store: a tiny run trains, resumes, samples and reports with its workdir
on an S3-compatible server (moto) on the loopback address, through the same epath/fsspec code a
gs:// workdir takes, and logs what the same run logs in a local folder."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = [sys.executable, "-m", "experiments.main", "--config=experiments/configs/vae.py:tiny",
         "--config.checkpoint_every_steps=10", "--config.eval_every_steps=20",
         "--config.log_every_steps=10"]
BUCKET = "jaxgen-test"


@pytest.fixture(scope="session")
def store_env():
  """A moto S3 server on 127.0.0.1 with one bucket, and the environment that points s3fs (and
  so etils.epath) at it; the server is stopped at the end of the session (one per xdist worker:
  a module scope restarted it on a new port when a worker came back to this module, while the
  process kept a filesystem bound to the old one)."""
  port = free_port()
  server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 60
  while True:
    try:
      socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
      break
    except OSError:
      assert server.poll() is None and time.time() < deadline, "moto did not start"
      time.sleep(0.2)
  env = {**os.environ, "XLA_FLAGS": "", "PYTHONPATH": ROOT,
         "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
         "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
         # Never a real account's settings.
         "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
  import boto3
  boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
               aws_access_key_id="test", aws_secret_access_key="test").create_bucket(Bucket=BUCKET)
  try:
    yield env
  finally:
    server.terminate()
    server.wait(timeout=30)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
  done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  return done


def _train_resume_sample_report(workdir: str, out: str, env: dict[str, str]) -> dict:
  """Trains 20 steps, resumes to 40, samples 16 images and reports; returns what each left."""
  _run(TRAIN + ["--config.num_train_steps=20", f"--workdir={workdir}"], env)
  resumed = _run(TRAIN + ["--config.num_train_steps=40", f"--workdir={workdir}"], env)
  assert "resuming from step 20" in resumed.stdout
  os.makedirs(out)
  _run([sys.executable, "-m", "experiments.sample", f"--workdir={workdir}", "--num_samples=16",
        f"--output={out}/S.npz"], env)
  _run([sys.executable, "-m", "experiments.report", f"--workdir={workdir}", "--num_samples=16",
        "--nll_examples=8", f"--results_dir={out}", "--name=run"], env)
  # The workdir is read back in a subprocess too: this process's environment stays untouched.
  code = ("import json, sys; from jaxgen import provenance, storage; "
          "from jaxgen.train.writers import metric_lines; w = sys.argv[1]; "
          "print(json.dumps({'lines': metric_lines(w), 'provenance': provenance.read(w), "
          "'samples': storage.exists(storage.join(w, 'samples', 'step_000040.png')), "
          "'tensorboard': storage.exists(storage.join(w, 'tensorboard')), "
          "'checkpoints': storage.exists(storage.join(w, 'checkpoints', '40'))}))")
  left = json.loads(_run([sys.executable, "-c", code, workdir], env).stdout.splitlines()[-1])
  with open(os.path.join(out, "run.json")) as f:
    left["record"] = json.load(f)
  left["images"] = np.load(os.path.join(out, "S.npz"))["images"]
  return left


def _without_times(lines: list[str]) -> list[dict]:
  """The logged metrics without the wall-clock seconds, which differ between any two runs."""
  return [{k: v for k, v in json.loads(l).items() if k != "wall_s"} for l in lines]


@pytest.mark.slow
def test_a_run_in_an_object_store_matches_the_same_run_in_a_local_folder(store_env, tmp_path):
  url = f"s3://{BUCKET}/runs/vae"
  store = _train_resume_sample_report(url, str(tmp_path / "store_out"), store_env)
  local = _train_resume_sample_report(str(tmp_path / "local"), str(tmp_path / "local_out"),
                                      store_env)
  assert not os.path.exists(tmp_path / "local" / "metrics.parts")  # local: metrics.jsonl as ever
  assert [(m["step"], m["split"]) for m in _without_times(store["lines"])] == [
      (10, "train"), (20, "train"), (20, "eval"), (30, "train"), (40, "train"), (40, "eval")]
  assert _without_times(store["lines"]) == _without_times(local["lines"])
  assert store["samples"] and store["tensorboard"] and store["checkpoints"]
  assert [e["start_step"] for e in store["provenance"]] == [0, 20]
  np.testing.assert_array_equal(store["images"], local["images"])
  record = store["record"]
  assert record["workdir"] == url and record["train_steps"] == 40 and record["step"] == 40
  varying = {"command", "workdir", "train_wall_s", "trained", "trained_commits", "first_chunk_s"}
  same = lambda r: {k: v for k, v in r.items() if k not in varying and "per_s" not in k}
  assert same(record) == same(local["record"])


@pytest.fixture
def in_store(store_env, monkeypatch):
  """This process pointed at the moto server (for the fast tests that call jaxgen directly)."""
  for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
              "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    monkeypatch.setenv(key, store_env[key])
  # epath keeps one filesystem per protocol for the process, and s3fs caches its instances:
  # both read the endpoint when made, so a filesystem made before this server would miss it.
  import s3fs
  from etils.epath import backend
  backend.fsspec_backend._get_filesystem.cache_clear()  # pylint: disable=protected-access
  s3fs.S3FileSystem.clear_instance_cache()


def test_metric_parts_are_dropped_after_the_resumed_step_and_read_back_in_order(in_store,
                                                                                  tmp_path,
                                                                                  monkeypatch):
  from jaxgen.train.writers import MetricWriter, metric_lines
  monkeypatch.setenv("JAXGEN_CACHE", str(tmp_path))  # the TensorBoard staging folder
  url = f"s3://{BUCKET}/fast/metrics"
  writer = MetricWriter(url)
  for step, split in [(10, "train"), (20, "train"), (20, "eval"), (30, "train")]:
    writer.write(step, split, {"loss": step})
  writer.close()
  assert [(json.loads(l)["step"], json.loads(l)["split"]) for l in metric_lines(url)] == [
      (10, "train"), (20, "train"), (20, "eval"), (30, "train")]
  writer = MetricWriter(url, resume_step=20)  # resumed from the step-20 checkpoint
  writer.write(30, "train", {"loss": 3.0})
  writer.close()
  assert [json.loads(l) for l in metric_lines(url)][-1] == {"step": 30, "split": "train",
                                                            "loss": 3.0}
  assert len(metric_lines(url)) == 4


def test_checkpoint_mirror_copies_finished_steps_and_deletes_dropped_ones(in_store, tmp_path):
  from jaxgen import storage
  from jaxgen.train import checkpoint_store
  url = f"s3://{BUCKET}/fast/checkpoints"
  local = tmp_path / "staging"
  for name in ["10", "20", "30.orbax-checkpoint-tmp-1"]:  # the last: a save still running
    (local / name / "default").mkdir(parents=True)
    (local / name / "default" / "data").write_text(name)
  checkpoint_store.upload(str(local), url)
  assert storage.list_names(url) == ["10", "10.uploaded", "20", "20.uploaded"]
  os.rename(local / "10", local / "10.damaged")  # set aside by a resume
  checkpoint_store.upload(str(local), url)
  assert storage.list_names(url) == ["10.damaged", "10.damaged.uploaded", "20", "20.uploaded"]
  down = tmp_path / "down"
  down.mkdir()
  checkpoint_store.download(url, str(down))
  assert sorted(os.listdir(down)) == ["20"]  # damaged steps stay in the store
  assert (down / "20" / "default" / "data").read_text() == "20"


def test_an_unwritable_store_workdir_is_a_one_line_error(in_store):
  from jaxgen import storage
  from jaxgen.errors import UserError
  with pytest.raises(UserError, match="bucket does not exist"):
    storage.check_writable("s3://no-such-bucket/run")


def test_a_reader_of_a_store_workdir_leaves_the_writers_newer_steps(in_store, tmp_path,
                                                                   monkeypatch):
  """Sampling a run that is still training: the reader's staging copy lacks the steps saved
  since it opened, and closing it must not mirror that older view back."""
  from jaxgen import storage
  from jaxgen.train import checkpoint_store
  from jaxgen.train.checkpoints import Checkpoints
  monkeypatch.setenv("JAXGEN_CACHE", str(tmp_path / "cache"))
  url = f"s3://{BUCKET}/fast/reader"
  (tmp_path / "w" / "10").mkdir(parents=True)
  (tmp_path / "w" / "10" / "data").write_text("10")
  checkpoint_store.upload(str(tmp_path / "w"), storage.join(url, "checkpoints"))
  reader = Checkpoints(url)
  (tmp_path / "w" / "20").mkdir()  # the writer saves step 20 meanwhile
  (tmp_path / "w" / "20" / "data").write_text("20")
  checkpoint_store.upload(str(tmp_path / "w"), storage.join(url, "checkpoints"))
  reader.close()
  assert "20.uploaded" in storage.list_names(storage.join(url, "checkpoints"))
  assert not os.listdir(tmp_path / "cache" / "staging")  # the reader's copy is gone
