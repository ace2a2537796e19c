"""Speeds of several trained models timed alternately in one run, written as one record.

  python -m experiments.bench.speed_compare --name=code_decoding \
      --entry=maskgit_s8=runs/maskgit:steps=8:w=1 --entry=maskgit_s4=runs/maskgit:steps=4:w=1 \
      --entry=maskgit_ar=runs/maskgit_ar --batch_sizes=1,64
  python -m experiments.bench.speed_compare --name=vit_vs_cnn --entry=vit=runs/vit \
      --entry=cnn_matched=runs/cnn_matched --batch_sizes=1,500

Each --entry is NAME=WORKDIR[:SETTING]: a generative model draws images with its sampler (a
code model's steps=N[:w=W], a diffusion model's KIND:STEPS[:...], as experiments.report spells
them); a classifier reads test digits. Every entry is compiled and run once first, then the
entries are called in turn, `--reps` rounds per batch size, so a load from other processes
falls on all of them (speeds timed in separate runs under different loads are not comparable).
Writes experiments/results/comparisons/NAME.json: images/s per entry and batch size (medians),
the ratio of each to its reference (the first entry, or the latest --reference before it: the
crossover divides each length's MaskGIT by that length's baseline), each model's training
commits and step, and for a code model its network calls in sequence and FLOPs an image.
Decoding cost does not depend on the weights (fixed shapes, a fixed number of calls), so a
speed-only record may time runs stopped after one step; the step each entry was at is in the
record.
"""

import os
import sys
from typing import Any, Callable

from absl import app, flags

_NAME = flags.DEFINE_string("name", None, "Record name.")
_ENTRIES = flags.DEFINE_multi_string("entry", [], "NAME=WORKDIR[:SETTING], two or more.")
_BATCHES = flags.DEFINE_list("batch_sizes", ["1", "64"], "Batch sizes to time.")
_REPS = flags.DEFINE_integer("reps", 7, "Alternating rounds per batch size.")
_REFS = flags.DEFINE_multi_string("reference", [], "An entry whose images/s the entries from it "
                                  "on divide by, until the next --reference (default: the "
                                  "first entry for all).")
_OUT = flags.DEFINE_string("results_dir", None, "Default: experiments/results/comparisons.")
flags.mark_flags_as_required(["name"])


def parse_entry(text: str) -> tuple[str, str, str | None]:
  """'name=workdir[:setting]' -> (name, workdir, setting or None); UserError otherwise."""
  from jaxgen.errors import UserError
  name, sep, rest = text.partition("=")
  if not sep or not name or not rest:
    raise UserError(f"--entry={text!r}: spell it NAME=WORKDIR[:SETTING]")
  workdir, _, setting = rest.partition(":")
  return name, workdir, setting or None


def sampler_options(family_name: str, setting: str | None) -> dict[str, Any]:
  """The sampler's keyword arguments for an entry's SETTING (as experiments.report spells it)."""
  from experiments.sampler_settings import TOKEN_STEP_KEYS, parse_setting, parse_token_setting
  from jaxgen.errors import UserError
  if not setting:
    return {}
  if family_name in TOKEN_STEP_KEYS:
    return parse_token_setting(family_name, setting)
  parsed = parse_setting(setting)
  if parsed.cls is not None:
    raise UserError(f"{setting!r}: classifier guidance is not timed here; drop cls=")
  return parsed.sampler_options()


def decoding_work(trained: Any, setting: str | None) -> dict[str, Any]:
  """A code model's work an image: network calls in sequence and FLOPs (empty for others)."""
  from experiments.evaluations import sampler_flops
  if trained.family.network_calls is None:
    return {}
  options = sampler_options(trained.config.family, setting)
  return {"network_calls": int(trained.family.network_calls(**options)),
          "flops_per_image": sampler_flops(trained.family, trained.state, options,
                                           trained.config.seed)}


