"""experiments.brain_eval and its SNR sweep (experiments.brain_sweep): the flag, rows, tables,
plot and paired comparisons (no training)."""

import numpy as np
import pytest

from experiments import brain_eval, brain_sweep
from jaxgen.errors import UserError
from jaxgen.metrics.compare import paired_difference


def _figures(rng: np.random.Generator, n: int = 50) -> tuple[dict, dict]:
  """Figures and per-stimulus values of one made-up run, as brain_eval.score returns them."""
  values = {"top1_10way": rng.integers(0, 2, n).astype(float),
            f"id{n}_features": rng.uniform(0, 1, n), f"id{n}_pixcorr": rng.uniform(0, 1, n)}
  figures = {"num": n}
  for key, v in values.items():
    figures[key], figures[key + "_se"] = float(v.mean()), float(v.std() / np.sqrt(n))
  return figures, values


def test_sweep_flag_names_runs_by_snr_and_refuses_bad_items():
  assert brain_sweep.parse_sweep("0.01=runs/a,0.01:no_pretraining=runs/b,0.2=runs/c") == {
      0.01: {"mindvis": "runs/a", "no_pretraining": "runs/b"}, 0.2: {"mindvis": "runs/c"}}
  assert brain_sweep.parse_sweep("") == {}
  for bad in ("runs/a", "low=runs/a", "-1=runs/a", "0.01="):
    with pytest.raises(UserError, match="--sweep takes SNR=workdir"):
      brain_sweep.parse_sweep(bad)


def test_sweep_rows_tables_and_plot(tmp_path):
  rng = np.random.default_rng(0)
  sweep = []
  for snr in (0.2, 0.01):
    made = {name: _figures(rng) for name in ("mindvis", "ridge_labels", "ridge_pixels")}
    paired = [{"a": "mindvis", "b": base, "figure": key,
               **paired_difference(made["mindvis"][1][key], made[base][1][key])}
              for base in ("ridge_labels", "ridge_pixels") for key in made[base][1]]
    paired.append({**paired[0], "a": "mindvis", "b": "ridge_pixels",
                   "figure": "pairwise_ssim"})  # not a sweep figure: left out of the row
    sweep.append(brain_sweep.sweep_row(snr, {k: f for k, (f, _) in made.items()}, paired))
  row = sweep[0]
  assert row["snr"] == 0.2 and row["num"] == 50
  assert set(row["figures"]["mindvis"]) == {"top1_10way", "top1_10way_se", "id50_features",
                                            "id50_features_se", "id50_pixcorr", "id50_pixcorr_se"}
  assert {p["figure"] for p in row["paired"]} == {"top1_10way", "id50_features", "id50_pixcorr"}
  rows = {k: f for k, (f, _) in {"mindvis": _figures(rng)}.items()}
  text = brain_eval.markdown(rows, [], sweep)
  assert "| 0.01 | ridge_labels |" in text and "| 0.2 | mindvis | ridge_pixels | id50_features |" \
      in text
  path = tmp_path / "snr_sweep.png"
  brain_sweep.plot_sweep(sorted(sweep, key=lambda r: r["snr"]), str(path))
  assert path.stat().st_size > 10_000


def test_the_reproduced_sweep_trains_stage_b_at_every_sweep_snr():
  """experiments.reproduce spells the sweep's SNRs as config tags; they are the data's."""
  from experiments import reproduce
  from jaxgen.data import brain
  assert [brain.snr_config("sbj_1", snr) for snr in brain.SWEEP_SNRS] == [
      f"sbj_1_snr{tag}" for tag in reproduce.SWEEP_TAGS]
  command = " ".join(reproduce.record_command(reproduce.RECORDS["brain_eval"], "runs"))
  for snr in brain.SWEEP_SNRS:
    tag = brain.snr_config("sbj_1", snr).partition("_")[2].partition("_")[2]
    for run in ("mindvis", "mindvis_scratch"):
      training = reproduce.TRAININGS[f"{run}_{tag}"]
      assert f"--config.dataset=brain_digits/sbj_1_{tag}" in training.overrides
      assert f"runs/{run}_{tag}" in command


def test_paired_comparisons_set_each_run_against_each_baseline_and_mindvis_against_the_rest():
  rng = np.random.default_rng(1)
  per_item = {name: _figures(rng)[1] for name in ("mindvis", "no_pretraining", "ridge_labels")}
  per_item["ridge_labels"] = {"top1_10way": per_item["ridge_labels"]["top1_10way"]}
  per_item["no_pretraining"]["top1_10way"] = per_item["mindvis"]["top1_10way"] * 0.0
  paired = brain_eval.paired_comparisons(per_item, ["ridge_labels"])
  assert {(p["a"], p["b"]) for p in paired} == {("mindvis", "ridge_labels"),
                                                ("no_pretraining", "ridge_labels"),
                                                ("mindvis", "no_pretraining")}
  ablation = [p for p in paired if p["b"] == "no_pretraining"]
  assert {p["figure"] for p in ablation} == {"top1_10way", "id50_features", "id50_pixcorr"}
  top1 = next(p for p in ablation if p["figure"] == "top1_10way")
  assert top1["difference"] == per_item["mindvis"]["top1_10way"].mean()
