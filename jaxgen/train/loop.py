"""The one train loop: data, mesh, jit, checkpoints and resume, periodic eval/samples/logs."""

import json
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen import provenance, storage
from jaxgen.data.pipeline import global_step_index, local_batch_size, to_global
from jaxgen.errors import UserError
from jaxgen.metrics import quality
from jaxgen.train import accumulate, evaluation, periodic, scorers
from jaxgen.train.checkpoints import Checkpoints
from jaxgen.train.compile import run_once
from jaxgen.train.family import make_family
from jaxgen.train.mesh import batch_sharded, make_mesh, replicated
from jaxgen.train.preemption import Preempted, PreemptionWatch
from jaxgen.train.prepare import abstract_state, open_data
from jaxgen.train.profiling import ProfileWindow
from jaxgen.train.writers import MetricWriter, Progress, to_scalars

REQUIRED_KEYS = ("family", "dataset", "batch_size", "num_train_steps", "seed", "log_every_steps",
                 "eval_every_steps", "checkpoint_every_steps")


class NonFiniteError(UserError):
  """A loss or metric became NaN or Inf."""


def prepare_workdir(workdir: str) -> str:
  """Creates `workdir` (a local folder, or a prefix in an object store: `gs://...`) and checks
  it is writable; returns its absolute path (a URL as given)."""
  return storage.check_writable(workdir)


# Keys that may change between a run and its resumption (budget and reporting, not the model).
_RESUMABLE_KEYS = {"num_train_steps", "log_every_steps", "eval_every_steps",
                   "checkpoint_every_steps", "max_checkpoints", "fcd_num_samples", "grid_size",
                   "sample_batch_size", "eval_batch_size", "data_dir", "iw_samples",
                   "score_identity", "nll_eval_examples",
                   # How a diffusion model is sampled at eval time, not what it learns.
                   "sampler",
                   # How the same global batch is computed and observed, not what it learns.
                   "grad_accum_steps", "profile_steps",
                   # What a resume does with a checkpoint it cannot read.
                   "damaged_checkpoints"}