def entry_call(trained: Any, setting: str | None, batch: int) -> Callable[[int], Any]:
  """A function of the call index that makes `batch` images (or reads `batch` test digits)."""
  import functools
  import jax
  import jax.numpy as jnp
  from jaxgen.errors import UserError
  config, family, state = trained.config, trained.family, trained.state
  if config.family == "classifier":
    from jaxgen.classifier.family import build_model
    from jaxgen.data.pipeline import SplitData
    model = build_model(config, trained.spec)
    test = SplitData.open(config.dataset, "test", config.get("data_dir") or None).arrays()
    images = jnp.asarray(test["image"][:batch])
    if len(images) < batch:
      raise UserError(f"batch {batch} is more than the {len(images)} test digits")
    read = jax.jit(lambda p, x: model.apply({"params": p}, x).argmax(-1))
    return lambda i: read(state.params, images)
  if family.sample is None:
    raise UserError(f"the {config.family} family neither samples nor classifies")
  options = sampler_options(config.family, setting)
  labels = jnp.arange(batch, dtype=jnp.int32) % max(trained.spec.num_classes, 1)
  sample = jax.jit(functools.partial(family.sample, **options), static_argnums=(2,))
  key = jax.random.key(0)
  return lambda i: sample(state, jax.random.fold_in(key, i), batch,
                          labels if family.conditional else None)


def compare_speeds(entries: list[tuple[str, str, str | None]], batch_sizes: list[int],
                   reps: int, references: list[str] = ()) -> dict[str, Any]:
  """Images/s of every entry at every batch size, timed alternately; ratios to each entry's
  reference (see ratio_references)."""
  from experiments.bench.alternate import ratio_references, time_alternately
  from jaxgen import provenance, storage
  from jaxgen.train.restore import restore_trained
  restored = {name: (restore_trained(workdir), workdir, setting)
              for name, workdir, setting in entries}
  out: dict[str, Any] = {name: {"workdir": storage.resolve(w), "setting": s or "default",
                                "family": t.config.family, "step": t.step,
                                "trained_commits": list(dict.fromkeys(
                                    provenance.describe(e)
                                    for e in provenance.read(storage.resolve(w)))),
                                **decoding_work(t, s)}
                         for name, (t, w, s) in restored.items()}
  reference = ratio_references([n for n, _, _ in entries], list(references))
  for b in batch_sizes:
    print(f"timing {len(entries)} entries alternately at batch {b} ...", flush=True)
    seconds = time_alternately({name: entry_call(t, s, b) for name, (t, _, s) in restored.items()},
                               reps)
    for name, sec in seconds.items():
      out[name][f"images_per_s_b{b}"] = round(b / sec, 3)
    for name, ref in reference.items():
      out[name][f"ratio_to_{ref}_b{b}"] = round(
          out[name][f"images_per_s_b{b}"] / out[ref][f"images_per_s_b{b}"], 3)
  return out


def main(argv: list[str]) -> None:
  del argv
  from experiments import backend
  backend.prepare()
  from experiments import records
  from jaxgen.errors import UserError
  out_dir = _OUT.value or os.path.join(records.RESULTS_DIR, "comparisons")
  try:
    entries = [parse_entry(e) for e in _ENTRIES.value]
    names = [n for n, _, _ in entries]
    if len(set(names)) < len(names):
      raise UserError(f"--entry names repeat ({', '.join(names)}); give each its own")
    if len(entries) < 2:
      raise UserError("give two or more --entry=NAME=WORKDIR[:SETTING] to compare")
    batch_sizes = [int(b) for b in _BATCHES.value]
    if min(batch_sizes) <= 0 or _REPS.value <= 0:
      raise UserError("--batch_sizes and --reps must be positive")
    records.check_publishable(out_dir)
    from jaxgen import provenance, storage
    for name, workdir, _ in entries:
      if records.is_published(out_dir) and provenance.trained_dirty(
          provenance.read(storage.resolve(workdir))):
        raise UserError(f"{name} ({workdir}) was not trained from committed code; retrain it "
                        "or pass --results_dir elsewhere")
    speeds = compare_speeds(entries, batch_sizes, _REPS.value, _REFS.value)
  except (UserError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  record = {"name": _NAME.value, "kind": "speed", "entries": speeds,
            "order": [n for n, _, _ in entries], "reps": _REPS.value,
            "batch_sizes": batch_sizes, "cpu_count": os.cpu_count(),
            "timing": "alternating calls in one run, medians, compilation apart"}
  records.write(record, out_dir, "python -m experiments.bench.speed_compare " +
                " ".join(sys.argv[1:]))
  for name, e in speeds.items():
    print(name, {k: v for k, v in e.items() if k.startswith(("images_per_s", "ratio"))})
  print(f"wrote {os.path.join(out_dir, _NAME.value)}.json")


if __name__ == "__main__":
  app.run(main)
