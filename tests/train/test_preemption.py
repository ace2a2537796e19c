"""The preemption watch: a signal becomes a stop request, and the handlers are put back."""

import os
import signal

from jaxgen.train.preemption import Preempted, PreemptionWatch


def test_sigterm_becomes_a_stop_request_and_the_old_handler_returns():
  before = signal.getsignal(signal.SIGTERM)
  watch = PreemptionWatch()
  watch.install()
  try:
    assert not watch.stop_requested(3)
    os.kill(os.getpid(), signal.SIGTERM)  # handled between bytecodes: the process lives on
    assert watch.stop_requested(4) and watch.reason == "SIGTERM"
  finally:
    watch.uninstall()
  assert signal.getsignal(signal.SIGTERM) is before
  assert "step 4 on SIGTERM" in str(Preempted(4, "SIGTERM"))
