"""Preemption: the notice a cluster gives before it stops a job, turned into a clean stop.

A preemptible TPU VM, SLURM's `--signal` and a Kubernetes pod all send SIGTERM some time before
they kill; a person at a terminal sends SIGINT. While the loop runs, `PreemptionWatch` turns
either into a request the loop reads after each step: it finishes the step in flight, saves a
checkpoint, flushes the metrics and ends with `Preempted`, which the launcher turns into the
exit status PREEMPTED_EXIT_CODE ("requeue me"; launch/slurm.sbatch reads it). A second SIGINT
stops at once, as Ctrl-C always has.

On several hosts the decision must be the same step everywhere, or hosts would save different
steps: there jax's coordination service hears the notice (jax.distributed installs its own
SIGTERM notifier) and `multihost_utils.reached_preemption_sync_point` hands every host the same
step; this module then installs no handler of its own, which would replace jax's.
"""

import signal
import threading

import jax

# EX_TEMPFAIL of sysexits.h: a temporary failure, try again. Launchers requeue on it.
PREEMPTED_EXIT_CODE = 75


class Preempted(Exception):
  """The run stopped at `step` on a preemption notice, its checkpoint saved."""

  def __init__(self, step: int, reason: str):
    super().__init__(f"stopped at step {step} on {reason}: checkpoint saved; rerun the same "
                     "command to resume")
    self.step = step


class PreemptionWatch:
  """Catches SIGTERM and SIGINT for the loop (one process), or asks jax's coordination service
  (several processes). `install()` before the loop, `uninstall()` after it (in a finally)
  puts the previous handlers back."""

  def __init__(self):
    self._requested = threading.Event()
    self.reason = ""
    self._previous: dict[int, object] = {}
    self._multihost = jax.process_count() > 1

  def install(self) -> None:
    """Sets this watch's handlers for SIGTERM and SIGINT (one process, main thread)."""
    # Signal handlers can only be set from the main thread (a loop run in a worker thread, as
    # some notebooks do, simply goes without).
    if not self._multihost and threading.current_thread() is threading.main_thread():
      for signum in (signal.SIGTERM, signal.SIGINT):
        self._previous[signum] = signal.signal(signum, self._handle)

  def uninstall(self) -> None:
    """Puts the handlers that were there before `install` back."""
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous.clear()

  def _handle(self, signum: int, frame) -> None:
    del frame
    if signum == signal.SIGINT and self._requested.is_set():
      raise KeyboardInterrupt  # a second Ctrl-C: stop now
    self.reason = signal.Signals(signum).name
    self._requested.set()

  def stop_requested(self, step: int) -> bool:
    """Whether to stop after `step` (the same answer on every host)."""
    if self._multihost:
      from jax.experimental import multihost_utils
      if multihost_utils.reached_preemption_sync_point(step):
        self.reason = "a preemption notice"
        return True
      return False
    return self._requested.is_set()
