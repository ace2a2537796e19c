"""Scores a trained diffusion model under several samplers: FCD (with floor and ceiling),
conditional accuracy, seconds, and optionally the exact NLL bound in bits/dim.

  python -m experiments.score --workdir=runs/ddpm --settings=ddpm:1000,ddim:100,ddim:50,ddim:25
  python -m experiments.score --workdir=runs/cfg --settings=ddim:50:w=0,ddim:50:w=1,ddim:50:w=3
  python -m experiments.score --workdir=runs/ddpm --settings=ddim:50:cls=1,ddim:50:cls=3 \
      --classifier_workdir=runs/noisy_classifier
  python -m experiments.score --workdir=runs/iddpm --settings=ddim:50 --nll_examples=64

Each setting is KIND:STEPS[:key=value...] with KIND ddpm or ddim and keys eta (DDIM eta),
w (classifier-free guidance weight) and cls (classifier guidance scale; needs
--classifier_workdir). Every setting draws --num_samples images from the same seed; labels
cycle through the classes when the model is conditional or classifier-guided, and then
conditional accuracy is reported. Prints a markdown table, appends one JSON line per setting
to <workdir>/scores.jsonl and writes a 64-image grid per setting to <workdir>/samples/.
"""

import dataclasses
import json
import os
import sys
import time
from typing import Any

from absl import app, flags, logging

_WORKDIR = flags.DEFINE_string("workdir", None, "Workdir of a trained ddpm-family experiment.")
_SETTINGS = flags.DEFINE_list("settings", ["ddim:50"], "Samplers to score, KIND:STEPS[:k=v...].")
_NUM = flags.DEFINE_integer("num_samples", 1000, "Samples per setting.")
_NLL = flags.DEFINE_integer("nll_examples", 0, "Exact VLB (all T steps) on this many test "
                            "images, in bits/dim; 0 skips it.")
_CLASSIFIER = flags.DEFINE_string("classifier_workdir", None,
                                  "Workdir of a trained noisy_classifier (for cls=...).")
_SEED = flags.DEFINE_integer("seed", 0, "Sampling seed.")
flags.mark_flags_as_required(["workdir"])


@dataclasses.dataclass(frozen=True)
class Setting:
  """One sampler configuration: kind, respaced steps, DDIM eta, CFG weight, classifier scale."""

  kind: str
  steps: int
  eta: float = 0.0
  w: float = 0.0
  cls: float = 0.0

  @property
  def name(self) -> str:
    """e.g. 'ddim50', 'ddim50 w=1', 'ddpm1000'."""
    extras = [f"{k}={getattr(self, k):g}" for k in ("eta", "w", "cls") if getattr(self, k)]
    return " ".join([f"{self.kind}{self.steps}"] + extras)


def parse_setting(text: str):
  """'ddim:50:w=1' -> Setting; raises UserError naming the bad part."""
  from jaxgen.errors import UserError
  parts = text.strip().split(":")
  if len(parts) < 2 or parts[0] not in ("ddpm", "ddim") or not parts[1].isdigit() \
      or int(parts[1]) <= 0:
    raise UserError(f"--settings item {text!r} must look like ddim:50 or ddpm:1000[:w=1]")
  values = {}
  for part in parts[2:]:
    key, _, value = part.partition("=")
    if key not in ("eta", "w", "cls"):
      raise UserError(f"--settings item {text!r}: unknown key {key!r}; use eta, w or cls")
    try:
      values[key] = float(value)
    except ValueError:
      raise UserError(f"--settings item {text!r}: {key} needs a number, got {value!r}") from None
  return Setting(parts[0], int(parts[1]), **values)


