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
(experiments/results/TABLES.md, and the README between its report markers with
--update_readme) and a PNG mosaic of the grids (experiments/results/mosaic.png). The tables
hold nothing that no record backs.
"""

import json
import os
import sys
from types import SimpleNamespace
from typing import Any

from absl import app, flags

from experiments.guidance_sweeps import guidance_of, plot_sweeps, sweep_tables
from jaxgen.metrics.intervals import Z95  # numpy only: keeps --help fast

# Flag holders, filled by define_flags() only when this file runs as a program: tests import
# this module into a process that also holds experiments.score's flags (absl refuses a second
# --workdir in one process).
_F = SimpleNamespace()


def define_flags() -> None:
  """Registers the command-line flags (once, from the program's entry point) into `_F`."""
  _F.workdir = flags.DEFINE_string("workdir", None, "Trained workdir to report on.")
  _F.tables = flags.DEFINE_bool("tables", False, "Make the tables and mosaic from all records.")
  _F.update_readme = flags.DEFINE_bool(
      "update_readme", False, "With --tables: rewrite the README between its report markers.")
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


README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
BEGIN, END = "<!-- report:tables begin -->", "<!-- report:tables end -->"
# Family -> the README table it belongs to.
GROUPS = {"vae": "Autoencoders", "gan": "GANs", "ddpm": "Diffusion",
          "ncsn": "Diffusion", "ldm": "Diffusion", "diffae_latent": "Diffusion",
          "maskgit": "Code models",
          "maskgit_ar": "Code models", "paella": "Code models"}


def training_time(workdir: str) -> dict[str, float]:
  """Steps trained and the training wall time summed over metrics.jsonl's train lines (the
  loop writes each log interval's time, evaluations excluded; older runs lack it)."""
  steps, seconds, timed = 0, 0.0, True
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return {}
  for line in open(path):
    entry = json.loads(line)
    if entry.get("split") == "train":
      steps = max(steps, int(entry["step"]))
      timed &= "wall_s" in entry
      seconds += entry.get("wall_s", 0.0)
  return {"train_steps": steps, **({"train_wall_s": round(seconds, 1)} if timed else {})}


def report_workdir(workdir: str, num: int, nll_examples: int, setting_text: str | None,
                   classifier_workdir: str | None, seed: int, results_dir: str, name: str,
                   command: str) -> dict[str, Any]:
  """Scores `workdir` on test and writes results_dir/<name>.json (and a sample grid .png for
  generative models); returns the record."""
  import jax
  import numpy as np
  import tqdm
  from experiments.sampler_settings import (TOKEN_STEP_KEYS, parse_langevin_setting,
                                            parse_setting, parse_token_setting,
                                            token_setting_name)
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
    records.check_publishable(results_dir, provenance.read(os.path.abspath(path)))
  trained = restore_trained(workdir)
  config, family = trained.config, trained.family
  if config.family == "classifier":
    record = {"name": name, **classifier_record(trained, workdir, seed)}
    return _write_record(record, results_dir, command)
  if config.family in FIRST_STAGES:
    record = {"name": name, **first_stage_record(trained, workdir, seed)}
    images.save_grid(os.path.join(results_dir, name + ".png"), record.pop("_pairs"), rows=8)
    record["grid"] = name + ".png"
    return _write_record(record, results_dir, command)
  if config.family == "diffae":
    record = {"name": name, **diffae_record(trained, workdir, num, seed)}
    grid = record.pop("_grid")
    images.save_grid(os.path.join(results_dir, name + ".png"), grid, rows=len(grid) // 10)
    record["grid"] = name + ".png"
    return _write_record(record, results_dir, command)
  if family.translate is not None:
    record = {"name": name, **translator_record(trained, workdir)}
    images.save_grid(os.path.join(results_dir, name + ".png"), record.pop("_grid"), rows=16)
    record["grid"] = name + ".png"
    return _write_record(record, results_dir, command)
  if family.sample is None:
    raise UserError(f"the {config.family} family does not generate images; report scores "
                    "generative models")
  options: dict[str, Any] = {}
  guide_record: dict[str, Any] = {}  # a guiding classifier's workdir and training commits
  setting = None
  sampler_name = _default_sampler(config)
  if setting_text and config.family in TOKEN_STEP_KEYS:
    options = parse_token_setting(config.family, setting_text)
    sampler_name = token_setting_name({**_token_defaults(config), **options})
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
      guide_record = {"classifier_workdir": os.path.abspath(classifier_workdir),
                      "classifier_trained_commits": provenance.trained_commits(
                          provenance.read(os.path.abspath(classifier_workdir)))}
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
      "conditional": bool(family.conditional), "workdir": os.path.abspath(workdir),
      "step": trained.step, **training_time(workdir), "split": "test",
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
      **second_judge(config.dataset, data_dir, "test", samples, labels),
  }
  if labels is not None:  # per-sample correctness: McNemar's test pairs two records on it
    record["cond_correct"] = correct_bits(scorer, samples, labels)
  if nll_examples > 0 and family.nll_per_image is not None:
    test = SplitData.open(config.dataset, "test", data_dir)
    with tqdm.tqdm(total=nll_examples, desc="likelihood", unit="image", file=sys.stdout) as bar:
      values = family.nll_per_image(trained.state, test, jax.random.key(seed + 1), nll_examples,
                                    lambda done: bar.update(done - bar.n))
    mean, se = mean_and_se(values)
    record["nll"] = {"value": mean, "se": se, "unit": family.nll_unit,
                     "conditional": bool(family.conditional), "images": int(len(values)),
                     "estimator": _nll_estimator(config),
                     # The first n test images in order: two records' differences pair up.
                     "per_image": [round(float(v), 4) for v in values]}
  if config.family == "ldm":
    from experiments.bench.latent_speed import pixel_vs_latent
    print("timing against pixel-space diffusion ...", flush=True)
    steps = options.get("num_steps") or config.sampler.num_steps
    record["speed_vs_pixel"] = pixel_vs_latent(trained, steps, 64)
  if family.network_calls is not None:
    print("timing the sampler at batch 1 and 64 ...", flush=True)
    record["decoding"] = decoding_cost(family, trained.state, options, trained.spec.num_classes,
                                       seed)
  os.makedirs(results_dir, exist_ok=True)
  record["samples"] = save_samples(results_dir, name, samples, labels)
  record["grid"] = name + ".png"
  rows = trained.spec.num_classes if labelled and num >= trained.spec.num_classes else None
  images.save_grid(os.path.join(results_dir, record["grid"]),
                   _grid_samples(samples, labels, trained.spec.num_classes), rows)
  return _write_record(record, results_dir, command)


def decoding_cost(family: Any, state: Any, options: dict[str, Any], num_classes: int,
                  seed: int, batch_sizes: tuple[int, ...] = (1, 64)) -> dict[str, Any]:
  """What one sampler setting costs: network calls made one after another, FLOPs per image
  (XLA's count of the sampler with its loop written out, since XLA counts a loop body once)
  and, per batch size, images/s as the median of several calls (compilation apart)."""
  import functools
  import statistics
  import jax
  import jax.numpy as jnp
  from experiments.bench.unet_step import timed, xla_flops
  key = jax.random.key(seed)
  labels = lambda b: jnp.arange(b, dtype=jnp.int32) % num_classes
  unrolled = jax.jit(functools.partial(family.sample, **options, unroll=True), static_argnums=(2,))
  flops = xla_flops(unrolled.lower(state, key, 1, labels(1)).compile())
  out: dict[str, Any] = {"network_calls": int(family.network_calls(**options)),
                         "flops_per_image": flops}
  sample = jax.jit(functools.partial(family.sample, **options), static_argnums=(2,))
  for b in batch_sizes:
    batch_labels = labels(b)
    compiled = sample.lower(state, key, b, batch_labels).compile()
    calls = iter(range(10**6))
    times = timed(lambda: compiled(state, jax.random.fold_in(key, next(calls)), batch_labels),
                  n=10 if b == 1 else 3)
    out[f"images_per_s_b{b}"] = round(b / statistics.median(t for t, _ in times), 2)
  return out


def _token_defaults(config) -> dict[str, Any]:
  """A code model's configured sampler options (steps where it has them, guidance)."""
  from experiments.sampler_settings import TOKEN_STEP_KEYS
  step_key = TOKEN_STEP_KEYS[config.family]
  return {**({step_key: config[step_key]} if step_key else {}),
          "guidance_scale": config.guidance_scale,
          **({"typical_mass": config.typical_mass} if "typical_mass" in config else {}),
          **({"final_temperature": config.final_temperature}
             if config.get("final_temperature") is not None else {})}


def _write_record(record: dict[str, Any], results_dir: str, command: str) -> dict[str, Any]:
  """Adds the training provenance (the workdir's provenance.json), the checkout's commit and
  the command to `record` and writes results_dir/<name>.json."""
  from experiments import records
  from jaxgen import provenance
  trained = provenance.read(record["workdir"]) if "workdir" in record else []
  record["trained"] = trained
  record["trained_commits"] = provenance.trained_commits(trained)
  return records.write(record, results_dir, command)


def correct_bits(scorer: Any, images: Any, labels: Any) -> str:
  """'1'/'0' per image: whether `scorer` reads it as its label (what McNemar's test pairs)."""
  import numpy as np
  from experiments import records
  return records.encode_bits(scorer.logits_and_features(images)[0].argmax(-1) ==
                             np.asarray(labels))


def second_judge(dataset: str, data_dir: str | None, split: str, images: Any,
                 labels: Any) -> dict[str, Any]:
  """The MLP judge's reading of labelled images (judge2_cond_accuracy with its Wilson interval),
  its accuracy on the real `split` digits and its digest; {} without labels. A model tuned
  against the CNN scorer's kind of features shows it as a gap between the two judges."""
  from jaxgen.train.loop import trained_scorer
  if labels is None:
    return {}
  judge = trained_scorer(dataset, data_dir, reference_split=split, kind="mlp")
  return {**{f"judge2_{k}": v for k, v in judge.label_accuracy(images, labels).items()},
          "judge2_test_accuracy": judge.reference_accuracy, "judge2_digest": judge.digest,
          "judge2_kind": judge.kind}


def save_samples(results_dir: str, name: str, samples: Any, labels: Any) -> str:
  """Writes the scored samples (uint8) and labels as results_dir/<name>.samples.npz, so a paired
  FCD comparison (experiments.compare) or any later scorer can read the same images."""
  import numpy as np
  file_name = name + ".samples.npz"
  arrays = {"images": np.round(np.clip(samples, 0, 1) * 255).astype(np.uint8)}
  if labels is not None:
    arrays["labels"] = np.asarray(labels, np.int32)
  np.savez_compressed(os.path.join(results_dir, file_name), **arrays)
  return file_name


def classifier_record(trained: Any, workdir: str, seed: int) -> dict[str, Any]:
  """A classifier's test accuracy over the whole test split, with its Wilson interval, its
  per-digit correctness (for McNemar's test against another classifier on the same digits),
  and its training steps and time."""
  import jax
  import numpy as np
  from experiments import records
  from jaxgen.classifier.family import build_model
  from jaxgen.data.pipeline import SplitData
  from jaxgen.metrics.intervals import wilson_interval
  config = trained.config
  test = SplitData.open(config.dataset, "test", config.get("data_dir") or None).arrays()
  model = build_model(config, trained.spec)
  apply = jax.jit(lambda p, x: model.apply({"params": p}, x).argmax(-1))
  read = np.concatenate([np.asarray(apply(trained.state.params, test["image"][i:i + 500]))
                         for i in range(0, len(test["image"]), 500)])
  hits = read == test["label"]
  correct, n = int(hits.sum()), len(hits)
  low, high = wilson_interval(correct, n)
  return {"family": "classifier", "model": config.get("model", "cnn"),
          "workdir": os.path.abspath(workdir), "step": trained.step, **training_time(workdir),
          "split": "test", "num_test": n, "accuracy": correct / n,
          "accuracy_ci95_low": low, "accuracy_ci95_high": high,
          "correct": records.encode_bits(hits)}


# Families whose record is their reconstructions: the VQ tokenizer and the KL autoencoder.
FIRST_STAGES = ("vqvae", "kl_autoencoder")


def first_stage_record(trained: Any, workdir: str, seed: int) -> dict[str, Any]:
  """A tokenizer's or autoencoder's reconstructions of the test split, scored without leakage.

  Per image, over the whole test split: PSNR, and the scorer-feature distance between each
  reconstruction and its original (mean and SE each). FCD: the reconstructions of the first
  half of test against the statistics of the second half (which holds no original of them),
  with the floor at the same n from validation digits against the same half, and the
  scorer's accuracy against the true labels on them. The latent: the share of the codebook
  used (vqvae), or the latent shape and scale factor (kl_autoencoder); `_pairs` holds
  originals and reconstructions for a grid."""
  import jax
  import numpy as np
  from jaxgen.data.pipeline import SplitData
  from jaxgen.errors import UserError
  from jaxgen.metrics.intervals import mean_and_se
  from jaxgen.train.evaluation import Evaluator
  from jaxgen.train.mesh import make_mesh
  from jaxgen.train.loop import trained_scorer
  config = trained.config
  data_dir = config.get("data_dir") or None
  test = SplitData.open(config.dataset, "test", data_dir)
  evaluator = Evaluator(config, trained.family, test, trained.spec, make_mesh(), workdir,
                        trained_scorer)
  originals, recon, labels = evaluator.reconstruct_split(trained.state, test)
  mse = np.mean(np.square(recon - originals), axis=(1, 2, 3))  # [n]
  psnr, psnr_se = mean_and_se(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10)))
  half = len(recon) // 2
  scorer = trained_scorer(config.dataset, data_dir, reference_split=f"test[{half}:]")
  features = lambda x: scorer.logits_and_features(x)[1]
  distance, distance_se = mean_and_se(np.linalg.norm(features(recon) - features(originals),
                                                     axis=-1))
  # The floor at n: as many held-out validation digits as scored reconstructions.
  n = min(half, scorer.max_floor_samples)
  if n == 0:
    raise UserError(f"{config.dataset} has no held-out split for the reconstructions' floor")
  quality = scorer.report(recon[:n], labels[:n])
  if config.family == "vqvae":
    latent = {**trained.family.evaluate(trained.state, test, jax.random.key(seed)),
              "num_codes": int(config.num_codes)}
  else:
    from jaxgen.latent.autoencoder import FirstStage, build_autoencoder
    stage = FirstStage(build_autoencoder(config, trained.spec))
    latent = {"latent_shape": list(stage.latent_shape()),
              "scale_factor": float(stage.scale_factor(stage.freeze(trained.state)))}
  pairs = np.stack([originals[:32], recon[:32]], axis=1).reshape((-1,) + recon.shape[1:])
  return {"family": config.family, "workdir": os.path.abspath(workdir), "step": trained.step,
          **training_time(workdir), "split": "test", "num_test": len(recon),
          "psnr": float(psnr), "psnr_se": float(psnr_se),
          "feature_distance": float(distance), "feature_distance_se": float(distance_se),
          "num_scored": n, "fcd_reference": f"test[{half}:]",
          **{f"recon_{k}": float(v) for k, v in quality.items()},
          "scorer_digest": scorer.digest, **latent, "_pairs": pairs}