def check_same_experiment(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Refuses to resume a workdir's checkpoints under a config that changes the experiment."""
  path = storage.join(workdir, "config.json")
  if not (storage.exists(path) and storage.exists(storage.join(workdir, "checkpoints"))):
    return
  try:
    saved = json.loads(storage.read_text(path))
  except json.JSONDecodeError:
    return  # unreadable: the checkpoint restore decides
  current = json.loads(config.to_json_best_effort())
  changed = sorted(k for k in set(saved) | set(current)
                   if k not in _RESUMABLE_KEYS and saved.get(k) != current.get(k))
  if changed:
    diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed[:4])
    raise UserError(f"{workdir} holds a run of a different experiment ({diffs}); "
                    "use a new --workdir, or the original config to resume")


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Checks the keys every experiment config must have."""
  missing = [k for k in REQUIRED_KEYS if k not in config]
  if missing:
    raise UserError(f"config lacks {', '.join(missing)}; every experiment config needs "
                    f"{', '.join(REQUIRED_KEYS)}")
  if config.num_train_steps < 0 or config.batch_size <= 0:
    raise UserError("num_train_steps must be >= 0 and batch_size > 0")
  eval_batch = config.get("eval_batch_size", config.batch_size)
  if eval_batch % jax.device_count():
    raise UserError(f"eval_batch_size={eval_batch} does not divide evenly over "
                    f"{jax.device_count()} devices; use a multiple of {jax.device_count()}")


@jax.jit
def _all_finite(tree: Any) -> jax.Array:
  """True when every float leaf of `tree` is free of NaN and Inf.

  One reduction over the leaves concatenated, not one per leaf: XLA took 24 s to compile 300
  per-leaf reductions and their stack (4.3 s for the tiny LDM's parameters), against 1.2 s for
  this. The copy it makes is the size of the parameters, once a checkpoint.
  """
  leaves = [x.ravel() for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]
  return jnp.isfinite(jnp.concatenate(leaves)).all() if leaves else jnp.array(True)


def _check_finite(step: int, metrics: dict[str, float], ckpt: Checkpoints) -> None:
  bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
  if bad:
    last = ckpt.latest_step()
    kept = f"the last good checkpoint (step {last}) is kept in {ckpt.directory}" if last else \
        "no checkpoint had been saved"
    raise NonFiniteError(f"{', '.join(f'{k}={v}' for k, v in bad.items())} at step {step}; {kept}; "
                         "lower the learning rate or check the data")


def trained_scorer(dataset: str, data_dir: str | None = None, train_split: str = "train",
                   reference_split: str = "validation", kind: str = "cnn") -> quality.Scorer:
  """`scorers.trained_scorer` with this loop to train an unpinned scorer (once, cached): what
  the loop's evaluation and the experiments score with."""
  return scorers.trained_scorer(dataset, data_dir, train_split, reference_split, kind,
                                train_fn=train_and_evaluate)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, float]:
  """Trains `config`'s experiment in `workdir`, resuming from its latest checkpoint.

  Returns the final evaluation metrics.
  """
  validate_config(config)
  workdir = prepare_workdir(workdir)
  check_same_experiment(config, workdir)
  if jax.process_index() == 0:
    storage.write_text(storage.join(workdir, "config.json"), config.to_json_best_effort(indent=2))

  # ---------------------------------------------------------------- data, mesh, family
  train, test, spec = open_data(config)
  mesh = make_mesh()
  repl, data_sharding = replicated(mesh), batch_sharded(mesh)
  local_batch_size(config.batch_size)  # clear error when the batch does not divide devices
  train_ds = train.train_batches(config.batch_size, config.seed)
  family = make_family(config, spec)
  if accumulate.steps_from_config(config) > 1 and not family.grad_accum:
    raise UserError(f"the {config.family} family does not accumulate gradients (its players "
                    "alternate or it keeps batch statistics); remove grad_accum_steps or set it "
                    "to 1")
  profile = ProfileWindow.from_config(config, workdir)

  root = jax.random.key(config.seed)
  init_rng, train_rng, eval_rng = jax.random.split(root, 3)
  example = to_global(train_ds[global_step_index(0)], data_sharding)

  # ---------------------------------------------------------------- state: restore or init
  ckpt = Checkpoints(workdir, config.get("max_checkpoints", 3))
  on_damaged = config.get("damaged_checkpoints", "fall_back")
  if on_damaged not in ("fall_back", "stop"):
    raise UserError(f"config.damaged_checkpoints must be 'fall_back' (set a damaged checkpoint "
                    f"aside and resume from the one before) or 'stop', got {on_damaged!r}")
  try:
    if ckpt.latest_step() is not None:
      abstract = abstract_state(family, init_rng, example, repl)
      state = (ckpt.restore_newest_readable(abstract) if on_damaged == "fall_back"
               else ckpt.restore(abstract))
    else:
      state = run_once(family.create_state, init_rng, example, out_shardings=repl)
  except BaseException:
    ckpt.close()
    raise
  start = int(jax.device_get(state.step))
  if jax.process_index() == 0 and start < int(config.num_train_steps):
    provenance.record_start(workdir, start)  # the code that trains from here

  train_step = jax.jit(family.train_step, in_shardings=(repl, data_sharding, repl),
                       out_shardings=(repl, repl), donate_argnums=(0,))
  evaluator = evaluation.Evaluator(config, family, test, spec, mesh, workdir, trained_scorer)
  is_main = jax.process_index() == 0
  writer = MetricWriter(workdir, enabled=is_main, resume_step=start)
  total = int(config.num_train_steps)
  progress = Progress(start, total, enabled=is_main)
  if start:
    progress.message(f"resuming from step {start} in {ckpt.directory}")
  final: dict[str, float] = {}
  watch = PreemptionWatch()
  try:
    watch.install()  # SIGTERM / SIGINT from here on: finish the step, save, stop
    # -------------------------------------------------------------- the loop
    pending: tuple[int, Any] | None = None  # last step's metrics, checked one step late
    window: list[dict[str, float]] = []
    # Wall time of the training steps since the last log, written with each train log line
    # (evaluation and checkpointing excluded), so a report can sum a run's training time
    # over resumes.
    interval_start, elapsed = time.perf_counter(), 0.0
    for step in range(start, total):
      profile.before(step)
      batch = to_global(train_ds[global_step_index(step)], data_sharding)
      state, metrics = train_step(state, batch, jax.random.fold_in(train_rng, step))
      profile.after(step, state)
      if pending is not None:  # fetching the previous step's metrics overlaps this step
        window.append(to_scalars(pending[1]))
        _check_finite(pending[0], window[-1], ckpt)
      pending = (step + 1, metrics)
      done = step + 1
      due = {name: periodic.due(done, config[key], total) for name, key in
             (("log", "log_every_steps"), ("eval", "eval_every_steps"),
              ("ckpt", "checkpoint_every_steps"))}
      preempted = watch.stop_requested(done) and done < total
      if preempted:  # a preemption notice: log, save and stop (a due evaluation waits)
        due = {"log": True, "ckpt": True, "eval": False}
      if not any(due.values()):
        continue
      window.append(to_scalars(pending[1]))  # waits for the step: the time below includes it
      _check_finite(done, window[-1], ckpt)
      pending = None
      elapsed += time.perf_counter() - interval_start
      if due["log"]:
        mean = {k: float(np.mean([w[k] for w in window])) for k in window[-1]}
        writer.write(done, "train", dict(mean, wall_s=elapsed))
        elapsed = 0.0
        progress.update(done, mean)
        window = []
      with progress.paused():  # steps/s and the ETA are the training steps' own
        if due["ckpt"]:
          # A finite loss can still come with non-finite gradients: never save such a state.
          if not bool(_all_finite(state.params)):
            _check_finite(done, {"parameters": float("nan")}, ckpt)
          ckpt.save(state)
        if due["eval"]:
          final = evaluator.run(state, done, eval_rng)
          writer.write(done, "eval", final)  # config.eval_split: validation
          progress.message(f"step {done} eval: " +
                           " ".join(f"{k}={v:.4g}" for k, v in final.items()))
      if preempted:
        raise Preempted(done, watch.reason)  # the finally below waits for the save
      interval_start = time.perf_counter()
    if start >= total and total > 0:  # already finished: evaluate the final state again
      final = evaluator.run(state, total, eval_rng)
  finally:
    watch.uninstall()
    profile.close()
    ckpt.close()
    writer.close()
    progress.close()
  return final
