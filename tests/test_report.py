"""experiments/report.py: a record per trained model from the test split, with error bars, and
tables made only from records."""

import json
import math
import os

import jax
import pytest

from experiments import publish, report, tables
from jaxgen.data.pipeline import SplitData
from jaxgen.errors import UserError
from jaxgen.metrics.quality import Scorer
from jaxgen.nets.classifier import CNNClassifier
from jaxgen.train import loop, scorers
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import assert_proportion_with_interval, shared_run, tiny_config


@pytest.fixture(scope="session")
def trained(tmp_path_factory, digit_scorer_workdir):
  """A tiny CVAE and the suite's tiny digit classifier standing in for the cached scorer."""
  root = tmp_path_factory.mktemp("report")
  cls = restore_trained(digit_scorer_workdir)
  model = CNNClassifier(num_classes=10, channels=tuple(cls.config.channels),
                        feature_dim=cls.config.feature_dim)
  requested = []

  def tiny_scorer(dataset, data_dir=None, train_split="train", reference_split="validation",
                  kind="cnn"):
    requested.append(reference_split)
    held_out = scorers.held_out_split(reference_split)
    return Scorer(model, cls.state.params, SplitData.open(dataset, train_split),
                  SplitData.open(dataset, reference_split),
                  SplitData.open(dataset, held_out) if held_out else None, num_boot=50)

  workdir = shared_run(tmp_path_factory, "report_cvae", tiny_config("cvae"))
  return workdir, tiny_scorer, requested, root


@pytest.mark.slow
def test_record_from_the_test_split_with_intervals(trained, monkeypatch, tmp_path):
  workdir, tiny_scorer, requested, _ = trained
  monkeypatch.setattr(loop, "trained_scorer", tiny_scorer)
  results = str(tmp_path / "results")
  record = report.report_workdir(workdir, 40, 16, None, None, 0, results, "cvae_tiny", "cmd")
  assert requested[-1] == "test"  # the report, and only it, reads test
  on_disk = json.load(open(os.path.join(results, "cvae_tiny.json")))
  assert on_disk == json.loads(json.dumps(record))
  assert os.path.exists(os.path.join(results, "cvae_tiny.png"))
  assert record["split"] == "test" and record["step"] == record["train_steps"] == 20
  assert record["train_wall_s"] > 0 and record["images_per_s"] > 0
  assert record["fcd_ci95_low"] < record["fcd"] < record["fcd_ci95_high"]
  assert record["fcd_floor"] < record["fcd_ceiling"] and record["fcd_floor_sd"] > 0
  assert record["cond_accuracy_ci95_low"] <= record["cond_accuracy"] \
      <= record["cond_accuracy_ci95_high"]
  nll = record["nll"]  # the CVAE's likelihood is conditional and says so
  assert nll["conditional"] and nll["unit"] == "nats" and nll["images"] == 16
  assert math.isfinite(nll["value"]) and 0 < nll["se"] < 0.2 * nll["value"]
  assert len(nll["per_image"]) == 16 and sum(nll["per_image"]) / 16 == pytest.approx(nll["value"],
                                                                                       abs=1e-3)
  # More samples than held-out digits: the floor cannot be measured at that n.
  with pytest.raises(UserError, match="held-out"):
    report.report_workdir(workdir, 501, 0, None, None, 0, results, "x", "cmd")
  with pytest.raises(UserError, match="ddpm-family"):
    report.report_workdir(workdir, 10, 0, "ddim:5", None, 0, results, "x", "cmd")