# Edit amounts, in units of the normalised code along the attribute's direction.
EDIT_AMOUNTS = (-2.0, -1.0, 0.0, 1.0, 2.0)


def diffae_record(trained: Any, workdir: str, num: int, seed: int) -> dict[str, Any]:
  """A Diffusion Autoencoder on the first `num` test digits: the PSNR of decode(z_sem, x_T)
  with x_T from DDIM inversion (mean and SE over images); the scorer on decodings of z_sem from
  a random x_T (the label kept, Wilson interval; FCD with floor and ceiling); and an edit sweep
  along the stroke-thickness direction of a logistic regression on normalised training codes
  (ink mass above the training median), each test digit decoded with its own x_T: mean ink
  mass and label kept per amount. `_grid` rows: originals, reconstructions, two decodings from
  random x_T, then the sweep."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  import tqdm
  from jaxgen.data import sources
  from jaxgen.latent import editing
  from jaxgen.latent.diffae_family import make_semantic_autoencoder, split_codes
  from jaxgen.metrics.intervals import mean_and_se
  from jaxgen.train.loop import trained_scorer
  config = trained.config
  data_dir = config.get("data_dir") or None
  auto = make_semantic_autoencoder(config, trained.spec)
  params = trained.state.ema_params
  test = sources.load_arrays(config.dataset, "test", data_dir)
  x = jnp.asarray(test["image"][:num], jnp.float32) / 255.0  # [n, h, w, c]
  labels = np.asarray(test["label"][:num])
  encode, invert, decode = (jax.jit(auto.encode), jax.jit(auto.invert), jax.jit(auto.decode))
  chunks = lambda a: [a[i:i + 100] for i in range(0, len(a), 100)]
  with tqdm.tqdm(total=4 + len(EDIT_AMOUNTS), desc="diffae", file=sys.stdout) as bar:
    z = jnp.concatenate([encode(params, c) for c in chunks(x)])  # [n, d]
    x_T = jnp.concatenate([invert(params, c, zc) for c, zc in zip(chunks(x), chunks(z))])
    bar.update(2)
    recon = np.concatenate([decode(params, c, zc) for c, zc in zip(chunks(x_T), chunks(z))])
    bar.update(1)
    noise = jax.random.normal(jax.random.key(seed), x.shape)
    from_code = np.concatenate([decode(params, c, zc) for c, zc in zip(chunks(noise), chunks(z))])
    bar.update(1)
    train = sources.load_arrays(config.dataset, "train", data_dir)["image"][:5000]
    train_codes = split_codes(auto, params, train)  # [m, d]
    mean, std = train_codes.mean(0), train_codes.std(0) + 1e-6
    ink = editing.ink_mass(train.astype(np.float32) / 255.0)
    direction = editing.fit_direction((train_codes - mean) / std, ink > np.median(ink))
    moved = editing.edit_codes((np.asarray(z) - mean) / std, direction,
                               np.asarray(EDIT_AMOUNTS)) * std + mean  # [k, n, d]
    edits = []
    for codes in moved:
      edits.append(np.concatenate([decode(params, c, jnp.asarray(zc, jnp.float32))
                                   for c, zc in zip(chunks(x_T), chunks(codes))]))
      bar.update(1)
  mse = np.mean(np.square(recon - np.asarray(x)), axis=(1, 2, 3))
  psnr, psnr_se = mean_and_se(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10)))
  scorer = trained_scorer(config.dataset, data_dir, reference_split="test")
  quality = scorer.report(from_code, labels)
  sweep = [{"amount": a, "ink_mass": float(np.mean(editing.ink_mass(e))),
            "label_kept": float(scorer.report(e, labels)["cond_accuracy"])}
           for a, e in zip(EDIT_AMOUNTS, edits)]
  rows = [np.asarray(x)[:10], recon[:10], from_code[:10],
          np.asarray(decode(params, jax.random.normal(jax.random.key(seed + 1), x[:10].shape),
                            z[:10]))] + [e[:10] for e in edits]
  return {"family": "diffae", "workdir": os.path.abspath(workdir), "step": trained.step,
          **training_time(workdir), "split": "test", "num_test": int(len(x)),
          "ddim_steps": auto.num_steps, "inversion_psnr": float(psnr),
          "inversion_psnr_se": float(psnr_se),
          **{f"from_code_{k}": float(v) for k, v in quality.items()},
          "scorer_digest": scorer.digest,
          **{f"from_code_{k}": v for k, v in second_judge(config.dataset, data_dir, "test",
                                                           from_code, labels).items()},
          "edit_attribute": "ink mass (stroke thickness)", "edit_sweep": sweep,
          "edit_monotonic": editing.is_monotonic([e["ink_mass"] for e in sweep]),
          "_grid": np.concatenate(rows)}


def translator_record(trained: Any, workdir: str) -> dict[str, Any]:
  """A two-domain translator's test record: each test domain translated whole and read by the
  other domain's judge (identity kept, with its Wilson interval; FCD to the target domain's
  test split with its interval, the floor from its validation split and the ceiling, and the
  untranslated images' FCD); `_grid` holds real | translated | back rows for a PNG."""
  from jaxgen.data.pipeline import PairedSplit, SplitData
  from jaxgen.train.evaluation import Evaluator
  from jaxgen.train.loop import trained_scorer
  from jaxgen.train.mesh import make_mesh
  config = trained.config.copy_and_resolve_references()
  data_dir = config.get("data_dir") or None
  with config.unlocked():  # the judges' FCD statistics then come from the test domains
    for key in ("eval_split", "eval_split_b"):
      config[key] = config[key].replace("validation", "test", 1)
  test = PairedSplit(SplitData.open(config.dataset, config.eval_split, data_dir),
                     SplitData.open(config.dataset, config.eval_split_b, data_dir))
  evaluator = Evaluator(config, trained.family, test, trained.spec, make_mesh(), workdir,
                        trained_scorer)
  print(f"translating {config.eval_split} and {config.eval_split_b} ...", flush=True)
  reports = evaluator.translation_reports(trained.state, second_judge=True)
  return {"family": config.family, "workdir": os.path.abspath(workdir), "step": trained.step,
          **training_time(workdir), "split": "test",
          "semantic_weight": float(config.get("semantic_weight", 0.0)),
          **{f"{d}_{k}": float(v) for d, r in reports.items() for k, v in r.items()},
          **{f"num_{d}": len(getattr(test, d[0])) for d in reports},
          "scorer_digest": evaluator.judge_digest(),
          "_grid": evaluator.translation_grid(trained.state)}


