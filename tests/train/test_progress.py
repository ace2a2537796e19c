"""The console's progress lines: steps/s and the ETA leave out evaluation and checkpoints."""

import io

from jaxgen.train import writers


def test_rate_and_eta_exclude_the_time_spent_paused(monkeypatch):
  clock = iter([0.0, 10.0, 10.0, 110.0, 120.0])  # start, update, pause, resume, update
  monkeypatch.setattr(writers.time, "perf_counter", lambda: next(clock))
  stream = io.StringIO()
  progress = writers.Progress(0, 1000, stream=stream)
  progress.update(100, {"loss": 1.0})  # 100 steps in 10 s
  with progress.paused():  # an evaluation of 100 s
    pass
  progress.update(200, {"loss": 0.5})  # 100 more steps in the 10 s after it
  first, second = stream.getvalue().splitlines()
  assert first.endswith("10.00 steps/s eta 90s")
  assert second.endswith("10.00 steps/s eta 80s"), second  # 1.82 steps/s, eta 440 s, counted in
