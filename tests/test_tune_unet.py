"""The U-Net size search's curves: validation FCD against quiet training minutes."""

import json

from experiments import tune_unet


def test_curves_turn_steps_into_quiet_minutes(tmp_path, monkeypatch):
  """Each eval's FCD lands at step x the candidate's benchmarked step seconds; the logged wall
  time (train intervals summed) is kept beside it; unfinished candidates are left out."""
  sizes = tmp_path / "unet_sizes.json"
  sizes.write_text(json.dumps({"candidates": {n: {"train_step_s": 0.3} for n in
                                              tune_unet.STEPS}}))
  monkeypatch.setattr(tune_unet.unet_sizes, "OUT", str(sizes))
  monkeypatch.setattr(tune_unet, "ROOT", str(tmp_path / "runs"))
  name = next(iter(tune_unet.STEPS))
  run = tmp_path / "runs" / name
  run.mkdir(parents=True)
  rows = [{"step": 100, "split": "train", "wall_s": 60.0},
          {"step": 200, "split": "train", "wall_s": 60.0},
          {"step": 200, "split": "eval", "loss": 0.1, "fcd": 512.345},
          {"step": 400, "split": "train", "wall_s": 30.0},
          {"step": 400, "split": "eval", "loss": 0.1}]  # an eval without FCD adds no point
  run.joinpath("metrics.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
  data = tune_unet.curves()
  assert list(data) == [name]
  assert data[name]["points"] == [dict(step=200, minutes=1.0, logged_minutes=2.0, fcd=512.35)]
  tune_unet.plot(data, str(tmp_path / "curves.png"))
  assert (tmp_path / "curves.png").stat().st_size > 1000