def _grid_samples(samples, labels, num_classes: int):
  """The first 64 samples, or for labelled samples one row per class (up to 8 each)."""
  import numpy as np
  if labels is None:
    return samples[:64]
  per_class = min(8, min(int(np.sum(labels == c)) for c in range(num_classes)))
  if per_class == 0:
    return samples[:64]
  return np.concatenate([samples[labels == c][:per_class] for c in range(num_classes)])


def _default_sampler(config) -> str:
  """How the family draws a sample by default, in a few words."""
  s = config.get("sampler")
  if config.family in ("ddpm", "ldm") and s is not None:
    extras = "".join(f" {k}={s[k]:g}" for k in ("eta", "guidance_scale") if s.get(k))
    return f"{s.kind}{s.num_steps}{extras}"
  from experiments.sampler_settings import TOKEN_STEP_KEYS, token_setting_name
  if config.family in TOKEN_STEP_KEYS:
    return token_setting_name(_token_defaults(config))
  if config.family == "ncsn":
    n = config.ncsn
    if n.get("sampler", "als") == "cas":
      return f"cas lr={n.step_lr:g}"
    if n.get("sampler", "als") == "pc":
      return f"pc steps={n.get('corrector_steps', 1)} snr={n.get('snr', 0.16):g}"
    return f"annealed Langevin ({n.steps_per_sigma} steps a level, lr={n.step_lr:g})"
  if config.family == "vae":
    return {"ae": "Gaussian fit of the codes", "vampprior": "z from the VampPrior"}.get(
        config.get("variant", ""), "z from N(0, I)")
  return "z from N(0, I)"


