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
  c.grid_size = 16 if tiny else 64  # images in each eval's grid; 0: no sample or recon grids
  c.sample_batch_size = 256
  # Samples scored by FCD / conditional accuracy at each eval (0: skip, e.g. in tiny runs).
  c.fcd_num_samples = 0 if tiny else 1000
  # Microbatches per optimizer update (jaxgen.train.accumulate): the same global batch in 1/k
  # of the memory, for families without batch statistics.
  c.grad_accum_steps = 1
  # "A:B" writes a jax.profiler trace of steps A..B-1 to <workdir>/profile (TensorBoard).
  c.profile_steps = ""
  return c


def is_tiny(arg: str | None, has_paper: bool = False) -> bool:
  """Parses the config argument (`:tiny` after the config path; `:paper` where the experiment
  has a paper-shape variant, `has_paper`)."""
  if arg in (None, "", "default"):
    return False
  if arg == "tiny":
    return True
  if arg == "paper" and has_paper:
    return False
  allowed = "':tiny', ':paper'" if has_paper else "':tiny'"
  raise ValueError(f"unknown config argument {arg!r}; use {allowed} or nothing")


def paper_run(c: ml_collections.ConfigDict, dataset: str, batch_size: int, num_train_steps: int,
              compute_dtype: str = "bfloat16") -> None:
  """Turns `c`, in place, into an accelerator run on a published tfds dataset: the paper's
  batch and steps, bfloat16 compute (float32 master weights), evaluation and checkpoints at its
  scale, and the last 5% of train held out as the validation split."""
  c.dataset = dataset
  # Published datasets have no validation split: hold out the last 5% of train for tuning.
  c.train_split, c.eval_split = "train[:95%]", "train[95%:]"
  c.batch_size = batch_size
  c.num_train_steps = num_train_steps
  c.compute_dtype = compute_dtype
  c.log_every_steps = 100
  c.eval_every_steps = 10_000
  c.checkpoint_every_steps = 5_000
  c.fcd_num_samples = 0  # FCD's scorer is trained on digits; the paper's metric is FID
