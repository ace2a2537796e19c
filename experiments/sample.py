"""Writes samples from a trained generative experiment.

  python -m experiments.sample --workdir=DIR --num_samples=N --output=OUT.npz [--labels=0,1,2]

Loads the latest checkpoint in DIR (EMA weights where the family keeps them) and writes
`images` (uint8, N x H x W x C) and, for conditional models, `labels` to OUT.npz, plus a grid
PNG beside it (OUT.png). Diffusion models also take --sampler=ddpm|ddim, --steps, --eta,
--guidance_scale (classifier-free) and --classifier_workdir/--classifier_scale (classifier
guidance with a trained noisy_classifier).
"""

import os
import sys

from absl import app, flags, logging

_WORKDIR = flags.DEFINE_string("workdir", None, "Workdir of a finished or running training.")
_NUM = flags.DEFINE_integer("num_samples", 64, "How many samples.")
_OUTPUT = flags.DEFINE_string("output", None, "Output .npz path.")
_LABELS = flags.DEFINE_string("labels", None, "Comma-separated labels, cycled to num_samples "
                              "(conditional models; default: all classes in turn).")
_SEED = flags.DEFINE_integer("seed", 0, "Sampling seed.")
# Diffusion models only; unset flags keep the experiment's config.sampler.
_SAMPLER = flags.DEFINE_enum("sampler", None, ["ddpm", "ddim"], "Diffusion sampler.")
_STEPS = flags.DEFINE_integer("steps", None, "Sampling steps (a respaced subset of the T steps).")
_ETA = flags.DEFINE_float("eta", None, "DDIM eta (0: deterministic).")
_GUIDANCE = flags.DEFINE_float("guidance_scale", None, "Classifier-free guidance weight w.")
_CLASSIFIER = flags.DEFINE_string("classifier_workdir", None,
                                  "Workdir of a trained noisy_classifier for classifier guidance.")
_CLASSIFIER_SCALE = flags.DEFINE_float("classifier_scale", 1.0, "Classifier guidance scale.")


flags.mark_flags_as_required(["workdir", "output"])


def sampler_options(config) -> dict:
  """Keyword arguments for a diffusion family's sampler from the flags that were set."""
  options = {key: flag.value for key, flag in (("kind", _SAMPLER), ("num_steps", _STEPS),
                                                ("eta", _ETA), ("guidance_scale", _GUIDANCE))
             if flag.value is not None}
  if _CLASSIFIER.value:
    from jaxgen.diffusion.classifier_family import load_guide
    options["classifier"] = load_guide(_CLASSIFIER.value, config.diffusion)
    options["classifier_scale"] = _CLASSIFIER_SCALE.value
  return options


def main(argv: list[str]) -> None:
  del argv
  logging.set_verbosity(logging.WARNING)
  import jax
  import numpy as np
  from jaxgen import compilation_cache, xla_tuning
  xla_tuning.apply(measure_if_unknown=True)  # before the backend starts (once per machine)
  compilation_cache.enable()
  from jaxgen import images
  from jaxgen.errors import UserError
  from jaxgen.train.evaluation import Evaluator
  from jaxgen.train.restore import restore_trained
  from jaxgen.train.mesh import make_mesh
  try:
    if _NUM.value <= 0:
      raise UserError(f"--num_samples must be positive, got {_NUM.value}")
    trained = restore_trained(_WORKDIR.value)
    family = trained.family
    if family.sample is None:
      raise UserError(f"the {trained.config.family} family does not generate images")
    labels = None
    if family.conditional:
      classes = trained.spec.num_classes
      try:
        base = ([int(v) for v in _LABELS.value.split(",")] if _LABELS.value
                else list(range(classes)))
      except ValueError:
        raise UserError(f"--labels must be comma-separated integers, got {_LABELS.value!r}") \
            from None
      if min(base) < 0 or max(base) >= classes:
        raise UserError(f"labels must lie in [0, {classes - 1}]")
      labels = np.resize(np.asarray(base, np.int32), _NUM.value)
    elif _LABELS.value:
      raise UserError(f"the {trained.config.family} model is unconditional; drop --labels")
    evaluator = Evaluator(trained.config, family, None, trained.spec, make_mesh(), _WORKDIR.value)
    if trained.config.family != "ddpm" and any(
        f.present for f in (_SAMPLER, _STEPS, _ETA, _GUIDANCE, _CLASSIFIER)):
      raise UserError(f"--sampler/--steps/--eta/--guidance_scale/--classifier_workdir apply to "
                      f"diffusion models, not the {trained.config.family} family")
    options = sampler_options(trained.config)
    samples = evaluator.generate(trained.state, jax.random.key(_SEED.value), _NUM.value, labels,
                                 options)
    out = images.to_uint8(samples)
    arrays = {"images": out} if labels is None else {"images": out, "labels": labels}
    try:
      os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
      np.savez(_OUTPUT.value, **arrays)
      grid = images.save_grid(os.path.splitext(_OUTPUT.value)[0] + ".png", out)
    except OSError as e:
      raise UserError(f"cannot write {_OUTPUT.value} ({e.strerror}); choose another --output") \
          from None
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(f"wrote {len(out)} samples from step {trained.step} to {_OUTPUT.value} and {grid}")


if __name__ == "__main__":
  app.run(main)
