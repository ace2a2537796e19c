"""Provenance: the loop writes the training commit; published records need committed code."""

import json
import os

import pytest

from experiments import records
from jaxgen import provenance
from jaxgen.errors import UserError
from jaxgen.train.loop import train_and_evaluate
from tests.helpers import tiny_config


def test_the_loop_appends_the_checkout_state_at_each_start(tmp_path):
  workdir = str(tmp_path / "run")
  train_and_evaluate(tiny_config("classifier", num_train_steps=4, eval_every_steps=4,
                                 checkpoint_every_steps=2), workdir)
  train_and_evaluate(tiny_config("classifier", num_train_steps=6, eval_every_steps=6,
                                 checkpoint_every_steps=2), workdir)  # resumed from step 4
  entries = provenance.read(workdir)
  assert [e["start_step"] for e in entries] == [0, 4]
  here = provenance.checkout_state()
  for e in entries:
    assert e["commit"] == here["commit"] and len(e["commit"]) == 40
    assert e["dirty"] == here["dirty"]
    assert (e["diff_sha256"] is None) == (not e["dirty"])
  # A finished run evaluated again writes no entry: nothing was trained.
  train_and_evaluate(tiny_config("classifier", num_train_steps=6, eval_every_steps=6,
                                 checkpoint_every_steps=2), workdir)
  assert len(provenance.read(workdir)) == 2


def test_published_records_refuse_uncommitted_code(tmp_path, monkeypatch):
  published = os.path.join(records.RESULTS_DIR, "validation")
  clean = {"commit": "a" * 40, "dirty": False, "diff_sha256": None}
  dirty = {"commit": "a" * 40, "dirty": True, "diff_sha256": "b" * 64}
  monkeypatch.setattr(provenance, "checkout_state", lambda: dirty)
  with pytest.raises(UserError, match="uncommitted changes.*--scratch") as error:
    records.check_publishable(published)
  assert "\n" not in str(error.value)
  records.check_publishable(str(tmp_path))  # elsewhere: allowed
  monkeypatch.setattr(provenance, "checkout_state", lambda: clean)
  records.check_publishable(published, [{**clean, "start_step": 0}])
  with pytest.raises(UserError, match="trained .*from uncommitted changes"):
    records.check_publishable(published, [{**clean, "start_step": 0},
                                          {**dirty, "start_step": 100}])
  with pytest.raises(UserError, match="no provenance.json"):
    records.check_publishable(published, [])
  record = records.write({"name": "r"}, str(tmp_path), "cmd")
  assert record["commit"] == "a" * 10 and json.load(open(tmp_path / "r.json")) == record


def test_records_and_pages_do_not_make_a_checkout_dirty(tmp_path, monkeypatch):
  """A reproduce run writes record after record into a clean checkout: those writes (and the
  README's tables) must not refuse the next record; a change to code must."""
  import subprocess
  git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)
  git("init", "-q")
  (tmp_path / "experiments" / "results").mkdir(parents=True)
  (tmp_path / "experiments" / "results" / "a.json").write_text("{}")
  (tmp_path / "README.md").write_text("hi")
  (tmp_path / "code.py").write_text("x = 1")
  git("add", "-A")
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
  monkeypatch.setattr(provenance, "REPO_ROOT", str(tmp_path))
  assert not provenance.checkout_state()["dirty"]
  (tmp_path / "experiments" / "results" / "a.json").write_text('{"fcd": 1}')
  (tmp_path / "README.md").write_text("tables")
  assert not provenance.checkout_state()["dirty"]
  (tmp_path / ".gitignore").write_text("runs/\n")
  git("add", ".gitignore")
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "ignore runs")
  (tmp_path / "runs").mkdir()
  (tmp_path / "runs" / "metrics.jsonl").write_text("{}")  # ignored: not code
  assert not provenance.checkout_state()["dirty"]
  (tmp_path / "new_config.py").write_text("c = 1")  # untracked code: it made the result
  untracked = provenance.checkout_state()
  assert untracked["dirty"]
  (tmp_path / "new_config.py").write_text("c = 2")
  assert provenance.checkout_state()["diff_sha256"] != untracked["diff_sha256"]
  (tmp_path / "new_config.py").unlink()
  # An untracked link to a folder (a venv linked into a clone) is digested by its target.
  (tmp_path / "venv_link").symlink_to(tmp_path / "runs")
  linked = provenance.checkout_state()
  assert linked["dirty"] and linked["diff_sha256"] != untracked["diff_sha256"]
  (tmp_path / "venv_link").unlink()
  (tmp_path / "code.py").write_text("x = 2")
  assert provenance.checkout_state()["dirty"]
