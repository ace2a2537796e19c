"""Writes samples from a trained generative experiment.

  python -m experiments.sample --workdir=DIR --num_samples=N --output=OUT.npz [--labels=0,1,2]

Loads the latest checkpoint in DIR (EMA weights where the family keeps them) and writes
`images` (uint8, N x H x W x C) and, for conditional or classifier-guided models, `labels` to
OUT.npz, plus a grid PNG beside it (OUT.png). Diffusion models also take --sampler=ddpm|ddim,
--steps, --eta, --guidance_scale (classifier-free) and --classifier_workdir/--classifier_scale
(classifier guidance with a trained noisy_classifier, also of an unconditional model: --labels
are then the classes it guides towards). A text-conditioned latent diffusion model (ldm) takes
--prompt="a bold seven, slanted right" (any text: every sample reads it; without it, --labels
are read through the held-out prompt templates) or --prompts=FILE (one prompt a line,
--num_samples images of each, the grid one row a prompt, `prompts` saved beside `images`), and
decodes through its autoencoder.
"""

import os
import sys
from types import SimpleNamespace

import numpy as np
from absl import app, flags

# Flag holders, filled by define_flags() only when this file runs as a program: tests import
# choose_labels into a process that also holds experiments.score's and experiments.report's
# flags, and absl refuses a second --workdir in one process.
_F = SimpleNamespace()


def define_flags() -> None:
  """Registers the command-line flags (once, from the program's entry point) into `_F`."""
  _F.workdir = flags.DEFINE_string("workdir", None, "Workdir of a finished or running training.")
  _F.num = flags.DEFINE_integer("num_samples", 64, "How many samples.")
  _F.output = flags.DEFINE_string("output", None, "Output .npz path.")
  _F.labels = flags.DEFINE_string("labels", None, "Comma-separated labels, cycled to num_samples "
                                  "(conditional or classifier-guided models; default: all "
                                  "classes in turn).")
  _F.seed = flags.DEFINE_integer("seed", 0, "Sampling seed.")
  # Diffusion models only; unset flags keep the experiment's config.sampler.
  _F.sampler = flags.DEFINE_enum("sampler", None, ["ddpm", "ddim"], "Diffusion sampler.")
  _F.steps = flags.DEFINE_integer("steps", None,
                                  "Sampling steps (a respaced subset of the T steps).")
  _F.eta = flags.DEFINE_float("eta", None, "DDIM eta (0: deterministic).")
  _F.guidance = flags.DEFINE_float("guidance_scale", None, "Classifier-free guidance weight w.")
  _F.classifier = flags.DEFINE_string(
      "classifier_workdir", None, "Workdir of a trained noisy_classifier for classifier guidance.")
  _F.classifier_scale = flags.DEFINE_float("classifier_scale", 1.0, "Classifier guidance scale.")
  _F.prompt = flags.DEFINE_string("prompt", None, "Text prompt of a text-conditioned ldm model.")
  _F.prompts = flags.DEFINE_string("prompts", None, "A UTF-8 file of prompts, one a line, for a "
                                   "text-conditioned ldm model: --num_samples images of each.")
  _F.signals = flags.DEFINE_string(
      "signals", None, "A mindvis model: .npz of brain signals to reconstruct images from (a "
      "'signals' array [n, voxels], or a GOD-layout subject file: its averaged test signals).")
  flags.mark_flags_as_required(["workdir", "output"])


def choose_labels(family: str, conditional: bool, guided: bool, labels_flag: str | None,
                  num_classes: int, num: int) -> np.ndarray | None:
  """The labels to sample with: int32 [num], --labels cycled (default: every class in turn),
  or None where labels do not apply.

  Labels apply to a conditional model and to any classifier-guided one (`guided`), where they
  are the classes the classifier steers towards; `num_classes` is then the classifier's.
  Raises UserError for labels that are not integers in [0, num_classes), and for --labels on
  an unconditional model without a classifier, which would silently ignore them.
  """
  from jaxgen.errors import UserError
  if not (conditional or guided):
    if labels_flag:
      raise UserError(f"the {family} model is unconditional; drop --labels (or guide it with "
                      "--classifier_workdir)")
    return None
  try:
    base = ([int(v) for v in labels_flag.split(",")] if labels_flag
            else list(range(num_classes)))
  except ValueError:
    raise UserError(f"--labels must be comma-separated integers, got {labels_flag!r}") from None
  if min(base) < 0 or max(base) >= num_classes:
    raise UserError(f"labels must lie in [0, {num_classes - 1}]")
  return np.resize(np.asarray(base, np.int32), num)  # [num]


