"""Periodic evaluation: eval-split metrics, sample and reconstruction grids, sample quality.

The eval split is config.eval_split: validation in every training run (checkpoint selection and
tuning read it); `experiments.report` runs the same Evaluator on test.
"""

import functools
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen import images, storage
from jaxgen.data.pipeline import SplitData, even_batch_size, to_global
from jaxgen.metrics import quality
from jaxgen.train.family import DataSpec, Family
from jaxgen.train.mesh import batch_sharded, replicated


def grid_labels(num: int, num_classes: int) -> np.ndarray:
  """Labels for a conditional grid: one row per class, `num // num_classes` columns."""
  per_class = max(1, num // num_classes)
  return np.repeat(np.arange(num_classes), per_class).astype(np.int32)


class Evaluator:
  """Runs everything an eval step of the loop does, for one family and test split."""

  def __init__(self, config: ml_collections.ConfigDict, family: Family, test: SplitData,
               spec: DataSpec, mesh: jax.sharding.Mesh, workdir: str,
               scorer_for: Callable[..., quality.Scorer]):
    """`scorer_for(dataset, data_dir, train_split, reference_split, kind)` gives a scoring
    classifier (`jaxgen.train.loop.trained_scorer`: passed in, because the loop imports this
    module)."""
    self._config, self._family, self._test, self._spec = config, family, test, spec
    self._scorer_for = scorer_for
    self._mesh, self._samples_dir = mesh, storage.join(workdir, "samples")
    repl, data = replicated(mesh), batch_sharded(mesh)
    self._data_sharding = data
    self._eval_step = jax.jit(family.eval_step, in_shardings=(repl, data, repl),
                              out_shardings=repl)
    self._sample = (jax.jit(family.sample, static_argnums=(2,), out_shardings=repl)
                    if family.sample else None)
    self._reconstruct = (jax.jit(family.reconstruct, in_shardings=(repl, data, repl),
                                 out_shardings=repl) if family.reconstruct else None)
    self._scorer = None
    self._gather = jax.jit(lambda x: x, out_shardings=repl)
    self._translate = (jax.jit(family.translate, static_argnums=(2,), out_shardings=repl)
                       if family.translate else None)
    self._domain_scorers: dict[str, tuple] = {}  # kind -> (judge of A, judge of B)
    self._writes_files = jax.process_index() == 0  # every process computes, one writes

  def _save_grid(self, name: str, grid_images: np.ndarray, rows: int | None) -> None:
    if self._writes_files:
      images.save_grid(storage.join(self._samples_dir, name), grid_images, rows)

  def split_metrics(self, state: Any, rng: jax.Array) -> dict[str, float]:
    """Example-weighted means of eval_step's metrics over the whole eval split; metrics given
    per image also get their standard error over the split (`<name>_se`)."""
    sums: dict[str, float] = {}
    squares: dict[str, float] = {}  # of per-image metrics only
    count = 0
    batch_size = even_batch_size(len(self._test),
                                 self._config.get("eval_batch_size", self._config.batch_size),
                                 self._mesh.size)
    for i, batch in enumerate(self._test.eval_batches(batch_size, self._mesh.size)):
      n = len(next(iter(batch.values())))
      metrics = jax.device_get(self._eval_step(state, to_global(batch, self._data_sharding),
                                               jax.random.fold_in(rng, i)))
      for k, v in metrics.items():
        v = np.asarray(v, np.float64)
        if v.ndim:  # one value per image [n]
          sums[k] = sums.get(k, 0.0) + float(v.sum())
          squares[k] = squares.get(k, 0.0) + float(np.square(v).sum())
        else:
          sums[k] = sums.get(k, 0.0) + float(v) * n
      count += n
    out = {k: v / count for k, v in sums.items()}
    for k, sq in squares.items():  # sd / sqrt(n), the sd with Bessel's correction
      var = max(sq / count - out[k] ** 2, 0.0) * count / max(count - 1, 1)
      out[k + "_se"] = float(np.sqrt(var / count))
    return out

  def generate(self, state: Any, rng: jax.Array, num: int, labels: np.ndarray | None = None,
               options: dict[str, Any] | None = None,
               timing: dict[str, float] | None = None) -> np.ndarray:
    """`num` samples as float [num, h, w, c] in [0, 1], in chunks of `sample_batch_size`.

    `options` are keyword arguments of the family's sampler (e.g. a diffusion model's `kind`,
    `num_steps`, `eta`, `guidance_scale`), fixed at compile time. Every chunk has the same size
    (the last is padded and cut), so the sampler compiles once. When `timing` is a dict it
    receives "first_chunk_s" (including compilation) and "images_per_s" measured on the later
    chunks, compilation excluded; with a single chunk one more is drawn to time it.
    """
    sample = self._sample
    if options:
      sample = jax.jit(functools.partial(self._family.sample, **options), static_argnums=(2,),
                       out_shardings=replicated(self._mesh))
    chunk = min(int(self._config.get("sample_batch_size", 256)), num)
    num_chunks = -(-num // chunk)
    if timing is not None:
      num_chunks = max(num_chunks, 2)
    if labels is not None:  # cycled to cover the padding of the last chunk
      labels = np.resize(np.asarray(labels), num_chunks * chunk)
    out, seconds = [], []
    for i in range(num_chunks):
      part_labels = None if labels is None else jnp.asarray(labels[i * chunk:(i + 1) * chunk])
      start = time.perf_counter()
      out.append(np.asarray(sample(state, jax.random.fold_in(rng, i), chunk, part_labels)))
      seconds.append(time.perf_counter() - start)
    if timing is not None:
      timing["first_chunk_s"] = seconds[0]
      timing["images_per_s"] = chunk * (len(seconds) - 1) / sum(seconds[1:])
    return np.concatenate(out)[:num]

  def _write_grids(self, state: Any, step: int, rng: jax.Array) -> None:
    num = int(self._config.get("grid_size", 64))
    if num <= 0:  # no grids: e.g. a first stage trained only to build a model on
      return
    if self._sample is not None:
      labels = None
      rows = None
      if self._family.conditional and self._spec.num_classes:
        labels = grid_labels(num, self._spec.num_classes)
        rows = self._spec.num_classes
      samples = self.generate(state, jax.random.fold_in(rng, 1), len(labels) if labels is not None
                              else num, labels)
      self._save_grid(f"step_{step:06d}.png", samples, rows)
    if self._reconstruct is not None:
      size = -(-32 // self._mesh.size) * self._mesh.size  # >= 32 and divides the devices
      batch = next(self._test.eval_batches(size, self._mesh.size))
      global_batch = to_global(batch, self._data_sharding)
      recon = np.asarray(self._reconstruct(state, global_batch, jax.random.fold_in(rng, 2)))
      originals = np.asarray(self._gather(global_batch["image"]))  # all processes' slices
      pairs = np.concatenate([originals[:, None], recon[:, None]], axis=1)
      pairs = pairs.reshape((-1,) + recon.shape[1:])  # original, reconstruction, original, ...
      self._save_grid(f"recon_step_{step:06d}.png", pairs, rows=int(np.ceil(len(pairs) / 16)))

  def _quality(self, state: Any, rng: jax.Array) -> dict[str, float]:
    num = int(self._config.get("fcd_num_samples", 0))
    if num <= 0 or self._sample is None:
      return {}
    labels = None
    if self._family.conditional and self._spec.num_classes:
      labels = np.arange(num, dtype=np.int32) % self._spec.num_classes
    samples = self.generate(state, jax.random.fold_in(rng, 3), num, labels)
    return self._score(samples, labels)

  def _reconstruction_quality(self, state: Any) -> dict[str, float]:
    """With config.recon_quality: the scorer's report (FCD, and accuracy against the true
    labels) on the reconstructions of every eval-split image, keys prefixed `recon_`."""
    if not self._config.get("recon_quality", False) or self._reconstruct is None:
      return {}
    _, recon, labels = self.reconstruct_split(state, self._test)
    return {f"recon_{k}": v for k, v in self._score(recon, labels).items()}

  def reconstruct_split(self, state: Any, split: SplitData
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A split's images [n, h, w, c] in order, the family's reconstructions of them and their
    labels [n] (every process gets all; as eval batches, the last trimmed to the devices)."""
    size = even_batch_size(len(split), int(self._config.get("eval_batch_size", 200)),
                           self._mesh.size)
    originals, recon, labels = [], [], []
    for batch in split.eval_batches(size, self._mesh.size):
      global_batch = to_global(batch, self._data_sharding)
      recon.append(np.asarray(self._reconstruct(state, global_batch, jax.random.key(0))))
      originals.append(np.asarray(self._gather(global_batch["image"])))
      labels.append(np.asarray(self._gather(global_batch["label"])))
    return np.concatenate(originals), np.concatenate(recon), np.concatenate(labels)

  def _score(self, images: np.ndarray, labels: np.ndarray | None) -> dict[str, float]:
    """The eval scorer's report on images (trained once and cached)."""
    if self._scorer is None:
      self._scorer = self._scorer_for(self._config.dataset,
                                      self._config.get("data_dir") or None,
                                      reference_split=self._config.get("eval_split",
                                                                       "validation"))
    return self._scorer.report(images, labels)

  def _translations(self, state: Any, step: int) -> dict[str, float]:
    """Two-domain models: A | G(A) | F(G(A)) grids, and label accuracy after translation."""
    if self._translate is None:
      return {}
    self._save_grid(f"translate_step_{step:06d}.png", self.translation_grid(state), rows=16)
    if not self._config.get("score_identity", False):
      return {}
    reports = self.translation_reports(state, second_judge=True)
    judge_a, judge_b = self._judges()
    return {**{f"identity_accuracy_{d}": r["cond_accuracy"] for d, r in reports.items()},
            # The MLP judges' reading: a translator tuned against the CNN kind shows a gap.
            **{f"identity_accuracy_{d}_judge2": r["judge2_cond_accuracy"]
               for d, r in reports.items()},
            # FCD to the target domain's split, before and after translation: translation has
            # moved the images towards the other domain when the second is the lower.
            **{f"fcd_{d}": r["fcd"] for d, r in reports.items()},
            **{f"fcd_{d}_untranslated": r["fcd_untranslated"] for d, r in reports.items()},
            "classifier_accuracy_a": judge_a.test_accuracy,
            "classifier_accuracy_b": judge_b.test_accuracy}

  def translation_grid(self, state: Any) -> np.ndarray:
    """Rows of real | translated | translated back for 8 images of each domain of the eval
    split: [48, h, w, c], to save with 16 rows."""
    test_a, test_b = self._test.a.arrays(), self._test.b.arrays()
    rows = []
    for real, there, back in ((test_a["image"][:8], "ab", "ba"), (test_b["image"][:8], "ba", "ab")):
      moved = np.asarray(self._translate(state, jnp.asarray(real), there))
      cycled = np.asarray(self._translate(state, jnp.asarray(moved), back))
      rows.append(np.stack([real, moved, cycled], axis=1).reshape((-1,) + real.shape[1:]))
    return np.concatenate(rows)

  def translation_reports(self, state: Any, second_judge: bool = False
                          ) -> dict[str, dict[str, float]]:
    """Per direction ("ab", "ba"), the eval split's whole source domain translated and read by
    the target domain's judge: its `Scorer.report` (cond_accuracy is the share of digits that
    kept their label; FCD against the target domain with its interval, floor where one exists,
    and ceiling) and fcd_untranslated, the source images' own FCD to the target domain. With
    `second_judge`, also the MLP judge's reading (judge2_cond_accuracy with its Wilson
    interval) and its accuracy on the target domain's real digits (judge2_test_accuracy): a
    translator trained against a CNN classifier would pass the CNN judge alone."""
    judges = dict(zip("ab", self._judges()))
    second = dict(zip("ab", self._judges("mlp"))) if second_judge else {}
    out = {}
    for source, target in (("a", "b"), ("b", "a")):
      real = getattr(self._test, source).arrays()
      moved = self._translate_all(state, real["image"], source + target)
      out[source + target] = {**judges[target].report(moved, real["label"]),
                              "fcd_untranslated": judges[target].fcd(real["image"])}
      if second:
        judge = second[target]
        out[source + target].update(
            {f"judge2_{k}": v for k, v in judge.label_accuracy(moved, real["label"]).items()},
            judge2_test_accuracy=judge.reference_accuracy)
    return out

  def judge_digest(self) -> str:
    """The digest of the (CNN) judges' parameters, one classifier for both target domains."""
    return self._judges()[0].digest

  def _judges(self, kind: str = "cnn"):
    """Digit judges for translated images, one per target domain (pinned for the embedded
    two-domain digits; otherwise each trained once, cached).

    Each is trained on both domains' train splits, so it reads any writer's digits in either
    style; its FCD statistics come from its own domain's test split. A judge trained on one
    domain alone does not do: the scikit-learn digits (43 writers) judge reads only 50% of
    MNIST test digits even when they are rendered exactly through its 8x8 pipeline, which
    would measure writer shift rather than what translation kept.
    """
    if kind not in self._domain_scorers:
      c = self._config
      both = f"{c.train_split}+{c.train_split_b}"
      self._domain_scorers[kind] = tuple(
          self._scorer_for(c.dataset, c.get("data_dir") or None, both, c[f"eval_split{s}"],
                           kind=kind)
          for s in ("", "_b"))
    return self._domain_scorers[kind]

  def _translate_all(self, state: Any, images: np.ndarray, direction: str) -> np.ndarray:
    chunk = int(self._config.get("sample_batch_size", 256))
    return np.concatenate([np.asarray(self._translate(state, jnp.asarray(images[i:i + chunk]),
                                                      direction))
                           for i in range(0, len(images), chunk)])

  def run(self, state: Any, step: int, rng: jax.Array) -> dict[str, float]:
    """Evaluates `state` at `step`: returns scalar metrics and writes grids under samples/."""
    metrics = self.split_metrics(state, rng)
    if self._family.evaluate is not None:
      metrics.update(self._family.evaluate(state, self._test, jax.random.fold_in(rng, 4)))
    self._write_grids(state, step, rng)
    metrics.update(self._quality(state, rng))
    metrics.update(self._reconstruction_quality(state))
    metrics.update(self._translations(state, step))
    return metrics
