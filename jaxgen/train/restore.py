"""Loading a trained experiment back from its workdir (for sampling and scoring)."""

import dataclasses
import json
from typing import Any

import jax
import ml_collections

from jaxgen import storage
from jaxgen.data.pipeline import global_step_index, to_global
from jaxgen.errors import UserError
from jaxgen.train.checkpoints import Checkpoints
from jaxgen.train.family import DataSpec, Family, make_family
from jaxgen.train.mesh import batch_sharded, make_mesh, replicated
from jaxgen.train.prepare import abstract_state, open_data


@dataclasses.dataclass
class Trained:
  """A restored experiment: its config, family, latest state and data description."""

  config: ml_collections.ConfigDict
  family: Family
  state: Any
  spec: DataSpec
  step: int


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run saved as `<workdir>/config.json`."""
  path = storage.join(workdir, "config.json")
  try:
    return ml_collections.ConfigDict(json.loads(storage.read_text(path)))
  except FileNotFoundError:
    raise UserError(f"{workdir} holds no config.json: is it the --workdir of a training run?") \
        from None
  except json.JSONDecodeError as e:
    raise UserError(f"{path} is not valid JSON ({e}); restore it from the launch command") from None


def restore_trained(workdir: str) -> Trained:
  """Restores the latest checkpoint in `workdir` with the family its config names."""
  config = load_config(workdir)
  train, _, spec = open_data(config)
  family = make_family(config, spec)
  ckpt = Checkpoints(workdir)
  step = ckpt.latest_step()
  if step is None:
    raise UserError(f"no checkpoint in {ckpt.directory}; train first (python -m experiments.main)")
  mesh = make_mesh()
  # Any batch that divides the devices gives the state's shapes.
  example = to_global(train.train_batches(jax.device_count(), config.seed)[global_step_index(0)],
                      batch_sharded(mesh))
  init_rng = jax.random.split(jax.random.key(config.seed), 3)[0]
  abstract = abstract_state(family, init_rng, example, replicated(mesh))
  state = ckpt.restore(abstract, step)
  ckpt.close()
  return Trained(config=config, family=family, state=state, spec=spec, step=step)
