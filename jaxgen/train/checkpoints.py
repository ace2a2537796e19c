"""orbax checkpoints of the TrainState: keep the last N, resume from the latest complete one.

orbax writes each step to a temporary folder and renames it on commit, so a `kill -9` during a
save leaves the previous step restorable; unfinished folders are ignored on restore.
"""

import os

import jax
import orbax.checkpoint as ocp

from jaxgen.errors import UserError
from jaxgen.train.state import TrainState


class Checkpoints:
  """Saves and restores TrainStates under `<workdir>/checkpoints`."""

  def __init__(self, workdir: str, max_to_keep: int = 3):
    self.directory = os.path.abspath(os.path.join(workdir, "checkpoints"))
    # Folders left by a save killed mid-way are removed on start.
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                           cleanup_tmp_directories=True)
    self._manager = ocp.CheckpointManager(self.directory, options=options)
    if jax.process_count() == 1:
      # Replica-parallel saving lets several hosts each write part of a replicated array; with
      # one process it only slices every replica on its device, one small compile per leaf and
      # device (200 of them, 12 s, for the tiny LDM on 4 devices). The one process writes the
      # first replica whole instead.
      ocp.type_handlers.register_type_handler(
          jax.Array, ocp.type_handlers.ArrayHandler(use_replica_parallel=False), override=True)

  def latest_step(self) -> int | None:
    """The newest complete step on disk, or None."""
    return self._manager.latest_step()

  def save(self, state: TrainState) -> None:
    """Starts an asynchronous save of `state` at its step (waits for the previous one)."""
    self._manager.save(int(jax.device_get(state.step)), args=ocp.args.StandardSave(state))

  def restore(self, abstract_state: TrainState, step: int | None = None) -> TrainState:
    """Restores `step` (default latest) into the shapes and shardings of `abstract_state`."""
    step = self.latest_step() if step is None else step
    try:
      return self._manager.restore(step, args=ocp.args.StandardRestore(abstract_state))
    except Exception as e:  # orbax raises many types for damaged folders
      folder = os.path.join(self.directory, str(step))
      reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
      raise UserError(
          f"checkpoint {folder} cannot be restored ({reason}); move that folder aside to resume "
          "from the previous checkpoint, or start afresh in a new --workdir") from None

  def close(self) -> None:
    """Finishes pending saves and releases orbax's threads."""
    self._manager.wait_until_finished()
    self._manager.close()