def sampler_options(config) -> dict:
  """Keyword arguments for a diffusion family's sampler from the flags that were set."""
  options = {key: flag.value for key, flag in (("kind", _F.sampler), ("num_steps", _F.steps),
                                                ("eta", _F.eta), ("guidance_scale", _F.guidance))
             if flag.value is not None}
  if _F.classifier.value:
    from jaxgen.diffusion.classifier_family import load_guide
    options["classifier"] = load_guide(_F.classifier.value, config.diffusion)
    options["classifier_scale"] = _F.classifier_scale.value
  return options


def read_prompts(path: str) -> list[str]:
  """The non-blank lines of a UTF-8 prompts file; a one-line error for a missing, undecodable
  or empty file."""
  from jaxgen.errors import UserError
  try:
    with open(path, encoding="utf-8") as f:
      lines = [line.strip() for line in f if line.strip()]
  except FileNotFoundError:
    raise UserError(f"--prompts={path}: no such file; give a text file, one prompt a line") \
        from None
  except UnicodeDecodeError as e:
    raise UserError(f"--prompts={path} is not UTF-8 text ({e.reason} at byte {e.start})") \
        from None
  if not lines:
    raise UserError(f"--prompts={path} holds no prompt; write one prompt a line")
  return lines


def save(out: np.ndarray, arrays: dict[str, np.ndarray], rows: int | None = None) -> str:
  """Writes --output (.npz of `arrays`) and its grid of `out` (uint8 images, `rows` rows when
  given); the grid's path."""
  from jaxgen import images
  from jaxgen.errors import UserError
  try:
    os.makedirs(os.path.dirname(os.path.abspath(_F.output.value)), exist_ok=True)
    np.savez(_F.output.value, **arrays)
    return images.save_grid(os.path.splitext(_F.output.value)[0] + ".png", out, rows)
  except OSError as e:
    raise UserError(f"cannot write {_F.output.value} ({e.strerror}); choose another --output") \
        from None


def load_samples(path: str) -> tuple[np.ndarray, np.ndarray | None]:
  """Images [n, h, w, c] as float32 in [0, 1] and labels [n] (or None) from an .npz that `save`
  wrote (or any with the same arrays); a one-line UserError for a file that is not one."""
  from jaxgen.errors import UserError
  try:
    with np.load(path) as archive:
      arrays = {k: archive[k] for k in archive.files}
  except (OSError, ValueError) as e:
    raise UserError(f"cannot read {path} as an .npz of samples ({e})") from None
  if "images" not in arrays or arrays["images"].ndim != 4:
    raise UserError(f"{path} needs an 'images' array [n, h, w, c]; it holds "
                    f"{', '.join(f'{k}{list(v.shape)}' for k, v in arrays.items()) or 'nothing'}")
  images = arrays["images"]
  images = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else \
      images.astype(np.float32)
  if images.min() < 0.0 or images.max() > 1.0:
    raise UserError(f"{path}: float images must lie in [0, 1] (got {images.min():.3g}.."
                    f"{images.max():.3g}); write uint8 0..255 or rescale")
  labels = arrays.get("labels")
  if labels is not None and labels.shape != images.shape[:1]:
    raise UserError(f"{path}: 'labels' has shape {list(labels.shape)}, needs [{len(images)}]")
  return images, labels


def reconstruct_signals(trained) -> np.ndarray:
  """A mindvis model's reconstructions (uint8 [n, h, w, c]) of the --signals file."""
  import jax
  from jaxgen import images
  from jaxgen.data import brain
  from jaxgen.errors import UserError
  if trained.config.family != "mindvis":
    raise UserError(f"--signals needs a mindvis model; {_F.workdir.value} holds a "
                    f"{trained.config.family} run")
  if _F.signals.value is None:
    raise UserError("a mindvis model reconstructs what was seen: give --signals=FILE.npz")
  from jaxgen.train.restore import load_config
  c = trained.config
  patch = load_config(c.mbm_workdir).model.patch if c.mbm_workdir else c.encoder.patch
  signals = brain.read_signals(_F.signals.value, trained.spec.signal_length, patch)
  fn = jax.jit(trained.family.reconstruct)
  rng = jax.random.key(_F.seed.value)
  chunk = 64
  out = [np.asarray(fn(trained.state, {"signal": signals[i:i + chunk]}, jax.random.fold_in(rng, i)))
         for i in range(0, len(signals), chunk)]
  return images.to_uint8(np.concatenate(out))