def score_settings(trained: Any, scorer: Any, settings: list[Setting], num: int, seed: int,
                   workdir: str, classifier: tuple[Any, Any] | None = None) -> list[dict]:
  """Samples `num` images per setting from `trained` and scores them with `scorer`.

  Returns one dict per setting: its name, seconds to sample, and the scorer's report (fcd,
  fcd_floor, fcd_ceiling, and cond_accuracy when labels apply). Grids go to workdir/samples/.
  """
  import jax
  import numpy as np
  from jaxgen import images
  from jaxgen.errors import UserError
  from jaxgen.train.evaluation import Evaluator
  from jaxgen.train.mesh import make_mesh
  evaluator = Evaluator(trained.config, trained.family, None, trained.spec, make_mesh(), workdir)
  rows = []
  for setting in settings:
    if setting.cls and classifier is None:
      raise UserError(f"setting {setting.name!r} needs --classifier_workdir")
    options: dict[str, Any] = dict(kind=setting.kind, num_steps=setting.steps, eta=setting.eta,
                                   guidance_scale=setting.w)
    if setting.cls:
      options.update(classifier=classifier, classifier_scale=setting.cls)
    labelled = trained.family.conditional or bool(setting.cls)
    labels = np.arange(num, dtype=np.int32) % trained.spec.num_classes if labelled else None
    start = time.perf_counter()
    samples = evaluator.generate(trained.state, jax.random.key(seed), num, labels, options)
    seconds = time.perf_counter() - start
    grid_name = "score_" + setting.name.replace(" ", "_").replace("=", "") + ".png"
    images.save_grid(os.path.join(workdir, "samples", grid_name), samples[:64])
    rows.append({"setting": setting.name, "num_samples": num, "seconds": round(seconds, 1),
                 **scorer.report(samples, labels)})
  return rows


def exact_nll(trained: Any, num: int, seed: int) -> float:
  """The exact VLB in bits/dim, all T terms, on the first `num` test images (EMA params)."""
  import jax
  from jaxgen.diffusion.family import make_family
  from jaxgen.train.loop import open_data
  config = trained.config.copy_and_resolve_references()  # the restored config stays as saved
  with config.unlocked():
    config.nll_eval_examples = num
  _, test, _ = open_data(config)
  family = make_family(config, trained.spec)  # only its `evaluate` differs from trained.family
  return family.evaluate(trained.state, test, jax.random.key(seed))["nll_bpd_full"]


def markdown(rows: list[dict]) -> str:
  """The rows as a markdown table."""
  keys = ["setting", "fcd", "fcd_floor", "fcd_ceiling", "cond_accuracy", "seconds"]
  keys = [k for k in keys if any(k in r for r in rows)]
  fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
  lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
  lines += ["| " + " | ".join(fmt(r.get(k, "")) for k in keys) + " |" for r in rows]
  return "\n".join(lines)


def main(argv: list[str]) -> None:
  del argv
  logging.set_verbosity(logging.WARNING)
  from jaxgen import compilation_cache, xla_tuning
  xla_tuning.apply(measure_if_unknown=True)  # before the backend starts (once per machine)
  compilation_cache.enable()
  from jaxgen.errors import UserError
  from jaxgen.train.restore import restore_trained
  try:
    if _NUM.value <= 0:
      raise UserError(f"--num_samples must be positive, got {_NUM.value}")
    settings = [parse_setting(s) for s in _SETTINGS.value]
    trained = restore_trained(_WORKDIR.value)
    if trained.config.family != "ddpm":
      raise UserError(f"experiments.score scores ddpm-family models, not {trained.config.family}")
    classifier = None
    if _CLASSIFIER.value:
      from jaxgen.diffusion.classifier_family import load_guide
      classifier = load_guide(_CLASSIFIER.value, trained.config.diffusion)
    from jaxgen.metrics import quality
    scorer = quality.Scorer.for_dataset(trained.config.dataset,
                                        trained.config.get("data_dir") or None)
    rows = score_settings(trained, scorer, settings, _NUM.value, _SEED.value, _WORKDIR.value,
                          classifier)
    if _NLL.value > 0:
      rows.append({"setting": f"exact NLL, {_NLL.value} test images",
                   "nll_bpd": exact_nll(trained, _NLL.value, _SEED.value)})
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  with open(os.path.join(_WORKDIR.value, "scores.jsonl"), "a") as f:
    for row in rows:
      f.write(json.dumps({"step": trained.step, **row}) + "\n")
  print(f"step {trained.step} of {_WORKDIR.value}")
  print(markdown([r for r in rows if "fcd" in r]))
  for row in rows:
    if "nll_bpd" in row:
      print(f"{row['setting']}: {row['nll_bpd']:.4f} bits/dim")


if __name__ == "__main__":
  app.run(main)
