"""The alternated speed record of code models: references per group, calls and FLOPs an image."""

import json
import os
import subprocess
import sys

import pytest

from experiments import tables
from experiments.bench import alternate
from jaxgen.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "XLA_FLAGS": "", "PYTHONPATH": ROOT}


def test_each_entry_divides_by_the_latest_reference_before_it():
  names = ["ar_49", "mg_49", "ar_196", "mg4_196", "mg8_196"]
  assert alternate.ratio_references(names, ["ar_49", "ar_196"]) == {
      "ar_49": "ar_49", "mg_49": "ar_49", "ar_196": "ar_196", "mg4_196": "ar_196",
      "mg8_196": "ar_196"}
  assert set(alternate.ratio_references(names, []).values()) == {"ar_49"}
  with pytest.raises(UserError, match="--reference names no entry: ar_9"):
    alternate.ratio_references(names, ["ar_9"])


def _train(workdir, config, *overrides):
  done = subprocess.run([sys.executable, "-m", "experiments.main", f"--config={config}:tiny",
                         f"--workdir={workdir}", "--config.num_train_steps=1",
                         "--config.fcd_num_samples=0", *overrides],
                        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_crossover_record_has_calls_flops_and_ratios_within_each_length(tmp_path):
  """Runs stopped after one step, as the crossover record times them: the baseline makes one
  call per code, MaskGIT one per step; FLOPs grow with MaskGIT's steps; each group's ratios
  divide by its own baseline; the table shows it all."""
  tok, ar, mg = (str(tmp_path / n) for n in ("vqvae", "ar", "mg"))
  _train(tok, "experiments/configs/vqvae.py")
  _train(ar, "experiments/configs/maskgit_ar.py", f"--config.tokenizer_workdir={tok}")
  _train(mg, "experiments/configs/maskgit.py", f"--config.tokenizer_workdir={tok}")
  out = str(tmp_path / "results")
  done = subprocess.run(
      [sys.executable, "-m", "experiments.bench.speed_compare", "--name=cross",
       f"--results_dir={out}", "--reps=1", "--batch_sizes=1,2", f"--entry=ar={ar}",
       "--reference=ar", f"--entry=mg2={mg}:steps=2", f"--entry=mg4={mg}:steps=4",
       f"--entry=mg_alone={mg}:steps=1", "--reference=mg_alone"],
      cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  record = json.load(open(os.path.join(out, "cross.json")))
  e = record["entries"]
  assert e["mg2"]["network_calls"] == 2 and e["mg4"]["network_calls"] == 4
  assert e["ar"]["network_calls"] == 49  # one call per code: the tiny tokenizer's 7x7 grid
  assert 0 < e["mg2"]["flops_per_image"] < e["mg4"]["flops_per_image"]
  assert all(v["step"] == 1 for v in e.values())
  assert e["ar"]["ratio_to_ar_b1"] == 1.0 and "ratio_to_ar_b2" in e["mg4"]
  assert e["mg_alone"]["ratio_to_mg_alone_b2"] == 1.0
  text = tables.comparison_tables([record])
  assert "| model | setting | step | calls | GFLOPs/image |" in text
  assert "the row's reference: ar, mg_alone" in text