def _nll_estimator(config) -> str:
  """How the family's NLL figure is estimated, in words."""
  if config.family == "vae":
    return f"importance-weighted, K={config.iw_samples}"
  if config.get("nll_estimator", "importance") == "full":
    return "full bound (all T terms)"
  return (f"bound: {config.get('nll_exact_terms', 8)} exact terms + "
          f"{config.get('nll_draws', 24)} importance-sampled t per image")


def _fmt_nll(nll: dict | None) -> str:
  if not nll:
    return ""
  what = "-log p(x\\|y)" if nll["conditional"] else "-log p(x)"
  digits = 3 if nll["unit"] == "bits/dim" else 2
  return f"{what} {nll['value']:.{digits}f} ± {Z95 * nll['se']:.{digits}f} {nll['unit']}"


def _fmt_accuracy(r: dict, key: str) -> str:
  """record[key] with its Wilson interval (record[key + "_ci95_low" / "_high"])."""
  return f"{r[key]:.3f} ({r[key + '_ci95_low']:.3f}-{r[key + '_ci95_high']:.3f})"


def _fmt_rate(per_s: float) -> str:
  return f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:.3g}"


def _fmt_minutes(seconds: float | None) -> str:
  if seconds is None:
    return ""
  return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


def is_current(record: dict) -> bool:
  """Whether a record was scored by a pinned scorer (classifiers' records need no scorer)."""
  from jaxgen.metrics import pinned
  if record["family"] == "classifier":
    return True
  return record.get("scorer_digest") in {e["sha256"] for e in pinned.manifest().values()}