@pytest.mark.slow
def test_tables_hold_only_what_records_hold(trained, monkeypatch, tmp_path):
  workdir, tiny_scorer, _, _ = trained
  monkeypatch.setattr(loop, "trained_scorer", tiny_scorer)
  results = str(tmp_path / "results")
  record = report.report_workdir(workdir, 20, 8, None, None, 0, results, "cvae_a", "cmd")
  # A second record of the same model with another seed: its paired difference is reported.
  report.report_workdir(workdir, 20, 8, None, None, 1, results, "cvae_b", "cmd")
  root = tmp_path / "checkout"  # a README and every page with results, markers only
  for page in ("README.md", publish.ALL_RESULTS_PAGE, *publish.PAGES):
    (root / page).parent.mkdir(parents=True, exist_ok=True)
    begin, end = ((publish.HEADLINE_BEGIN, publish.HEADLINE_END) if page == "README.md"
                  else (publish.BEGIN, publish.END))
    (root / page).write_text(f"intro\n{begin}\nold table\n{end}\noutro\n")
  text = publish.write_tables(results, update_readme=True, root=str(root))
  assert "| cvae_a |" in text and f"{record['fcd']:.1f} ±" in text
  assert "-log p(x\\|y)" in text and "Autoencoders" in text and "Diffusion" not in text
  assert "NLL cvae_a - cvae_b:" in text and "paired over the same 8 test images" in text
  for page in ("README.md", publish.ALL_RESULTS_PAGE, *publish.PAGES):
    written = (root / page).read_text()
    assert "old table" not in written and written.startswith("intro\n") and "outro" in written
  # The VAE family's page and the page of all results hold its tables; no other page does.
  assert "| cvae_a |" in (root / "docs/families/autoencoders.md").read_text()
  assert "| cvae_a |" in (root / publish.ALL_RESULTS_PAGE).read_text()
  assert "| cvae_a |" not in (root / "docs/families/diffusion.md").read_text()
  assert "| record | family page |" in (root / "README.md").read_text()
  assert os.path.exists(os.path.join(results, "mosaic.png"))
  (root / "docs/families/gans.md").write_text("no markers\n")
  with pytest.raises(UserError, match="gans.md has no"):
    publish.write_tables(results, update_readme=True, root=str(root))


def test_sampler_grid_puts_each_setting_in_its_cell():
  """DDIM's Table 1 shape from one model's records: steps by eta (and ancestral), per spacing;
  fewer than three settings of a model make no grid."""
  def record(kind, steps, eta, fcd, spacing="linspace"):
    return {"workdir": "/runs/ddpm", "num_samples": 500, "fcd": fcd, "fcd_sd": 1.0,
            "fcd_floor": 20.0, "sampler_setting": {"kind": kind, "steps": steps, "eta": eta,
                                                   "spacing": spacing}}
  rows = [record("ddim", 50, 0.0, 60.0), record("ddim", 50, 1.0, 70.0),
          record("ddim", 10, 0.0, 90.0), record("ddpm", 1000, 0.0, 50.0),
          record("ddim", 50, 0.0, 55.0, "quadratic")]
  text = "\n".join(tables.sampler_grids(rows, ""))
  assert text.count("**Sampler grid: ddpm**") == 1 and "linspace spacing" in text
  assert "| steps | DDIM eta=0 | DDIM eta=1 | DDPM (ancestral) |" in text
  assert "| 50 | 60.0 ± 2.0 | 70.0 ± 2.0 |  |" in text and "| 10 | 90.0 ± 2.0 |  |  |" in text
  assert "| 1000 |  |  | 50.0 ± 2.0 |" in text and "55.0" not in text


def test_paired_differences_cancel_what_the_images_share():
  import numpy as np
  rng = np.random.default_rng(0)
  difficulty = rng.normal(90.0, 20.0, 300)  # per test digit, shared by both models
  def record(name, shift):
    values = difficulty + shift + rng.normal(0, 0.5, 300)
    return {"name": name, "nll": {"per_image": list(values), "unit": "nats",
                                  "conditional": False, "images": 300}}
  (line,) = tables.paired_nll_differences([record("b", 0.0), record("a", 1.0)])
  diff, half = map(float, line.split(": ")[1].split(" nats")[0].split(" ± "))
  # The unpaired SE of either mean is about 20 / sqrt(300) = 1.15; the paired one 0.04.
  assert abs(diff - 1.0) < 3 * half / 1.96 and half < 0.1
  conditional = record("c", 0.0)
  conditional["nll"]["conditional"] = True  # -log p(x|y) never pairs with -log p(x)
  assert len(tables.paired_nll_differences([record("b", 0.0), conditional])) == 0


