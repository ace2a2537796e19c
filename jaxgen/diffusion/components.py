"""What the diffusion families build from a config: optimizer, Spec, schedule, U-Net, and the
image scaling. The per-family modules import these; `jaxgen.diffusion.family` imports the
per-family modules, so the arrows point one way.
"""

import ml_collections
import optax

from jaxgen.diffusion import process, schedules
from jaxgen.errors import UserError, enum_choice
from jaxgen.nets.unet import UNet
from jaxgen.train import precision
from jaxgen.train.family import DataSpec


def optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Adam with linear warmup and global-norm clipping, as DDPM trained (Ho et al. appendix B)."""
  lr = optax.linear_schedule(0.0, config.learning_rate, max(config.get("warmup_steps", 0), 1))
  return optax.chain(optax.clip_by_global_norm(config.get("grad_clip", 1.0)), optax.adam(lr))


def make_spec(config: ml_collections.ConfigDict) -> process.Spec:
  """The typed `Spec` from config.diffusion's strings, with a one-line error for bad names."""
  d = config.diffusion
  return process.Spec(
      mean_type=enum_choice(process.MeanType, d.get("mean_type", "eps"), "diffusion.mean_type"),
      var_type=enum_choice(process.VarType, d.get("var_type", "fixed_large"),
                           "diffusion.var_type"),
      loss_type=enum_choice(process.LossType, d.get("loss_type", "mse"), "diffusion.loss_type"),
      hybrid_lambda=d.get("hybrid_lambda", 1e-3),
      clip_x0=d.get("clip_x0", True))


def make_schedule(config: ml_collections.ConfigDict):
  """(float64 betas, Schedule) from config.diffusion.schedule and num_timesteps."""
  d = config.diffusion
  if d.schedule == "linear":
    betas = schedules.linear_betas(d.num_timesteps)
  elif d.schedule == "cosine":
    betas = schedules.cosine_betas(d.num_timesteps)
  else:
    raise UserError(f"config.diffusion.schedule must be 'linear' or 'cosine', got {d.schedule!r}")
  return betas, schedules.from_betas(betas)


def make_unet(config: ml_collections.ConfigDict, data_spec: DataSpec, out_channels: int,
              num_classes: int | None) -> UNet:
  """The U-Net described by config.model for images of data_spec.image_shape."""
  m = config.model
  levels = len(m.channel_mult)
  h, w, _ = data_spec.image_shape
  if h % 2 ** (levels - 1) or w % 2 ** (levels - 1):
    raise UserError(f"images {h}x{w} cannot be halved {levels - 1} times; shorten "
                    "config.model.channel_mult")
  return UNet(out_channels=out_channels, base_channels=m.base_channels,
              channel_mult=tuple(m.channel_mult), num_res_blocks=m.num_res_blocks,
              attention_resolutions=tuple(m.attention_resolutions), dropout=m.dropout,
              num_classes=num_classes, head_dim=m.get("head_dim", 32),
              dtype=precision.compute_dtype(config))


def to_signed(images):
  """[0, 1] images -> [-1, 1], the range the diffusion process assumes."""
  return images * 2.0 - 1.0


def to_unit(x):
  """[-1, 1] samples -> [0, 1] images, clipped."""
  return (x.clip(-1.0, 1.0) + 1.0) / 2.0
