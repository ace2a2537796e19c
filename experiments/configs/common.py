"""Loop settings every experiment config shares; each config starts from `base(tiny)`."""

import ml_collections


def base(tiny: bool) -> ml_collections.ConfigDict:
  """The loop's keys with defaults for a real run, or for a seconds-long run when `tiny`."""
  c = ml_collections.ConfigDict()
  c.dataset = "embedded_digits"
  c.data_dir = ""  # empty: $TFDS_DATA_DIR or ~/tensorflow_datasets
  # Training evaluates, selects and is tuned on validation; only experiments.report reads test.
  c.train_split, c.eval_split = "train", "validation"
  c.seed = 0
  c.batch_size = 32 if tiny else 128
  c.eval_batch_size = 200
  c.num_train_steps = 20 if tiny else 4000
  c.log_every_steps = 5 if tiny else 100
  c.eval_every_steps = 10 if tiny else 1000
  c.checkpoint_every_steps = 10 if tiny else 500
  c.max_checkpoints = 3
  # Tiny runs draw a 16-image grid: a grid of 64 from a 50-step sampler was a third of a tiny
  # diffusion run's time in the tests.
  c.grid_size = 16 if tiny else 64
  c.sample_batch_size = 256
  # Samples scored by FCD / conditional accuracy at each eval (0: skip, e.g. in tiny runs).
  c.fcd_num_samples = 0 if tiny else 1000
  return c


def is_tiny(arg: str | None) -> bool:
  """Parses the config argument (`:tiny` after the config path)."""
  if arg in (None, "", "default"):
    return False
  if arg == "tiny":
    return True
  raise ValueError(f"unknown config argument {arg!r}; use ':tiny' or nothing")
