"""Captions from measurement: varied, true to the digit's buckets, and held out where they
must be (no held-out phrasing and no held-out combination in a training caption)."""

import re

import numpy as np

from jaxgen.latent import captions
from jaxgen.metrics.digit_properties import BUCKET_WORDS, PROPERTIES


def _random_digits(rng, n):
  return [(int(rng.integers(10)), {p: int(rng.integers(3)) for p in PROPERTIES})
          for _ in range(n)]


def test_training_captions_say_true_buckets_and_hold_out_what_they_must():
  rng = np.random.default_rng(0)
  texts = set()
  held_words = {w for words in captions.HELD_OUT.synonyms.values() for w in words}
  for label, buckets in _random_digits(rng, 3000):
    text, said = captions.caption(rng, label, buckets)
    texts.add(text)
    assert captions.NUMBER_WORDS[label] in text or str(label) in text
    for p, b in said.items():
      if b >= 0:
        assert b == buckets[p] and BUCKET_WORDS[p][b] is not None
        assert any(w in text for w in captions.TRAIN.synonyms[(p, b)])
        assert (label, p, b) not in captions.HELD_OUT_COMBINATIONS
    assert not any(re.search(rf"\b{re.escape(w)}\b", text) for w in held_words), text
    # An unsaid property has no word in the caption.
    for p in (p for p, b in said.items() if b < 0):
      assert not any(re.search(rf"\b{re.escape(w)}\b", text)
                     for (q, _), ws in captions.TRAIN.synonyms.items() if q == p for w in ws), text
  assert len(texts) > 1000  # many phrasings


def test_held_out_captions_use_held_out_phrasings_and_may_say_held_out_combinations():
  rng = np.random.default_rng(1)
  for label, p, b in captions.HELD_OUT_COMBINATIONS:
    buckets = {q: 1 for q in PROPERTIES} | {p: b}
    text, said = captions.caption(rng, label, buckets, captions.HELD_OUT, say_all=True)
    assert said[p] == b and any(w in text for w in captions.HELD_OUT.synonyms[(p, b)])
    train_text, train_said = captions.caption(rng, label, buckets, say_all=True)
    assert train_said[p] == -1  # a training caption leaves it unsaid
  assert set(captions.HELD_OUT.templates).isdisjoint(captions.TRAIN.templates)
  # No held-out synonym shares a word with a training one: new words, not new arrangements.
  train_words = {w for ws in captions.TRAIN.synonyms.values() for s in ws for w in s.split()}
  held_words = {w for ws in captions.HELD_OUT.synonyms.values() for s in ws for w in s.split()}
  assert not train_words & held_words, train_words & held_words


def test_a_train_step_captions_each_digit_by_its_measured_buckets():
  """The jitted path (measure, bucket, table row, random caption) says of every digit only the
  buckets the host measurement gives it, and its label."""
  import jax
  import jax.numpy as jnp
  from jaxgen.data.pipeline import SplitData
  from jaxgen.latent import ldm_family, prompts
  from jaxgen.metrics import digit_properties as dp
  train = SplitData.open("embedded_digits", "train").arrays()
  buckets = dp.Buckets.from_images(train["image"])
  table, said_table = captions.caption_table(0, 4)
  assert table.shape == (270, 4, prompts.MAX_TOKENS) and said_table.shape == (270, 4, 3)
  digits = {"image": train["image"][:64], "label": train["label"][:64]}  # as batches hold them
  tokens, said_rows = jax.jit(ldm_family.measured_captions)(
      jnp.asarray(table), jnp.asarray(said_table), jnp.asarray(buckets.as_array()),
      jnp.asarray(digits["image"]), jnp.asarray(digits["label"]), jax.random.key(0))
  measured = buckets.of(dp.measure(train["image"][:64]))
  said = 0
  for i, row in enumerate(np.asarray(tokens)):
    text, label = prompts.decode(row), int(digits["label"][i])
    assert captions.NUMBER_WORDS[label] in text or str(label) in text, text
    for j, p in enumerate(PROPERTIES):  # what the table says a caption says, it says
      b = int(said_rows[i, j])
      assert b == -1 or any(re.search(rf"\b{re.escape(w)}\b", text)
                            for w in captions.TRAIN.synonyms[(p, b)]), (text, p, b)
    for (p, b), words in captions.TRAIN.synonyms.items():
      if any(re.search(rf"\b{re.escape(w)}\b", text) for w in words):
        assert measured[p][i] == b == int(said_rows[i, PROPERTIES.index(p)]), (text, p)
        said += 1
  assert said > 64  # most captions say one property or more


def test_training_captions_carry_nonce_words_no_phrasebook_uses():
  """About NONCE_RATE of the table's captions carry one or two words of no phrasebook (so the
  encoder learns to pass over words it does not know); never a held-out one."""
  from jaxgen.latent import prompts
  table, _ = captions.caption_table(3, 8)
  texts = [prompts.decode(row) for row in table.reshape(-1, table.shape[-1])]
  unknown = [[w for w in prompts.words(t) if w not in captions.KNOWN_WORDS] for t in texts]
  share = np.mean([bool(u) for u in unknown])
  assert abs(share - captions.NONCE_RATE) < 0.06, share  # a few are left out as too long
  assert max(len(u) for u in unknown) == 2
  held = captions._book_words(captions.HELD_OUT) - captions._book_words(captions.TRAIN)
  assert {"fat", "italic", "someone", "sketch"} <= held
  assert not held & {w for t in texts for w in prompts.words(t)}
  assert all(len(t.encode()) <= prompts.MAX_TOKENS for t in texts)
  plain, _ = captions.caption_table(3, 8, nonce=False)
  assert all(set(prompts.words(prompts.decode(r))) <= captions.KNOWN_WORDS
             for r in plain.reshape(-1, plain.shape[-1]))


def test_articles_follow_the_next_word():
  assert captions.with_articles("a upright seven") == "an upright seven"
  assert captions.with_articles("draw a eight, a 8 and a one") == "draw an eight, an 8 and a one"
  assert captions.with_articles("a thin seven") == "a thin seven"


def test_every_caption_fits_the_prompt_length():
  rng = np.random.default_rng(2)
  from jaxgen.latent import prompts
  for book in (captions.TRAIN, captions.HELD_OUT):
    for label, buckets in _random_digits(rng, 3000):
      text, _ = captions.caption(rng, label, buckets, book, say_all=True)
      assert len(text.encode()) <= prompts.MAX_TOKENS, text


def test_label_prompts_name_the_digit_alone_in_held_out_words():
  """Sampling from labels reads held-out-phrasebook prompts that say no property: each names its
  digit, no property word of either phrasebook, no dangling comma."""
  from jaxgen.latent import ldm_family, prompts
  table = ldm_family.held_out_table("captions", 0)
  assert table.shape == (8, 10, prompts.MAX_TOKENS)
  property_words = {w for book in (captions.TRAIN, captions.HELD_OUT)
                    for ws in book.synonyms.values() for s in ws for w in s.split()}
  texts = set()
  for row in table:
    for label, tokens in enumerate(row):
      text = prompts.decode(tokens)
      texts.add(text)
      assert captions.NUMBER_WORDS[label] in text or str(label) in text, text
      assert not set(prompts.words(text)) & property_words and not text.endswith(","), text
  assert len(texts) > 40  # varied phrasings
