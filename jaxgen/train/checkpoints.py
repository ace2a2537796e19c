"""orbax checkpoints of the TrainState: keep the last N, resume from the latest complete one.

orbax writes each step to a temporary folder and renames it on commit, so a `kill -9` during a
save leaves the previous step restorable; unfinished folders are ignored on restore. A committed
step that cannot be read (a damaged disk, a truncated copy) is set aside by the loop's resume,
which falls back to the step before (`restore_newest_readable`). A workdir in an object store
keeps its checkpoints there through a local staging folder (`jaxgen.train.checkpoint_store`).
"""

import os
import shutil
from typing import Callable

import jax
import orbax.checkpoint as ocp

from jaxgen import storage
from jaxgen.errors import UserError
from jaxgen.train import checkpoint_store
from jaxgen.train.state import TrainState


class Checkpoints:
  """Saves and restores TrainStates under `<workdir>/checkpoints`."""

  def __init__(self, workdir: str, max_to_keep: int = 3):
    # Where the checkpoints are (named in messages), and the local folder orbax writes: the
    # same but for a workdir in an object store, whose steps are mirrored from a staging copy.
    self.directory = storage.join(storage.resolve(workdir), "checkpoints")
    self._store = self.directory if storage.is_url(workdir) else None
    if self._store and jax.process_count() > 1:
      raise UserError(f"a workdir in an object store ({workdir}) takes one process: its "
                      "checkpoints are staged on one host's disk; use a shared folder for "
                      "multi-process runs")
    self._local = checkpoint_store.staging_for(self._store) if self._store else self.directory
    # Only a writer mirrors its staging folder back: a reader (sampling, a report) of a store
    # workdir that is still training lacks the newer steps, and would delete them there.
    self._changed = False
    # Folders left by a save killed mid-way are removed on start.
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                           cleanup_tmp_directories=True)
    self._manager = ocp.CheckpointManager(self._local, options=options)
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
    """Starts an asynchronous save of `state` at its step (waits for the previous one, and
    copies it to the object store of a workdir there)."""
    self._sync()
    self._changed = True
    self._manager.save(int(jax.device_get(state.step)), args=ocp.args.StandardSave(state))

  def _read(self, abstract_state: TrainState, step: int) -> tuple[TrainState | None, str]:
    """(the state at `step`, "") or (None, why it cannot be read)."""
    try:
      return self._manager.restore(step, args=ocp.args.StandardRestore(abstract_state)), ""
    except Exception as e:  # orbax raises many types for damaged folders
      return None, str(e).splitlines()[0][:200] if str(e) else type(e).__name__

  def restore(self, abstract_state: TrainState, step: int | None = None) -> TrainState:
    """Restores `step` (default latest) into the shapes and shardings of `abstract_state`;
    a step that cannot be read is a UserError (nothing is moved)."""
    step = self.latest_step() if step is None else step
    state, reason = self._read(abstract_state, step)
    if state is None:
      folder = storage.join(self.directory, str(step))
      raise UserError(
          f"checkpoint {folder} cannot be restored ({reason}); move that folder aside to resume "
          "from the previous checkpoint, or start afresh in a new --workdir")
    return state

  def restore_newest_readable(self, abstract_state: TrainState,
                              log: Callable[[str], None] = print) -> TrainState:
    """The newest checkpoint that can be read. Newer ones that cannot are renamed
    `<step>.damaged` (kept for a person to inspect; orbax ignores the name), each with one line
    to `log`, so an unattended restart resumes by itself. Nothing is renamed unless an older
    step was read: when none can be (a changed model, say, rather than a damaged disk), it is
    a UserError naming the newest's reason. On several hosts every host must read a step for
    it to count."""
    steps = sorted(self._manager.all_steps(), reverse=True)
    unreadable: list[tuple[int, str]] = []
    for step in steps:
      state, reason = self._read(abstract_state, step)
      if _everywhere(state is not None):
        break
      unreadable.append((step, reason or "another host could not read it"))
    else:
      step, reason = unreadable[0]
      raise UserError(
          f"no checkpoint in {self.directory} can be restored (the newest, {step}: {reason}); "
          "if the model or code changed, resume with the code that wrote them, or start afresh "
          "in a new --workdir")
    for bad, reason in unreadable:
      folder = os.path.join(self._local, str(bad))
      aside = folder + ".damaged"
      if jax.process_index() == 0:
        suffix = 1
        while os.path.exists(aside):  # an earlier run's damaged copy of the same step
          aside, suffix = f"{folder}.damaged{suffix}", suffix + 1
        os.rename(folder, aside)
      log(f"checkpoint {storage.join(self.directory, str(bad))} cannot be restored ({reason}); "
          f"renamed it "
          f"{os.path.basename(aside)} and resumed from step {step}")
    if unreadable:
      if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("damaged checkpoints set aside")
      self._manager.reload()
      self._changed = True
      self._sync()
    return state

  def _sync(self) -> None:
    """For a workdir in an object store: waits for the running save and mirrors the staging
    folder's steps to the store (a no-op for local workdirs, whose saves stay asynchronous)."""
    if self._store and self._changed and jax.process_index() == 0:
      self._manager.wait_until_finished()
      checkpoint_store.upload(self._local, self._store)

  def close(self) -> None:
    """Finishes pending saves (copied to the store for a workdir there) and releases orbax's
    threads."""
    self._manager.wait_until_finished()
    self._sync()
    self._manager.close()
    if self._store:  # the staging copy is this process's alone
      shutil.rmtree(self._local, ignore_errors=True)


def _everywhere(ok: bool) -> bool:
  """Whether `ok` holds on every host (on one host: ok itself)."""
  if jax.process_count() == 1:
    return ok
  import numpy as np
  from jax.experimental import multihost_utils
  return bool(np.all(multihost_utils.process_allgather(np.asarray(ok))))
