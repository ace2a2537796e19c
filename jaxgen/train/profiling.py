"""`config.profile_steps = "A:B"`: a jax.profiler trace of training steps A..B-1 in the workdir.

The trace lands in `<workdir>/profile/plugins/profile/<run>/` (TensorBoard's layout), so
`tensorboard --logdir <workdir>/profile` opens it in the Profile tab, as does Perfetto
(`*.trace.json.gz`). Only process 0 traces. Steps are 0-based loop steps: "10:15" traces five
steps after the tenth, well past the first step's compilation.
"""

import dataclasses
import os
from typing import Any

import jax

from jaxgen import storage
from jaxgen.errors import UserError


def parse_window(text: str) -> tuple[int, int] | None:
  """"A:B" -> (A, B) with 0 <= A < B; "" -> None; anything else is a UserError."""
  if not text:
    return None
  try:
    first, last = (int(part) for part in text.split(":"))
  except ValueError:
    raise UserError(f"profile_steps={text!r} is not A:B; write e.g. --config.profile_steps=10:15"
                    ) from None
  if not 0 <= first < last:
    raise UserError(f"profile_steps={text!r} needs 0 <= A < B (steps A to B-1 are traced)")
  return first, last


@dataclasses.dataclass
class ProfileWindow:
  """Starts the profiler before step `first` and stops it after step `last - 1`."""

  window: tuple[int, int] | None
  directory: str
  active: bool = False

  @classmethod
  def from_config(cls, config: Any, workdir: str) -> "ProfileWindow":
    """The window of config.profile_steps (absent or "": none), tracing into workdir/profile."""
    window = parse_window(str(config.get("profile_steps", "") or ""))
    if jax.process_index() != 0:
      window = None
    if window and storage.is_url(workdir):  # jax's profiler writes through local files
      raise UserError(f"profile_steps needs a local workdir, not {workdir}; profile a run in "
                      "a local folder")
    return cls(window, os.path.join(workdir, "profile"))

  def before(self, step: int) -> None:
    """Called before training step `step` runs."""
    if self.window and step == self.window[0] and not self.active:
      jax.profiler.start_trace(self.directory)
      self.active = True

  def after(self, step: int, state: Any) -> None:
    """Called after step `step` was dispatched: waits for it, then stops at the window's end."""
    if self.active and step + 1 >= self.window[1]:
      jax.block_until_ready(state)  # the trace must hold the steps' device work
      self.close()

  def close(self) -> None:
    """Stops a running trace (also when the loop ends early or fails)."""
    if self.active:
      jax.profiler.stop_trace()
      self.active = False
