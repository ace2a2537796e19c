"""What `experiments.report` measures for each kind of trained model, apart from the sample
scores every generative model shares: a classifier's accuracy over the whole test split, a first
stage's reconstructions, a diffusion autoencoder's inversion and edits, a translator's two
domains, a code model's decoding cost; and the pieces every record holds (training time, saved
samples, per-sample correctness, the second judge's reading, the sampler in words).
"""

import json
import os
import sys
from typing import Any

from jaxgen import storage



def training_time(workdir: str) -> dict[str, float]:
  """Steps trained and the training wall time summed over metrics.jsonl's train lines (the
  loop writes each log interval's time, evaluations excluded; older runs lack it)."""
  from jaxgen.train.writers import metric_lines
  steps, seconds, timed = 0, 0.0, True
  lines = metric_lines(workdir)
  if not lines:
    return {}
  for line in lines:
    entry = json.loads(line)
    if entry.get("split") == "train":
      steps = max(steps, int(entry["step"]))
      timed &= "wall_s" in entry
      seconds += entry.get("wall_s", 0.0)
  return {"train_steps": steps, **({"train_wall_s": round(seconds, 1)} if timed else {})}


def sampler_flops(family: Any, state: Any, options: dict[str, Any], seed: int) -> float:
  """FLOPs to draw one image with `options`: XLA's count of the sampler with its loop written
  out (XLA counts a loop body once), guidance's second pass included. Counted on the lowered
  program, not a compiled one: compiling 196 cached calls written out took 8 minutes here, and
  the two counts agree within 0.3% (MaskGIT-8: 1.504 against 1.509 GFLOPs)."""
  import jax
  import jax.numpy as jnp
  from jaxgen.train.profiling import model_flops
  labels = jnp.zeros((1,), jnp.int32) if family.conditional else None  # any label costs the same
  draw = lambda s, k, y: family.sample(s, k, 1, y, **options, unroll=True)
  return model_flops(draw, state, jax.random.key(seed), labels)


def decoding_cost(family: Any, state: Any, options: dict[str, Any], num_classes: int,
                  seed: int, batch_sizes: tuple[int, ...] = (1, 64)) -> dict[str, Any]:
  """What one sampler setting costs: network calls made one after another, FLOPs per image
  (XLA's count of the sampler with its loop written out, since XLA counts a loop body once)
  and, per batch size, images/s as the median of several calls (compilation apart)."""
  import functools
  import statistics
  import jax
  import jax.numpy as jnp
  from experiments.bench.unet_step import timed
  key = jax.random.key(seed)
  labels = lambda b: jnp.arange(b, dtype=jnp.int32) % num_classes
  out: dict[str, Any] = {"network_calls": int(family.network_calls(**options)),
                         "flops_per_image": sampler_flops(family, state, options, seed)}
  sample = jax.jit(functools.partial(family.sample, **options), static_argnums=(2,))
  for b in batch_sizes:
    batch_labels = labels(b)
    compiled = sample.lower(state, key, b, batch_labels).compile()
    calls = iter(range(10**6))
    times = timed(lambda: compiled(state, jax.random.fold_in(key, next(calls)), batch_labels),
                  n=10 if b == 1 else 3)
    out[f"images_per_s_b{b}"] = round(b / statistics.median(t for t, _ in times), 2)
  return out


def token_defaults(config) -> dict[str, Any]:
  """A code model's configured sampler options (steps where it has them, guidance)."""
  from experiments.sampler_settings import TOKEN_STEP_KEYS
  step_key = TOKEN_STEP_KEYS[config.family]
  return {**({step_key: config[step_key]} if step_key else {}),
          "guidance_scale": config.guidance_scale,
          **({"typical_mass": config.typical_mass} if "typical_mass" in config else {}),
          **({"final_temperature": config.final_temperature}
             if config.get("final_temperature") is not None else {})}


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
          "workdir": storage.resolve(workdir), "step": trained.step, **training_time(workdir),
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
  return {"family": config.family, "workdir": storage.resolve(workdir), "step": trained.step,
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
  return {"family": "diffae", "workdir": storage.resolve(workdir), "step": trained.step,
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
  return {"family": config.family, "workdir": storage.resolve(workdir), "step": trained.step,
          **training_time(workdir), "split": "test",
          "semantic_weight": float(config.get("semantic_weight", 0.0)),
          **{f"{d}_{k}": float(v) for d, r in reports.items() for k, v in r.items()},
          **{f"num_{d}": len(getattr(test, d[0])) for d in reports},
          "scorer_digest": evaluator.judge_digest(),
          "_grid": evaluator.translation_grid(trained.state)}


def grid_samples(samples, labels, num_classes: int):
  """The first 64 samples, or for labelled samples one row per class (up to 8 each)."""
  import numpy as np
  if labels is None:
    return samples[:64]
  per_class = min(8, min(int(np.sum(labels == c)) for c in range(num_classes)))
  if per_class == 0:
    return samples[:64]
  return np.concatenate([samples[labels == c][:per_class] for c in range(num_classes)])


def default_sampler(config) -> str:
  """How the family draws a sample by default, in a few words."""
  s = config.get("sampler")
  if config.family in ("ddpm", "ldm") and s is not None:
    extras = "".join(f" {k}={s[k]:g}" for k in ("eta", "guidance_scale") if s.get(k))
    return f"{s.kind}{s.num_steps}{extras}"
  from experiments.sampler_settings import TOKEN_STEP_KEYS, token_setting_name
  if config.family in TOKEN_STEP_KEYS:
    return token_setting_name(token_defaults(config))
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


def nll_estimator(config) -> str:
  """How the family's NLL figure is estimated, in words."""
  if config.family == "vae":
    return f"importance-weighted, K={config.iw_samples}"
  if config.get("nll_estimator", "importance") == "full":
    return "full bound (all T terms)"
  return (f"bound: {config.get('nll_exact_terms', 8)} exact terms + "
          f"{config.get('nll_draws', 24)} importance-sampled t per image")
