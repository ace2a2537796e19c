"""The prompt sets that score a captions model: what each asks and in which words."""

import re

import numpy as np

from experiments import adherence
from jaxgen.data.pipeline import SplitData
from jaxgen.latent import captions, prompts
from jaxgen.metrics import digit_properties as dp


def test_prompt_sets_ask_for_measured_buckets_and_the_held_out_combinations():
  train = SplitData.open("embedded_digits", "train").arrays()
  test = SplitData.open("embedded_digits", "test").arrays()
  buckets = dp.Buckets.from_images(train["image"])
  sets = adherence.prompt_sets(test["image"], test["label"], 50, 0, buckets)
  assert list(sets) == list(adherence.SETS)
  measured = buckets.of(dp.measure(test["image"][:50]))
  for name in ("train_phrasings", "held_out_phrasings"):
    s = sets[name]
    np.testing.assert_array_equal(s["labels"], test["label"][:50])
    for p, wanted in s["asked"].items():  # every worded bucket is asked, and truly
      said = wanted >= 0
      assert (wanted[said] == measured[p][said]).all() and said.mean() > 0.4
  combos = sets["held_out_combinations"]
  for i, row in enumerate(combos["tokens"]):
    label, prop, bucket = captions.HELD_OUT_COMBINATIONS[i % len(captions.HELD_OUT_COMBINATIONS)]
    text = prompts.decode(row)
    assert combos["labels"][i] == label and combos["asked"][prop][i] == bucket
    assert all(combos["asked"][p][i] == -1 for p in dp.PROPERTIES if p != prop)
    # Said in training words, which training captions never put beside this digit.
    assert any(re.search(rf"\b{re.escape(w)}\b", text)
               for w in captions.TRAIN.synonyms[(prop, bucket)]), text
