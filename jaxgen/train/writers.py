"""Where metrics go: metrics.jsonl, TensorBoard event files, and the console.

A workdir in an object store cannot be appended to: there each line is its own object,
`metrics.parts/<step>-<n>.jsonl`, and `metric_lines` (what every reader of metrics.jsonl calls)
puts them back together in order; TensorBoard writes to a local staging folder whose event files
are copied to the store at each log.
"""

import contextlib
import json
import math
import os
import shutil
import sys
import time
from typing import Mapping

import numpy as np
import tqdm
from tensorboardX import SummaryWriter

from jaxgen import storage

PARTS = "metrics.parts"  # a store workdir's metrics, one object a line


def _drop_lines_after(path: str, step: int) -> None:
  """A resumed run repeats the steps after its checkpoint: forget what they logged before."""
  if not os.path.exists(path):
    return
  with open(path) as f:
    lines = f.readlines()
  keep = [l for l in lines if l.strip() and _step_of(l) is not None and _step_of(l) <= step]
  if len(keep) != len(lines):
    with open(path, "w") as f:
      f.writelines(keep)


def _step_of(line: str) -> int | None:
  try:
    return int(json.loads(line)["step"])
  except (ValueError, KeyError, TypeError):
    return None  # a line cut short by a crash


def _part_step(name: str) -> int:
  """The step a metrics part is named after (`<step>-<n>.jsonl`)."""
  return int(name.split("-")[0])


def metric_lines(workdir: str) -> list[str]:
  """The JSON lines a run logged, in order: metrics.jsonl's for a local workdir, the parts'
  for one in an object store ([] when it logged nothing)."""
  if not storage.is_url(workdir):
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
      return []
    with open(path) as f:
      return f.readlines()
  parts = storage.join(workdir, PARTS)
  # Zero-padded step, then the order within the step: names sort as the lines were written.
  return [storage.read_text(storage.join(parts, name)) for name in storage.list_names(parts)]


class MetricWriter:
  """Writes one JSON object per (step, split) to metrics.jsonl (or, in an object store, to its
  own object) and the same to TensorBoard."""

  def __init__(self, workdir: str, enabled: bool = True, resume_step: int = 0):
    self.path = storage.join(workdir, "metrics.jsonl")
    self._enabled = enabled  # only process 0 writes in a multi-process run
    self._parts = storage.join(workdir, PARTS) if storage.is_url(workdir) else None
    self._written: dict[int, int] = {}  # lines written at each step (a part's name has it)
    if enabled and self._parts:
      for name in storage.list_names(self._parts):  # the resumed steps log again
        if _part_step(name) > resume_step:
          storage.remove_tree(storage.join(self._parts, name))
      self._tb_store = storage.join(workdir, "tensorboard")
      self._tb_local = storage.staging_dir(workdir, "tensorboard")
      self._tb = SummaryWriter(self._tb_local)
    elif enabled:
      _drop_lines_after(self.path, resume_step)
      self._file = open(self.path, "a", buffering=1)  # line-buffered: nothing lost on a crash
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def _write_line(self, step: int, line: str) -> None:
    """Appends `line` to metrics.jsonl, or writes it as the step's next part in a store."""
    if not self._parts:
      self._file.write(line)
      return
    n = self._written.get(step, 0)
    self._written[step] = n + 1
    storage.write_bytes(storage.join(self._parts, f"{step:010d}-{n:02d}.jsonl"), line.encode())

  def write(self, step: int, split: str, metrics: Mapping[str, float]) -> None:
    """Records `metrics` (scalars) for `split` at `step`."""
    if not self._enabled:
      return
    clean = {k: float(v) for k, v in metrics.items()}
    as_json = {k: v if math.isfinite(v) else None for k, v in clean.items()}  # JSON has no NaN
    self._write_line(int(step), json.dumps({"step": int(step), "split": split, **as_json}) + "\n")
    for name, value in clean.items():
      if math.isfinite(value):
        self._tb.add_scalar(f"{split}/{name}", value, int(step))
    self._tb.flush()
    if self._parts:  # the whole event file again: objects cannot be appended to
      storage.upload_tree(self._tb_local, self._tb_store)

  def close(self) -> None:
    """Flushes and closes both files (copying the event file to the store a last time)."""
    if not self._enabled:
      return
    self._tb.close()
    if self._parts:
      storage.upload_tree(self._tb_local, self._tb_store)
      shutil.rmtree(self._tb_local, ignore_errors=True)
    else:
      self._file.close()


class Progress:
  """A progress bar (steps, loss, steps/s, ETA) on a terminal; plain log lines otherwise."""

  def __init__(self, start_step: int, total_steps: int, stream=None, enabled: bool = True):
    self._stream = stream or (sys.stdout if enabled else open(os.devnull, "w"))
    self._tty = self._stream.isatty()
    self._last_time, self._last_step = time.perf_counter(), start_step
    self._total = total_steps
    self._bar = (tqdm.tqdm(total=total_steps, initial=start_step, file=self._stream,
                           unit="step", dynamic_ncols=True) if self._tty else None)

  @contextlib.contextmanager
  def paused(self):
    """Time inside the block (evaluation, checkpointing) counts neither in steps/s nor in the
    ETA: the clocks that measure the rate move forward by it."""
    start = time.perf_counter()
    try:
      yield
    finally:
      away = time.perf_counter() - start
      self._last_time += away
      if self._bar is not None:  # tqdm's rate is steps over time since its start and last print
        self._bar.start_t += away
        self._bar.last_print_t += away

  def update(self, step: int, metrics: Mapping[str, float]) -> None:
    """Reports progress up to `step` with the latest train `metrics`."""
    now = time.perf_counter()
    rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_time, self._last_step = now, step
    shown = {k: float(v) for k, v in metrics.items() if k in ("loss",) or len(metrics) <= 4}
    if self._bar is not None:
      self._bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)
      self._bar.update(step - self._bar.n)
      return
    eta = (self._total - step) / rate if rate > 0 else float("nan")
    terms = " ".join(f"{k}={v:.4g}" for k, v in shown.items())
    print(f"step {step}/{self._total} {terms} {rate:.2f} steps/s eta {eta:.0f}s",
          file=self._stream, flush=True)

  def message(self, text: str) -> None:
    """Prints a line without breaking the bar."""
    if self._bar is not None:
      self._bar.write(text, file=self._stream)
    else:
      print(text, file=self._stream, flush=True)

  def close(self) -> None:
    """Closes the bar."""
    if self._bar is not None:
      self._bar.close()


def to_scalars(metrics: Mapping[str, np.ndarray]) -> dict[str, float]:
  """Device or numpy scalars -> Python floats."""
  return {k: float(np.asarray(v)) for k, v in metrics.items()}