def markdown_tables(records: list[dict]) -> str:
  """The tables of the records scored by the pinned scorers, then those of older records in a
  section of their own (their scorer was retrained per machine: another scale); every number
  comes from a record."""
  from jaxgen.metrics import pinned
  current = [r for r in records if is_current(r)]
  older = [r for r in records if not is_current(r)]
  digests = ", ".join(f"{name} `{e['sha256'][:8]}`" for name, e in sorted(
      pinned.manifest().items()))
  out = [f"Scored by the pinned scorers ({digests}; sha256 prefixes of their parameters).", "",
         _tables(current, "")]
  if older:
    out += ["**Scored by an older scorer.** The records below were scored by a classifier "
            "retrained on each machine before the scorer was pinned: their FCDs and accuracies "
            "compare with nothing above, and with each other only where floor and ceiling "
            "match. They move up when rescored or retrained.", "", _tables(older, ", older scorer")]
  return "\n".join(out)


def _tables(records: list[dict], suffix: str) -> str:
  """One markdown table per family group of `records`; `suffix` follows each group's name."""
  out = []
  for group in dict.fromkeys(GROUPS.values()):
    rows = [r for r in records if GROUPS.get(r["family"]) == group]
    if not rows:
      continue
    out += [f"**{group}{suffix}** (test split; ± is a 95% interval: FCD bootstrap, accuracy Wilson, "
            "NLL 1.96 SE; smallest class: the smallest share of the samples the scorer gives one "
            "digit, 0.1 when balanced)", "",
            "| model | steps (train time) | sampler | n | FCD | floor | ceiling | "
            "smallest class | cond. accuracy | 2nd judge (MLP) | NLL | images/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["name"]):
      acc = _fmt_accuracy(r, "cond_accuracy") if "cond_accuracy" in r else ""
      judge2 = (_fmt_accuracy(r, "judge2_cond_accuracy") if "judge2_cond_accuracy" in r
                else "")
      # Mode coverage, for the records made since it was measured.
      share = f"{r['min_class_share']:.3f}" if "min_class_share" in r else ""
      out.append(
          f"| {r['name']} | {r.get('train_steps', r['step'])} "
          f"({_fmt_minutes(r.get('train_wall_s')) or 'time not logged'}) | {r['sampler']} | "
          f"{r['num_samples']} | {r['fcd']:.1f} ± {Z95 * r['fcd_sd']:.1f} | "
          f"{r['fcd_floor']:.1f} ± {Z95 * r['fcd_floor_sd']:.1f} | {r['fcd_ceiling']:.0f} | "
          f"{share} | {acc} | {judge2} | {_fmt_nll(r.get('nll'))} | "
          f"{_fmt_rate(r['images_per_s'])} |")
    out.append("")
    out += [f"- {r['name']} samples {r['speed_vs_pixel']['speedup']:.1f}x as fast as "
            f"pixel-space CFG DDPM at the same {r['speed_vs_pixel']['steps']} DDIM steps "
            f"(batch {r['speed_vs_pixel']['batch']}, w={r['speed_vs_pixel']['guidance_scale']:g}"
            f"; {_fmt_rate(r['speed_vs_pixel']['latent_images_per_s'])} against "
            f"{_fmt_rate(r['speed_vs_pixel']['pixel_images_per_s'])} images/s, timed "
            "alternately in one run)" for r in sorted(rows, key=lambda r: r["name"])
            if "speed_vs_pixel" in r]
    if any("speed_vs_pixel" in r for r in rows):
      out.append("")
    paired = paired_nll_differences(rows)
    if paired:
      out += paired + [""]
  out += sampler_grids(records, suffix)
  out += sweep_tables(records, suffix)
  decoding = sorted((r for r in records if "decoding" in r), key=lambda r: r["name"])
  if decoding:
    out += [f"**Decoding cost{suffix}** (the code models' records above; network calls made one after "
            "another; FLOPs per image as XLA counts them, guidance's second pass included; "
            "images/s: median of timed calls, compilation apart, each record timed in its own "
            "run under its own load: compare speeds only in a Speed table below, whose "
            "contenders were timed alternately in one run)", "",
            "| model | sampler | network calls | GFLOPs/image | images/s, batch 1 | "
            "images/s, batch 64 | FCD | cond. accuracy |", "|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['name']} | {r['sampler']} | {r['decoding']['network_calls']} | "
            f"{r['decoding']['flops_per_image'] / 1e9:.3g} | "
            f"{_fmt_rate(r['decoding']['images_per_s_b1'])} | "
            f"{_fmt_rate(r['decoding']['images_per_s_b64'])} | "
            f"{r['fcd']:.1f} ± {Z95 * r['fcd_sd']:.1f} | "
            f"{_fmt_accuracy(r, 'cond_accuracy')} |" for r in decoding]
    out.append("")
  translators = sorted((r for r in records if "ab_cond_accuracy" in r), key=lambda r: r["name"])
  if translators:
    out += [f"**Translators{suffix}** (test split, each domain translated whole; identity: the share "
            "of digits the target domain's judge reads as their own label, with its Wilson "
            "interval, by the CNN judge and by the MLP second judge, each with its accuracy on "
            "the target domain's real test digits; FCD to the target domain's test digits ± "
            "bootstrap 95%, its floor from held-out real digits of that domain, and the "
            "untranslated source's FCD)", "",
            "| model | steps (train time) | direction | n | identity kept (CNN judge; on real) | "
            "identity kept (MLP judge; on real) | FCD | floor | untranslated FCD |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in translators:
      for d, arrow in (("ab", "A->B"), ("ba", "B->A")):
        floor = (f"{r[d + '_fcd_floor']:.1f} ± {Z95 * r[d + '_fcd_floor_sd']:.1f}"
                 if d + "_fcd_floor" in r else "")
        judge2 = (f"{_fmt_accuracy(r, d + '_judge2_cond_accuracy')}; "
                  f"{r[d + '_judge2_test_accuracy']:.3f}" if d + "_judge2_cond_accuracy" in r
                  else "")
        out.append(
            f"| {r['name']} | {r.get('train_steps', r['step'])} "
            f"({_fmt_minutes(r.get('train_wall_s')) or 'time not logged'}) | {arrow} | "
            f"{r['num_' + d]} | {_fmt_accuracy(r, d + '_cond_accuracy')}; "
            f"{r[d + '_classifier_test_accuracy']:.3f} | {judge2} | "
            f"{r[d + '_fcd']:.1f} ± {Z95 * r[d + '_fcd_sd']:.1f} | {floor} | "
            f"{r[d + '_fcd_untranslated']:.1f} |")
    out.append("")
  stages = sorted((r for r in records if r["family"] in FIRST_STAGES), key=lambda r: r["name"])
  if stages:
    out += [f"**Tokenizers and autoencoders{suffix}** (test split; per image over all test "
            "digits: PSNR and the distance between the scorer's features of reconstruction and "
            "original, ± 1.96 SE; recon FCD: reconstructions of the first half of test against "
            "the second half's statistics, which hold none of their originals, ± bootstrap 95%, "
            "with the floor of as many validation digits against the same half; the scorer's "
            "accuracy against the true labels with its Wilson interval; latent: codebook usage, "
            "the share of codes some test image uses, or the latent shape and its scale factor)",
            "", "| model | steps (train time) | PSNR (dB) | feature distance | n | recon FCD | "
            "floor | recon accuracy | latent |", "|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['name']} | {r.get('train_steps', r['step'])} "
            f"({_fmt_minutes(r.get('train_wall_s')) or 'time not logged'}) | "
            f"{r['psnr']:.2f} ± {Z95 * r['psnr_se']:.2f} | "
            + (f"{r['feature_distance']:.2f} ± {Z95 * r['feature_distance_se']:.2f}"
               if "feature_distance" in r else "") + f" | {r['num_scored']} | "
            f"{r['recon_fcd']:.1f} ± {Z95 * r['recon_fcd_sd']:.1f} | "
            f"{r['recon_fcd_floor']:.1f} ± {Z95 * r['recon_fcd_floor_sd']:.1f} | "
            f"{_fmt_accuracy(r, 'recon_cond_accuracy')} | {_fmt_latent(r)} |" for r in stages]
    out.append("")
  diffaes = sorted((r for r in records if r["family"] == "diffae"), key=lambda r: r["name"])
  if diffaes:
    out += [f"**Diffusion autoencoders{suffix}** (first n test digits; PSNR of decode(z_sem, x_T), x_T "
            "by DDIM inversion, ± 1.96 SE; from z_sem alone: decoded from a random x_T, the "
            "label kept (Wilson interval) and FCD ± bootstrap 95% with its floor; edit sweep: "
            "mean ink mass at each step along the thickness direction, and the label kept)", "",
            "| model | steps (train time) | DDIM steps | n | PSNR (dB) | label kept from z_sem | "
            "FCD from z_sem | floor | edit sweep: ink mass (label kept) |",
            "|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['name']} | {r.get('train_steps', r['step'])} "
            f"({_fmt_minutes(r.get('train_wall_s')) or 'time not logged'}) | {r['ddim_steps']} | "
            f"{r['num_test']} | {r['inversion_psnr']:.2f} ± {Z95 * r['inversion_psnr_se']:.2f} | "
            f"{_fmt_accuracy(r, 'from_code_cond_accuracy')} | "
            f"{r['from_code_fcd']:.1f} ± {Z95 * r['from_code_fcd_sd']:.1f} | "
            f"{r['from_code_fcd_floor']:.1f} ± {Z95 * r['from_code_fcd_floor_sd']:.1f} | "
            + ", ".join(f"{e['amount']:+g}: {e['ink_mass']:.3f} ({e['label_kept']:.2f})"
                        for e in r["edit_sweep"]) + " |" for r in diffaes]
    out.append("")
  classifiers = sorted((r for r in records if r["family"] == "classifier"), key=lambda r: r["name"])
  if classifiers:
    out += [f"**Classifiers{suffix}** (test split; accuracy with its 95% Wilson interval)", "",
            "| model | network | steps (train time) | n | accuracy |", "|---|---|---|---|---|"]
    out += [f"| {r['name']} | {r['model']} | {r.get('train_steps', r['step'])} "
            f"({_fmt_minutes(r.get('train_wall_s')) or 'time not logged'}) | {r['num_test']} | "
            f"{r['accuracy']:.4f} ({r['accuracy_ci95_low']:.4f}-{r['accuracy_ci95_high']:.4f}) |"
            for r in classifiers]
    out.append("")
  return "\n".join(out)


def sampler_grids(records: list[dict], suffix: str) -> list[str]:
  """DDIM's Table 1 shape for each trained model sampled at several settings: FCD ± 95% by
  steps (rows) and DDIM eta or ancestral DDPM (columns), one spacing per table."""
  groups: dict[tuple[str, str], list[dict]] = {}
  for r in records:
    if "sampler_setting" in r:
      key = (os.path.basename(r["workdir"]), r["sampler_setting"]["spacing"])
      groups.setdefault(key, []).append(r)
  out = []
  for (training, spacing), rows in sorted(groups.items()):
    if len(rows) < 3:
      continue
    column = lambda s: "DDPM (ancestral)" if s["kind"] == "ddpm" else f"DDIM eta={s['eta']:g}"
    columns = sorted({column(r["sampler_setting"]) for r in rows},
                     key=lambda c: (c.startswith("DDPM"), c))
    cells = {(r["sampler_setting"]["steps"], column(r["sampler_setting"])): r for r in rows}
    n = sorted({r["num_samples"] for r in rows})
    out += [f"**Sampler grid: {training}{suffix}** (FCD ± 95% bootstrap on test, n = "
            f"{', '.join(map(str, n))}; {spacing} spacing of the kept timesteps; one trained "
            f"model, floor {rows[0]['fcd_floor']:.1f})", "",
            "| steps | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for steps in sorted({r["sampler_setting"]["steps"] for r in rows}):
      out.append(f"| {steps} | " + " | ".join(
          f"{cells[steps, c]['fcd']:.1f} ± {Z95 * cells[steps, c]['fcd_sd']:.1f}"
          if (steps, c) in cells else "" for c in columns) + " |")
    out.append("")
  return out


def comparison_tables(comparisons: list[dict]) -> str:
  """The comparison records: each paired test's sentence, and each alternated speed record as
  a table (images/s per batch size and the ratio to its first entry)."""
  out = []
  paired = [c for c in comparisons if c.get("kind") == "comparison"]
  if paired:
    out += ["**Paired comparisons** (experiments/results/comparisons/; McNemar's exact test on "
            "the same images, per-image likelihood differences, FCD differences by a joint "
            "bootstrap of both sample sets and the reference; 95% intervals)", ""]
    out += [f"- {c['a']} against {c['b']}, {s}" for c in paired for s in c["sentences"]]
    out.append("")
  for c in (c for c in comparisons if c.get("kind") == "speed"):
    batches = c["batch_sizes"]
    # The entries in the order given (records are written with sorted keys): the reference,
    # the one the ratios divide by, first.
    first_key = next(k for k in next(iter(c["entries"].values())) if k.startswith("ratio_to_"))
    reference = first_key[len("ratio_to_"):].rsplit("_b", 1)[0]
    names = c.get("order") or [reference] + sorted(n for n in c["entries"] if n != reference)
    out += [f"**Speed: {c['name']}** (images/s, median of {c['reps']} calls each, the "
            f"contenders called alternately in one run on {c['cpu_count']} cores, compilation "
            f"apart; ratio to {names[0]})", "",
            "| model | setting | " + " | ".join(f"batch {b} | ratio" for b in batches) + " |",
            "|---|---|" + "---|---|" * len(batches)]
    for name in names:
      e = c["entries"][name]
      out.append(f"| {name} | {e['setting']} | " + " | ".join(
          f"{_fmt_rate(e[f'images_per_s_b{b}'])} | {e[f'ratio_to_{names[0]}_b{b}']:.2f}"
          for b in batches) + " |")
    out.append("")
  return "\n".join(out)


def _fmt_latent(record: dict) -> str:
  """The latent cell of a first stage's row."""
  if record["family"] == "vqvae":
    return f"codebook usage {record['codebook_usage']:.3f} of {record['num_codes']}"
  shape = "x".join(str(v) for v in record["latent_shape"])
  return f"{shape}, scale factor {record['scale_factor']:.3f}"


def paired_nll_differences(records: list[dict]) -> list[str]:
  """Markdown lines comparing the NLLs of every two records of one kind (unit, conditional or
  not, same test images) by the mean and 95% interval of their per-image differences: the
  same digits' difficulty cancels, so the interval is far narrower than either SE."""
  import numpy as np
  from jaxgen.metrics.compare import paired_difference
  with_values = sorted((r for r in records if r.get("nll", {}).get("per_image")),
                       key=lambda r: r["name"])
  lines = []
  for i, a in enumerate(with_values):
    for b in with_values[i + 1:]:
      na, nb = a["nll"], b["nll"]
      if (na["unit"], na["conditional"], na["images"]) != (nb["unit"], nb["conditional"],
                                                           nb["images"]):
        continue
      d = paired_difference(np.asarray(na["per_image"]), np.asarray(nb["per_image"]))
      lines.append(f"- NLL {a['name']} - {b['name']}: {d['difference']:+.3f} ± "
                   f"{Z95 * d['difference_se']:.3f} {na['unit']} (paired over the same "
                   f"{na['images']} test images)")
  return lines


def mosaic(records: list[dict], results_dir: str, path: str) -> None:
  """All records' grids side by side, four to a row, each captioned with its name."""
  import numpy as np
  from PIL import Image, ImageDraw
  tiles = []
  for r in sorted((r for r in records if r.get("grid")), key=lambda r: r["name"]):
    grid = Image.open(os.path.join(results_dir, r["grid"])).convert("RGB")
    tile = Image.new("RGB", (grid.width, grid.height + 14), "white")
    tile.paste(grid, (0, 14))
    ImageDraw.Draw(tile).text((2, 1), r["name"], fill="black")
    tiles.append(np.asarray(tile))
  if not tiles:
    return
  h, w = max(t.shape[0] for t in tiles), max(t.shape[1] for t in tiles)
  cols = min(4, len(tiles))
  canvas = np.full((-(-len(tiles) // cols) * (h + 4), cols * (w + 4), 3), 255, np.uint8)
  for i, t in enumerate(tiles):
    y, x = (i // cols) * (h + 4), (i % cols) * (w + 4)
    canvas[y:y + t.shape[0], x:x + t.shape[1]] = t
  Image.fromarray(canvas).save(path)


def write_tables(results_dir: str, update_readme: bool) -> str:
  """Writes TABLES.md and mosaic.png (and the README section); returns the markdown."""
  from jaxgen.errors import UserError
  from experiments.records import load
  records = load(results_dir)
  text = markdown_tables(records)
  comparisons = load(os.path.join(results_dir, "comparisons"))
  if comparisons:
    text += "\n" + comparison_tables(comparisons)
  with open(os.path.join(results_dir, "TABLES.md"), "w") as f:
    f.write("<!-- made by `python -m experiments.report --tables`; do not edit -->\n\n" + text)
  mosaic(records, results_dir, os.path.join(results_dir, "mosaic.png"))
  plot_sweeps([r for r in records if is_current(r)], results_dir)
  if update_readme:
    readme = open(README).read()
    if BEGIN not in readme or END not in readme:
      raise UserError(f"README.md has no {BEGIN} ... {END} markers to write between")
    head, rest = readme.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(README, "w") as f:
      f.write(head + BEGIN + "\n\n" + text + "\n" + END + tail)
  return text


def main(argv: list[str]) -> None:
  del argv
  from experiments import backend
  backend.prepare()  # before the backend starts
  from jaxgen.errors import UserError
  try:
    if _F.tables.value == bool(_F.workdir.value):
      raise UserError("give either --workdir=DIR (score one model) or --tables")
    if _F.tables.value:
      print(write_tables(_F.results.value, _F.update_readme.value))
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