@pytest.mark.slow
def test_classifier_record_counts_the_whole_test_split(digit_scorer_workdir, tmp_path):
  """A classifier's record: accuracy over every test digit, as its own predictions count it."""
  import numpy as np
  cls = restore_trained(digit_scorer_workdir)
  results = str(tmp_path / "results")
  record = report.report_workdir(digit_scorer_workdir, 10, 0, None, None, 0, results, "cls_tiny",
                                 "cmd")
  test = SplitData.open("embedded_digits", "test").arrays()
  model = CNNClassifier(num_classes=10, channels=tuple(cls.config.channels),
                        feature_dim=cls.config.feature_dim)
  logits = model.apply({"params": cls.state.params}, test["image"])
  correct = int(np.sum(np.argmax(logits, -1) == test["label"]))
  assert record["num_test"] == len(test["label"]) and record["split"] == "test"
  assert record["accuracy"] == pytest.approx(correct / len(test["label"]), abs=1e-9)
  assert record["accuracy_ci95_low"] < record["accuracy"] < record["accuracy_ci95_high"]
  assert record["train_steps"] == 60 and record["model"] == "cnn"
  assert not os.path.exists(os.path.join(results, "cls_tiny.png"))
  text = publish.write_tables(results, update_readme=False)
  assert "**Classifiers" in text and "| cls_tiny | cnn | 60 (" in text


@pytest.mark.slow
def test_tokenizer_record_scores_reconstructions_of_the_test_split(trained, monkeypatch,
                                                                    tmp_path):
  """A tokenizer's record: PSNR recomputed from its own reconstructions, the scorer's figures on
  them, codebook usage over the split, a grid, and a Tokenizers table."""
  import numpy as np
  from jaxgen.tokens.family import build_tokenizer
  _, tiny_scorer, _, _ = trained
  monkeypatch.setattr(loop, "trained_scorer", tiny_scorer)
  workdir = str(tmp_path / "vqvae")
  train_and_evaluate(tiny_config("vqvae", num_train_steps=20), workdir)
  results = str(tmp_path / "results")
  record = report.report_workdir(workdir, 10, 0, None, None, 0, results, "vq_tiny", "cmd")
  vq = restore_trained(workdir)
  tok = build_tokenizer(vq.config, vq.spec)
  test = SplitData.open("embedded_digits", "test").arrays()["image"]
  recon = np.asarray(jax.jit(lambda s, x: tok.decode(s, tok.encode(s, x)))(vq.state, test))
  mse = np.mean(np.square(recon - test), axis=(1, 2, 3))
  assert record["num_test"] == len(test)
  assert record["psnr"] == pytest.approx(np.mean(10 * np.log10(1 / mse)), abs=1e-3)
  assert record["recon_fcd_floor"] < record["recon_fcd_ceiling"]
  # FCD against the other half of test, which holds none of the scored reconstructions'
  # originals; the scorer-feature distance to each original is paired per image.
  assert record["fcd_reference"] == "test[500:]" and record["num_scored"] <= 500
  assert record["feature_distance"] > 0 and record["feature_distance_se"] > 0
  assert 0 < record["codebook_usage"] <= 1
  # The scorer reads as many reconstructions as there are held-out digits for the floor at n.
  held_out = len(SplitData.open("embedded_digits", "validation").arrays()["image"])
  assert_proportion_with_interval(record, "recon_cond_accuracy", min(len(test), held_out))
  assert os.path.exists(os.path.join(results, "vq_tiny.png"))
  text = publish.write_tables(results, update_readme=False)
  assert "**Tokenizers and autoencoders" in text and "| vq_tiny | 20 (" in text


def test_a_published_record_needs_a_finished_run(tmp_path):
  """A run stopped at step 68 of 1800 (preempted, killed) is refused for experiments/results/
  with one line, and reported anywhere else."""
  from types import SimpleNamespace
  from experiments import records
  stopped = SimpleNamespace(step=68, config=SimpleNamespace(num_train_steps=1800))
  with pytest.raises(UserError, match="stopped at step 68 of 1800; rerun its training"):
    report.check_finished(stopped, "runs/x", records.RESULTS_DIR)
  report.check_finished(stopped, "runs/x", str(tmp_path))
  report.check_finished(SimpleNamespace(step=1800, config=stopped.config), "runs/x",
                        records.RESULTS_DIR)

