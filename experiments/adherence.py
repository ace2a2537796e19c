"""Whether a captions-conditioned latent diffusion model draws what its prompt says (issue 38).

Three prompt sets, each `num` prompts from the test digits (their labels and measured buckets):
- train_phrasings: the training phrasebook, every property the digit has a word for said;
- held_out_phrasings: the held-out phrasebook (templates and synonyms no training caption
  uses), the same digits;
- held_out_combinations: the (digit, property bucket) pairs no training caption says together
  ("bold" with a seven), said in training words; their adherence is scored on that property.
Per set: per property the share of samples whose measured bucket is the one asked (Wilson
interval), the pinned scorer's digit accuracy and FCD. And a prompt sweep: one digit, one row
per property value, as a picture.
"""

from typing import Any

import numpy as np

SETS = ("train_phrasings", "held_out_phrasings", "held_out_combinations")
SWEEP_DIGIT = 7


def prompt_sets(test_images: np.ndarray, test_labels: np.ndarray, num: int,
                seed: int, buckets: Any) -> dict[str, dict[str, Any]]:
  """{set: {"tokens" [num, L], "labels" [num], "asked" {property: [num]}}} from the first
  test digits (the held-out combinations from test digits of their label); buckets: the
  training digits' (digit_properties.Buckets)."""
  from jaxgen.latent import captions
  from jaxgen.metrics import digit_properties as dp
  measured = buckets.of(dp.measure(test_images))
  rows = np.stack([measured[p] for p in dp.PROPERTIES], axis=1)  # [n_test, 3]
  labels, first = np.asarray(test_labels)[:num], rows[:num]
  out = {}
  for name, book in (("train_phrasings", captions.TRAIN),
                     ("held_out_phrasings", captions.HELD_OUT)):
    tokens, asked = captions.prompt_set(seed, labels, first, book)
    out[name] = {"tokens": tokens, "labels": labels, "asked": asked}
  combos = captions.HELD_OUT_COMBINATIONS
  combo_labels, combo_rows, combo_props = [], [], []
  for i in range(num):
    label, prop, bucket = combos[i % len(combos)]
    same = np.flatnonzero(np.asarray(test_labels) == label)
    row = rows[same[(i // len(combos)) % len(same)]].copy()
    row[dp.PROPERTIES.index(prop)] = bucket
    combo_labels.append(label), combo_rows.append(row), combo_props.append(prop)
  tokens, asked = captions.prompt_set(seed, np.array(combo_labels), np.stack(combo_rows),
                                      captions.TRAIN, held_out_combinations=True)
  # Scored on the held-out property alone: the other properties are ordinary ones.
  only = {p: np.where(np.array(combo_props) == p, asked[p], -1) for p in dp.PROPERTIES}
  out["held_out_combinations"] = {"tokens": tokens, "labels": np.array(combo_labels),
                                  "asked": only}
  return out


def adherence_record(trained: Any, scorer: Any, test_images: np.ndarray,
                     test_labels: np.ndarray, num: int, seed: int,
                     options: dict[str, Any]) -> dict[str, Any]:
  """Per prompt set: property adherence, digit accuracy and FCD of `num` samples drawn with
  the sampler `options` (the record's setting)."""
  import jax
  from jaxgen.latent import ldm_family, prompts
  from jaxgen.metrics import digit_properties as dp
  buckets = ldm_family.train_buckets(trained.config)
  out: dict[str, Any] = {"buckets": {p: list(e) for p, e in buckets.edges.items()}}
  for i, (name, s) in enumerate(prompt_sets(test_images, test_labels, num, seed,
                                            buckets).items()):
    print(f"prompt adherence: {name} ({num} samples) ...", flush=True)
    images = np.asarray(trained.family.sample(trained.state, jax.random.key(seed + i), num,
                                              prompt_tokens=s["tokens"], **options))
    images = np.round(np.clip(images, 0, 1) * 255).astype(np.float32) / 255  # as saved
    judged = scorer.report(images, s["labels"])
    out[name] = {"adherence": dp.adherence(images, s["asked"], buckets),
                 **{k: float(judged[k]) for k in ("fcd", "fcd_ci95_low", "fcd_ci95_high",
                                                  "cond_accuracy", "cond_accuracy_ci95_low",
                                                  "cond_accuracy_ci95_high")},
                 "example_prompts": [prompts.decode(t) for t in s["tokens"][:3]]}
  return out


def sweep_images(trained: Any, per_row: int, seed: int,
                 options: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
  """The prompt sweep: images [rows, per_row, h, w, c] of SWEEP_DIGIT, one row per worded
  property bucket (training words), and the rows' prompts."""
  import jax
  from jaxgen.latent import captions, prompts
  from jaxgen.metrics import digit_properties as dp
  worded = [(p, b) for p in dp.PROPERTIES for b in range(3) if dp.BUCKET_WORDS[p][b]]
  texts = [captions.with_articles(
      f"a {captions.TRAIN.synonyms[(p, b)][0]} {prompts.NUMBER_WORDS[SWEEP_DIGIT]}")
           for p, b in worded]
  tokens = np.repeat(np.stack([prompts.tokenize(t) for t in texts]), per_row, axis=0)
  images = np.asarray(trained.family.sample(trained.state, jax.random.key(seed), len(tokens),
                                            prompt_tokens=tokens, **options))
  return images.reshape(len(texts), per_row, *images.shape[1:]), texts


def adherence_table(records: list[dict]) -> list[str]:
  """Markdown lines: each captions model's adherence per prompt set and property, digit
  accuracy and FCD (95% intervals)."""
  rows = [r for r in records if "prompts" in r]
  if not rows:
    return []
  from jaxgen.metrics import digit_properties as dp
  out = ["**Prompt adherence** (latent diffusion on measured captions; per property the share "
         "of samples whose measured bucket is the one asked, 95% Wilson interval; digit "
         "accuracy and FCD by the pinned scorer)", "",
         "| model | prompts | " + " | ".join(dp.PROPERTIES) + " | digit accuracy | FCD |",
         "|---|---|" + "---|" * len(dp.PROPERTIES) + "---|---|"]
  for r in rows:
    for name in SETS:
      s = r["prompts"][name]
      cells = [(f"{a['adherence']:.2f} ({a['ci95_low']:.2f}-{a['ci95_high']:.2f})"
                if (a := s["adherence"].get(p)) else "-") for p in dp.PROPERTIES]
      out.append(f"| {r['name']} | {name.replace('_', ' ')} | " + " | ".join(cells) +
                 f" | {s['cond_accuracy']:.3f} ({s['cond_accuracy_ci95_low']:.3f}-"
                 f"{s['cond_accuracy_ci95_high']:.3f}) | {s['fcd']:.1f} "
                 f"({s['fcd_ci95_low']:.1f}-{s['fcd_ci95_high']:.1f}) |")
  out.append("")
  return out
