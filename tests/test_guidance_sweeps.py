"""experiments/guidance_sweeps.py: guidance's trade-off curve as a table and a plot, made from
records only."""

import os

from PIL import Image

from experiments import guidance_sweeps
from experiments.sampler_settings import parse_setting


def _record(name, workdir, kind, scale, fcd, accuracy, sampler="ddim50"):
  key = "w" if kind == "classifier-free" else "cls"
  return {"name": name, "workdir": workdir, "guidance": {"kind": kind, "scale": scale},
          "num_samples": 500, "sampler": f"{sampler} {key}={scale:g}", "fcd": fcd, "fcd_sd": 2.0,
          "fcd_floor": 25.0, "cond_accuracy": accuracy, "cond_accuracy_ci95_low": accuracy - 0.03,
          "cond_accuracy_ci95_high": accuracy + 0.02, "min_class_share": 0.09}


def test_a_setting_that_names_a_scale_is_a_sweep_point_even_at_zero():
  both = guidance_sweeps.guidance_of(parse_setting("ddim:50:w=1:cls=2"))
  assert both["kind"] not in guidance_sweeps.KINDS.values()  # on no single-kind curve
  assert guidance_sweeps.guidance_of(parse_setting("ddim:50:w=0")) == {
      "kind": "classifier-free", "scale": 0.0}
  assert guidance_sweeps.guidance_of(parse_setting("ddim:50:eta=1:cls=0")) == {
      "kind": "classifier", "scale": 0.0}
  assert guidance_sweeps.guidance_of(parse_setting("ddim:50:eta=1")) is None
  assert parse_setting("ddim:50:cls=0").name == "ddim50 cls=0"
  assert parse_setting("ddim:50").sampler_options()["guidance_scale"] == 0.0


def test_sweep_table_and_plot_by_model_and_kind(tmp_path):
  cf = "classifier-free"
  rows = [_record(f"cfg_w{w}", "/runs/cfg", cf, w, fcd, acc)
          for w, fcd, acc in ((4, 90.0, 0.97), (0, 60.0, 0.80), (1, 55.0, 0.93))]
  # The classifier's points: one on each of two chains, so neither makes a curve.
  rows.append(_record("ddpm_cls2", "/runs/ddpm", "classifier", 2, 80.0, 0.6, "ddim50 eta=1"))
  rows.append(_record("ddpm_cls4", "/runs/ddpm", "classifier", 4, 70.0, 0.7, "ddpm1000"))
  unlabelled = _record("ddpm_w8", "/runs/ddpm", cf, 8, 99.0, 0.1)
  del unlabelled["cond_accuracy"]  # no labels, no accuracy: not a point of any sweep
  rows += [unlabelled, {"name": "ddpm", "workdir": "/runs/ddpm"}]  # unguided: left alone
  assert list(guidance_sweeps.sweeps(rows)) == [("cfg", cf, "ddim50", 500)]
  text = "\n".join(guidance_sweeps.sweep_tables(rows, ""))
  assert text.count("**Guidance sweep") == 1 and "floor 25.0" in text and "ddim50;" in text
  older = "\n".join(guidance_sweeps.sweep_tables(rows, ", older scorer"))
  assert "plot:" in text and "plot:" not in older  # only the current records are plotted
  lines = [line for line in text.splitlines() if line.startswith("| ") and "cfg_w" in line]
  assert [line.split(" | ")[1] for line in lines] == ["cfg_w0", "cfg_w1", "cfg_w4"]  # by scale
  assert "| 1 | cfg_w1 | 55.0 ± 3.9 | 0.930 (0.900-0.950) | 0.090 |" in text
  (path,) = guidance_sweeps.plot_sweeps(rows, str(tmp_path))
  assert os.path.basename(path) == "guidance_cfg_classifier_free_ddim50_n500.png"
  width, height = Image.open(path).size
  assert width > 2 * height  # three panels side by side