def main(argv: list[str]) -> None:
  """Restores --workdir, samples with the chosen sampler and labels, writes OUT.npz and OUT.png."""
  del argv
  from experiments import backend
  backend.prepare()  # before the backend starts
  import jax
  from jaxgen import images
  from jaxgen.errors import UserError
  from jaxgen.latent.ldm_family import TEXT_CONTEXTS
  from jaxgen.train.evaluation import Evaluator
  from jaxgen.train.loop import trained_scorer
  from jaxgen.train.restore import restore_trained
  from jaxgen.train.mesh import make_mesh
  try:
    if _F.num.value <= 0:
      raise UserError(f"--num_samples must be positive, got {_F.num.value}")
    trained = restore_trained(_F.workdir.value)
    family = trained.family
    if _F.signals.value is not None or trained.config.family == "mindvis":
      out = reconstruct_signals(trained)
      grid = save(out, {"images": out})
      print(f"wrote {len(out)} reconstructions from step {trained.step} to {_F.output.value} "
            f"and {grid}")
      return
    if family.sample is None:
      raise UserError(f"the {trained.config.family} family does not generate images")
    name = trained.config.family
    if name not in ("ddpm", "ldm") and any(
        f.present for f in (_F.sampler, _F.steps, _F.eta, _F.guidance, _F.classifier)):
      raise UserError(f"--sampler/--steps/--eta/--guidance_scale/--classifier_workdir apply to "
                      f"diffusion models, not the {name} family")
    if name == "ldm" and _F.classifier.present:
      raise UserError("classifier guidance applies to pixel-space ddpm models; guide an ldm "
                      "model with --guidance_scale")
    prompted = _F.prompt.value is not None or _F.prompts.value is not None
    if prompted and trained.config.get("context") not in TEXT_CONTEXTS:
      raise UserError(f"--prompt/--prompts need a text-conditioned ldm model; "
                      f"{_F.workdir.value} holds a {name} run" +
                      (" conditioned on labels" if name == "ldm" else ""))
    if _F.prompts.value is not None and (_F.prompt.value is not None or _F.labels.value):
      raise UserError("give --prompts alone, not with --prompt or --labels")
    options = sampler_options(trained.config)
    if _F.prompts.value is not None:
      from jaxgen.latent import prompts
      texts = read_prompts(_F.prompts.value)
      tokens = np.stack([prompts.tokenize(t) for t in texts])  # [P, L]
      n = _F.num.value
      samples = family.sample(trained.state, jax.random.key(_F.seed.value), len(texts) * n,
                              None, prompt_tokens=np.repeat(tokens, n, axis=0), **options)
      out = images.to_uint8(np.asarray(samples))  # [P n, h, w, c], prompt by prompt
      grid = save(out, {"images": out, "prompts": np.repeat(np.array(texts), n)},
                  rows=len(texts))
      print(f"wrote {len(out)} samples ({n} of each of {len(texts)} prompts) from step "
            f"{trained.step} to {_F.output.value} and {grid}")
      return
    if _F.prompt.value is not None:
      from jaxgen.latent import prompts
      options["prompt_tokens"] = prompts.tokenize(_F.prompt.value)  # [L], for every sample
    guide = options.get("classifier")
    # A guide's labels index its own classes, whatever the model was trained on.
    classes = guide[0].num_classes if guide is not None else trained.spec.num_classes
    labels = choose_labels(trained.config.family, family.conditional, guide is not None,
                           _F.labels.value, classes, _F.num.value)
    if _F.prompt.value is not None:
      if _F.labels.value:
        raise UserError("give --prompt or --labels, not both")
      labels = None  # the prompt is the condition
    evaluator = Evaluator(trained.config, family, None, trained.spec, make_mesh(),
                          _F.workdir.value, trained_scorer)
    samples = evaluator.generate(trained.state, jax.random.key(_F.seed.value), _F.num.value,
                                 labels, options)
    out = images.to_uint8(samples)
    grid = save(out, {"images": out} if labels is None else {"images": out, "labels": labels})
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(f"wrote {len(out)} samples from step {trained.step} to {_F.output.value} and {grid}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
