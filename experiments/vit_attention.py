"""Attention maps of a trained ViT classifier for a few test digits, as one PNG.

  python -m experiments.vit_attention --workdir=runs/vit [--num_digits=8] [--output=PATH.png]

One row per digit: the digit, the class token's attention rollout over the patches laid over
it (red), then the last block's class-token attention of each head. The title line printed
gives each digit's label and prediction. Default output: <workdir>/attention.png.
"""

import sys
from types import SimpleNamespace

import numpy as np
from absl import app, flags

_F = SimpleNamespace()
_SCALE = 3  # each 28x28 panel drawn at 84x84


def define_flags() -> None:
  """Registers the command-line flags (once, from the program's entry point) into `_F`."""
  _F.workdir = flags.DEFINE_string("workdir", None, "Workdir of a trained vit experiment.")
  _F.num = flags.DEFINE_integer("num_digits", 8, "Test digits to draw (the first ones).")
  _F.output = flags.DEFINE_string("output", None, "PNG path; default <workdir>/attention.png.")


def _upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  """Patch maps [..., gh, gw] -> [..., h, w] by repeating each patch, scaled to [0, 1] per map."""
  gh, gw = maps.shape[-2:]
  up = np.repeat(np.repeat(maps, size[0] // gh, axis=-2), size[1] // gw, axis=-1)
  low = up.min(axis=(-2, -1), keepdims=True)
  high = up.max(axis=(-2, -1), keepdims=True)
  return (up - low) / np.maximum(high - low, 1e-12)


def panels(images: np.ndarray, rollout_map: np.ndarray, last_map: np.ndarray) -> np.ndarray:
  """RGB panels [b * (2 + heads), h, w, 3] in [0, 1]: digit, rollout over digit, each head."""
  b, h, w, _ = images.shape
  grey = np.repeat(images, 3, axis=-1)  # [b, h, w, 3]
  roll = _upsample(rollout_map, (h, w))  # [b, h, w]
  overlay = 0.5 * grey
  overlay[..., 0] += 0.5 * roll  # red where the class token looks
  heads = _upsample(last_map, (h, w))[..., None].repeat(3, axis=-1)  # [b, heads, h, w, 3]
  rows = [np.concatenate([grey[i:i + 1], overlay[i:i + 1], heads[i]]) for i in range(b)]
  return np.concatenate(rows)


def main(argv: list[str]) -> None:
  """Restores --workdir's ViT, computes the maps of the first test digits, writes the PNG."""
  del argv
  from experiments import backend
  backend.prepare()  # before the backend starts
  import jax
  from jaxgen import images as images_lib, storage
  from jaxgen.classifier.attention_maps import vit_attention
  from jaxgen.classifier.family import build_model
  from jaxgen.data.pipeline import SplitData
  from jaxgen.errors import UserError
  from jaxgen.train.restore import restore_trained
  try:
    if _F.num.value <= 0:
      raise UserError(f"--num_digits must be positive, got {_F.num.value}")
    trained = restore_trained(_F.workdir.value)
    config = trained.config
    if config.family != "classifier" or config.get("model", "cnn") != "vit":
      raise UserError(f"{_F.workdir.value} is a {config.family} "
                      f"({config.get('model', '')}) run; attention maps need a vit run")
    model = build_model(config, trained.spec)
    if model.pool != "cls":
      raise UserError("attention maps read the class token: train the ViT with vit.pool='cls'")
    test = SplitData.open(config.dataset, "test", config.get("data_dir") or None).arrays()
    images = np.asarray(test["image"][:_F.num.value], np.float32)  # [b, h, w, c]
    out = jax.jit(lambda p, x: vit_attention(model, p, x))(trained.state.params, images)
    grid = panels(images, np.asarray(out["rollout_map"]), np.asarray(out["last_map"]))
    grid = np.kron(grid, np.ones((1, _SCALE, _SCALE, 1), np.float32))
    path = _F.output.value or storage.join(_F.workdir.value, "attention.png")
    try:
      images_lib.save_grid(path, grid, rows=len(images))
    except OSError as e:
      raise UserError(f"cannot write {path} ({e.strerror}); choose another --output") from None
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  predicted = np.asarray(out["logits"]).argmax(-1)
  print("labels:     ", " ".join(str(int(v)) for v in test["label"][:len(images)]))
  print("predictions:", " ".join(str(int(v)) for v in predicted))
  print(f"wrote {path}: per row the digit, the rollout (red) and the last block's "
        f"{model.num_heads} heads, from step {trained.step}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
