"""`config.profile_steps = "A:B"`: a jax.profiler trace of training steps A..B-1 in the workdir;
and `model_flops`, XLA's count of a function's arithmetic.

The trace lands in `<workdir>/profile/plugins/profile/<run>/` (TensorBoard's layout), so
`tensorboard --logdir <workdir>/profile` opens it in the Profile tab, as does Perfetto
(`*.trace.json.gz`). Only process 0 traces. Steps are 0-based loop steps: "10:15" traces five
steps after the tenth, well past the first step's compilation.
"""

import dataclasses
import os
from typing import Any, Callable

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


def model_flops(fn: Callable, *args: Any) -> float:
  """XLA's FLOP count of fn(*args), lowered for the CPU whatever the device.

  Why the CPU: on GPU, XLA hands convolutions to cuDNN as custom calls, which GPU cost analysis
  counts as zero (the paper U-Net's step read 1.9 GFLOP an image there against 35.4 here), and
  jax 0.11 on GPU gives no count for a lowered module at all. The lowered HLO is the model's
  arithmetic, the same on every device; on CPU it agrees with the compiled count within 1%.
  """
  cpu = jax.sharding.SingleDeviceSharding(jax.devices("cpu")[0])
  abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=cpu), args)
  cost = jax.jit(fn).lower(*abstract).cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float((cost or {}).get("flops", 0.0))
