"""The results a README may print: one JSON record per trained model, and tables made from them.

  python -m experiments.report --workdir=runs/vae [--num_samples=500] [--nll_examples=300]
  python -m experiments.report --workdir=runs/ddpm --setting=ddim:50:eta=1 --name=ddpm_ddim50_eta1
  python -m experiments.report --workdir=runs/maskgit --setting=steps=8:w=1 --name=maskgit_s8
  python -m experiments.report --tables [--update_readme]

`--workdir` scores the workdir's latest checkpoint on the TEST split (the only command that
reads it): FCD of --num_samples samples with its bootstrap 95% interval, the floor (as many
validation digits, which the scoring classifier never saw) with its interval and the ceiling
at the same n; conditional accuracy with its Wilson interval (conditional or classifier-guided
models); the family's NLL on --nll_examples test images with its standard error, marked
-log p(x|y) for conditional models; sampling throughput with compilation excluded and the
first (compiling) chunk apart; training steps and wall time from metrics.jsonl; the commit and
this command. It writes experiments/results/<name>.json and <name>.png (a sample grid).
A classifier's record is its accuracy over the whole test split with its Wilson interval; a
tokenizer's, its reconstructions of the test split; a translator's (CycleGAN), both test
domains translated whole and read by the other domain's judge. A code model's record (MaskGIT,
Paella, the autoregressive baseline; --setting=steps=N:w=W) adds its decoding cost: network
calls in sequence, FLOPs per image and images/s at batch 1 and 64.

`--tables` turns every committed record into one markdown table per family group
(experiments/results/TABLES.md) and a PNG mosaic of the grids (experiments/results/mosaic.png);
with --update_readme it also writes, between their report markers, the README's headline table,
each family page's tables (docs/families/) and all of them in docs/results.md. The tables hold
nothing that no record backs.

This file holds the command and the scoring every generative model shares; what is measured
for each other kind of model is in experiments/evaluations.py, the tables in experiments/tables.py,
and experiments/publish.py writes them into the README and the docs pages.
"""

import json
import os
import sys
from types import SimpleNamespace
from typing import Any

from absl import app, flags

from experiments import evaluations, publish
from experiments.guidance_sweeps import guidance_of
from jaxgen import storage

# Flag holders, filled by define_flags() only when this file runs as a program: tests import
# this module into a process that also holds experiments.score's flags (absl refuses a second
# --workdir in one process).
_F = SimpleNamespace()


def define_flags() -> None:
  """Registers the command-line flags (once, from the program's entry point) into `_F`."""
  _F.workdir = flags.DEFINE_string("workdir", None, "Trained workdir to report on.")
  _F.tables = flags.DEFINE_bool("tables", False, "Make the tables and mosaic from all records.")
  _F.update_readme = flags.DEFINE_bool(
      "update_readme", False,
      "With --tables: rewrite the README's headline and the docs pages' tables between their "
      "markers.")
  _F.num = flags.DEFINE_integer(
      "num_samples", 500,
      "Samples for FCD and accuracy (at most the number of validation digits, the floor's).")
  _F.nll = flags.DEFINE_integer("nll_examples", 300, "Test images for the likelihood (0: skip).")
  _F.setting = flags.DEFINE_string(
      "setting", None, "Diffusion sampler KIND:STEPS[:eta=..:w=..:cls=..] as in "
      "experiments.score, a code model's steps=N[:w=W], or a score model's als[:steps=S][:lr=E]"
      "[:denoise=0|1] / cas[:lr=E][:denoise=0|1]; default: the config's.")
  _F.classifier = flags.DEFINE_string("classifier_workdir", None,
                                      "noisy_classifier workdir for a cls= setting.")
  _F.name = flags.DEFINE_string("name", None, "Record name; default: the workdir's base name.")
  _F.results = flags.DEFINE_string(
      "results_dir", os.path.join(os.path.dirname(__file__), "results"), "Where records live.")
  _F.seed = flags.DEFINE_integer("seed", 0, "Sampling and likelihood seed.")
  _F.scratch = flags.DEFINE_bool(
      "scratch", False, "Write the record to runs/scratch_results/ (allowed from a dirty tree or "
      "a model trained from one) instead of experiments/results/.")


