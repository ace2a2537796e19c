"""Latent against pixel-space diffusion sampling speed, side by side in one run.

Times a trained latent diffusion model's sampler (DDIM in the 8x8x4 latent, then the
autoencoder's decoder) against the pixel-space conditional DDPM of experiments/configs/cfg.py
(the same sampler on 28x28 digits; untrained parameters cost the same as trained ones), at the
same number of steps, batch and guidance weight. Calls alternate between the two so that load
from other processes falls on both; compilation is excluded (each sampler is compiled and run
once first).

  python -m experiments.bench.latent_speed --workdir=runs/ldm [--steps=50 --batch=64]

Prints one JSON line: images/s of each and their ratio (latent / pixel).
"""

from typing import Any


def pixel_vs_latent(trained: Any, num_steps: int, batch: int, reps: int = 3,
                    pixel_config_arg: str | None = None,
                    guidance_scale: float | None = None) -> dict[str, Any]:
  """Images/s of `trained` (an ldm run, as restore_trained returns it) and of an untrained
  pixel-space conditional DDPM (experiments/configs/cfg.py at `pixel_config_arg`) with DDIM at
  `num_steps` steps, batch `batch` and guidance weight `guidance_scale` (default: the ldm's
  config's) on both; medians of `reps` alternating calls each, compilation excluded."""
  import jax
  import jax.numpy as jnp
  from experiments.configs import cfg
  from jaxgen.train.family import make_family
  w = float(trained.config.sampler.get("guidance_scale", 0.0) if guidance_scale is None
            else guidance_scale)
  pixel_config = cfg.get_config(pixel_config_arg)
  pixel = make_family(pixel_config, trained.spec)
  h, wd, c = trained.spec.image_shape
  example = {"image": jnp.zeros((1, h, wd, c)), "label": jnp.zeros((1,), jnp.int32)}
  # Jitted: an eager init compiles every initializer and layer op on its own (a minute here).
  pixel_state = jax.jit(pixel.create_state)(jax.random.key(0), example)
  labels = jnp.arange(batch, dtype=jnp.int32) % trained.spec.num_classes
  key = jax.random.key(1)
  options = dict(kind="ddim", num_steps=num_steps, guidance_scale=w)
  from experiments.bench.alternate import time_alternately
  runs = {}
  for name, family, state in (("latent", trained.family, trained.state),
                              ("pixel", pixel, pixel_state)):
    fn = jax.jit(lambda s, k, y, f=family: f.sample(s, k, batch, y, **options))
    runs[name] = lambda i, fn=fn, state=state: fn(state, jax.random.fold_in(key, i), labels)
  rate = {n: batch / s for n, s in time_alternately(runs, reps).items()}
  return {"steps": num_steps, "batch": batch, "guidance_scale": w, "reps": reps,
          "latent_images_per_s": round(rate["latent"], 2),
          "pixel_images_per_s": round(rate["pixel"], 2),
          "speedup": round(rate["latent"] / rate["pixel"], 2)}


def main() -> None:
  """Command line: --workdir of an ldm run, --steps, --batch, --reps."""
  import argparse
  import json
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--workdir", required=True)
  p.add_argument("--steps", type=int, default=50)
  p.add_argument("--batch", type=int, default=64)
  p.add_argument("--reps", type=int, default=3)
  a = p.parse_args()
  from experiments import backend
  backend.prepare()
  from jaxgen.train.restore import restore_trained
  trained = restore_trained(a.workdir)
  print(json.dumps(pixel_vs_latent(trained, a.steps, a.batch, a.reps)))


if __name__ == "__main__":
  main()