def report_workdir(workdir: str, num: int, nll_examples: int, setting_text: str | None,
                   classifier_workdir: str | None, seed: int, results_dir: str, name: str,
                   command: str) -> dict[str, Any]:
  """Scores `workdir` on test and writes results_dir/<name>.json (and a sample grid .png for
  generative models); returns the record."""
  import jax
  import numpy as np
  import tqdm
  from experiments.sampler_settings import (TOKEN_STEP_KEYS, parse_langevin_setting,
                                            parse_setting, token_setting)
  from jaxgen import images
  from jaxgen.data.pipeline import SplitData
  from jaxgen.errors import UserError
  from jaxgen.metrics.intervals import mean_and_se
  from jaxgen.train.evaluation import Evaluator
  from jaxgen.train.mesh import make_mesh
  from jaxgen.train.restore import restore_trained
  from jaxgen.train.loop import trained_scorer
  from experiments import records
  from jaxgen import provenance
  from jaxgen.train.restore import load_config
  # The model and every first stage it builds on (named by the config's *_workdir keys) must
  # come from committed code.
  config_keys = load_config(workdir)
  # A guiding classifier (cls= settings) likewise.
  for path in [workdir] + [config_keys[k] for k in sorted(config_keys)
                           if k.endswith("_workdir") and config_keys[k]] + (
                               [classifier_workdir] if classifier_workdir else []):
    records.check_publishable(results_dir, provenance.read(storage.resolve(path)))
  trained = restore_trained(workdir)
  check_finished(trained, workdir, results_dir)
  config, family = trained.config, trained.family
  if config.family == "classifier":
    record = {"name": name, **evaluations.classifier_record(trained, workdir, seed)}
    return _write_record(record, results_dir, command)
  if config.family in evaluations.FIRST_STAGES:
    record = {"name": name, **evaluations.first_stage_record(trained, workdir, seed)}
    images.save_grid(os.path.join(results_dir, name + ".png"), record.pop("_pairs"), rows=8)
    record["grid"] = name + ".png"
    return _write_record(record, results_dir, command)
  if config.family == "diffae":
    record = {"name": name, **evaluations.diffae_record(trained, workdir, num, seed)}
    grid = record.pop("_grid")
    images.save_grid(os.path.join(results_dir, name + ".png"), grid, rows=len(grid) // 10)
    record["grid"] = name + ".png"
    return _write_record(record, results_dir, command)
  if family.translate is not None:
    record = {"name": name, **evaluations.translator_record(trained, workdir)}
    images.save_grid(os.path.join(results_dir, name + ".png"), record.pop("_grid"), rows=16)
    record["grid"] = name + ".png"
    return _write_record(record, results_dir, command)
  if family.sample is None:
    raise UserError(f"the {config.family} family does not generate images; report scores "
                    "generative models")
  options: dict[str, Any] = {}
  guide_record: dict[str, Any] = {}  # a guiding classifier's workdir and training commits
  setting = None
  sampler_name = evaluations.default_sampler(config)
  if setting_text and config.family in TOKEN_STEP_KEYS:
    token = token_setting(config.family, evaluations.token_defaults(config), setting_text)
    options, sampler_name = token.sampler_options(), token.name
  elif setting_text and config.family == "ncsn":
    langevin = parse_langevin_setting(setting_text)
    options, sampler_name = langevin.sampler_options(), langevin.name
  elif setting_text:
    if config.family not in ("ddpm", "ldm"):
      raise UserError(f"--setting applies to ddpm-family models, ldm, ncsn and code models, not "
                      f"{config.family}")
    setting = parse_setting(setting_text)
    if setting.cls is not None and config.family == "ldm":
      raise UserError("classifier guidance (cls=) applies to pixel-space ddpm models, not ldm")
    sampler_name = setting.name
    options = setting.sampler_options()
    if setting.cls is not None:
      if not classifier_workdir:
        raise UserError(f"setting {setting.name!r} needs --classifier_workdir")
      from jaxgen.diffusion.classifier_family import load_guide
      options.update(classifier=load_guide(classifier_workdir, config.diffusion),
                     classifier_scale=setting.cls)
      guide_record = {"classifier_workdir": storage.resolve(classifier_workdir),
                      "classifier_trained_commits": provenance.trained_commits(
                          provenance.read(storage.resolve(classifier_workdir)))}
  data_dir = config.get("data_dir") or None
  scorer = trained_scorer(config.dataset, data_dir, reference_split="test")
  if num > scorer.max_floor_samples:
    raise UserError(f"--num_samples={num} is more than the {scorer.max_floor_samples} held-out "
                    "validation digits that make the floor at the same n; use at most that")
  labelled = family.conditional or (setting is not None and setting.cls is not None)
  labels = np.arange(num, dtype=np.int32) % trained.spec.num_classes if labelled else None
  guidance = guidance_of(setting) if setting is not None else None
  print(f"sampling {num} images from step {trained.step} of {workdir} ...", flush=True)
  evaluator = Evaluator(config, family, None, trained.spec, make_mesh(), workdir, trained_scorer)
  timing: dict[str, float] = {}
  samples = evaluator.generate(trained.state, jax.random.key(seed), num, labels, options, timing)
  samples = np.round(np.clip(samples, 0, 1) * 255).astype(np.float32) / 255  # as saved, uint8
  judged = scorer.report(samples, labels)
  record: dict[str, Any] = {
      "name": name, "family": config.family, "dataset": config.dataset,
      "variant": config.get("variant", ""),
      "conditional": bool(family.conditional), "workdir": storage.resolve(workdir),
      "step": trained.step, **evaluations.training_time(workdir), "split": "test",
      "sampler": sampler_name,
      # The respaced diffusion chain, where one was set: the sampler-grid table reads these.
      **({"sampler_setting": {"kind": setting.kind, "steps": setting.steps, "eta": setting.eta,
                              "spacing": setting.spacing or config.sampler.get("spacing",
                                                                               "linspace")}}
         if setting is not None and setting.w is None and setting.cls is None else {}),
      # A guided setting's kind and scale: the guidance sweeps' tables and plots read them.
      **({"guidance": guidance} if guidance else {}), **guide_record,
      "num_samples": num, "images_per_s": round(timing["images_per_s"], 2),
      "first_chunk_s": round(timing["first_chunk_s"], 1),
      **{k: float(v) for k, v in judged.items()}, "scorer_digest": scorer.digest,
      **evaluations.second_judge(config.dataset, data_dir, "test", samples, labels),
  }
  if labels is not None:  # per-sample correctness: McNemar's test pairs two records on it
    record["cond_correct"] = evaluations.correct_bits(scorer, samples, labels)
  if nll_examples > 0 and family.nll_per_image is not None:
    test = SplitData.open(config.dataset, "test", data_dir)
    with tqdm.tqdm(total=nll_examples, desc="likelihood", unit="image", file=sys.stdout) as bar:
      values = family.nll_per_image(trained.state, test, jax.random.key(seed + 1), nll_examples,
                                    lambda done: bar.update(done - bar.n))
    mean, se = mean_and_se(values)
    record["nll"] = {"value": mean, "se": se, "unit": family.nll_unit,
                     "conditional": bool(family.conditional), "images": int(len(values)),
                     "estimator": evaluations.nll_estimator(config),
                     # The first n test images in order: two records' differences pair up.
                     "per_image": [round(float(v), 4) for v in values]}
  if config.family == "ldm" and config.context == "captions":
    from experiments import adherence
    test = SplitData.open(config.dataset, "test", data_dir).arrays()
    record["prompts"] = adherence.adherence_record(trained, scorer, test["image"],
                                                   test["label"], num, seed, options)
    sweep, texts = adherence.sweep_images(trained, 8, seed, options)
    os.makedirs(results_dir, exist_ok=True)
    record["prompt_sweep"] = {"grid": name + "_sweep.png", "digit": adherence.SWEEP_DIGIT,
                              "rows": texts}
    images.save_grid(os.path.join(results_dir, record["prompt_sweep"]["grid"]),
                     sweep.reshape(-1, *sweep.shape[2:]), rows=len(texts))
  if config.family == "ldm":
    from experiments.bench.latent_speed import pixel_vs_latent
    print("timing against pixel-space diffusion ...", flush=True)
    steps = options.get("num_steps") or config.sampler.num_steps
    record["speed_vs_pixel"] = pixel_vs_latent(trained, steps, 64,
                                               guidance_scale=options.get("guidance_scale"))
  if family.network_calls is not None:
    print("timing the sampler at batch 1 and 64 ...", flush=True)
    record["decoding"] = evaluations.decoding_cost(family, trained.state, options,
                                                   trained.spec.num_classes, seed)
  os.makedirs(results_dir, exist_ok=True)
  record["samples"] = evaluations.save_samples(results_dir, name, samples, labels)
  record["grid"] = name + ".png"
  rows = trained.spec.num_classes if labelled and num >= trained.spec.num_classes else None
  images.save_grid(os.path.join(results_dir, record["grid"]),
                   evaluations.grid_samples(samples, labels, trained.spec.num_classes), rows)
  return _write_record(record, results_dir, command)


def check_finished(trained: Any, workdir: str, results_dir: str) -> None:
  """Refuses (UserError) a published record of a run that stopped before its last step (a
  preemption or a kill saves a checkpoint a report could read as if training were done)."""
  from experiments import records
  from jaxgen.errors import UserError
  total = trained.config.num_train_steps
  if records.is_published(results_dir) and trained.step < total:
    raise UserError(f"{workdir} stopped at step {trained.step} of {total}; rerun its training "
                    "command to finish it, or pass --scratch to report the unfinished model")


def _write_record(record: dict[str, Any], results_dir: str, command: str) -> dict[str, Any]:
  """Adds the training provenance (the workdir's provenance.json), the checkout's commit and
  the command to `record` and writes results_dir/<name>.json."""
  from experiments import records
  from jaxgen import provenance
  trained = provenance.read(record["workdir"]) if "workdir" in record else []
  record["trained"] = trained
  record["trained_commits"] = provenance.trained_commits(trained)
  return records.write(record, results_dir, command)


def main(argv: list[str]) -> None:
  del argv
  from experiments import backend
  backend.prepare()  # before the backend starts
  from jaxgen.errors import UserError
  try:
    if _F.tables.value == bool(_F.workdir.value):
      raise UserError("give either --workdir=DIR (score one model) or --tables")
    if _F.tables.value:
      print(publish.write_tables(_F.results.value, _F.update_readme.value))
      return
    if _F.num.value <= 0 or _F.nll.value < 0:
      raise UserError("--num_samples must be positive and --nll_examples not negative")
    name = _F.name.value or os.path.basename(os.path.normpath(_F.workdir.value))
    command = "python -m experiments.report " + " ".join(sys.argv[1:])
    from experiments import records
    results_dir = records.SCRATCH_DIR if _F.scratch.value else _F.results.value
    record = report_workdir(_F.workdir.value, _F.num.value, _F.nll.value, _F.setting.value,
                            _F.classifier.value, _F.seed.value, results_dir, name, command)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(json.dumps(record, indent=2, sort_keys=True))
  written = ".json and .png" if record.get("grid") else ".json"
  print(f"wrote {os.path.join(results_dir, name)}{written}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
