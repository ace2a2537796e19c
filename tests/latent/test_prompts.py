"""Prompt templates, vocabulary and tokens."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import guidance
from jaxgen.errors import UserError
from jaxgen.latent import prompts


def test_held_out_templates_are_new_phrasings_of_known_words():
  train = {w for t in prompts.TRAIN_TEMPLATES for y in range(10)
           for w in prompts.words(prompts.fill(t, y))}
  for t in prompts.HELD_OUT_TEMPLATES:
    assert t not in prompts.TRAIN_TEMPLATES
    for y in range(10):
      assert set(prompts.words(prompts.fill(t, y))) <= train, t


def test_tokens_round_trip_and_pad():
  tokens = prompts.tokenize("A handwritten   Seven")
  assert prompts.decode(tokens) == "a handwritten seven"  # lower-cased, spaces collapsed
  assert tokens.shape == (prompts.MAX_TOKENS,) and (tokens[19:] == prompts.PAD).all()
  assert tokens.max() < prompts.vocab_size() and (prompts.empty_prompt() == prompts.PAD).all()
  table = prompts.template_tokens(prompts.TRAIN_TEMPLATES)
  assert table.shape == (len(prompts.TRAIN_TEMPLATES), 10, prompts.MAX_TOKENS)
  # Every label's prompt differs from every other label's under the same template.
  for row in table:
    assert len({tuple(r) for r in row}) == 10


def test_any_text_is_read_and_only_bad_input_fails_in_one_line():
  for text in ("someone wrote a two", "a scribbled three", "four, written by hand",
               "an ink six", "ein Siebener, fett", "数字の七"):
    assert prompts.decode(prompts.tokenize(text)) == " ".join(text.lower().split())
  assert prompts.decode(prompts.tokenize("a bold seven".encode())) == "a bold seven"
  with pytest.raises(UserError, match="empty"):
    prompts.tokenize("   ")
  with pytest.raises(UserError, match="at most"):
    prompts.tokenize("a " * prompts.MAX_TOKENS)
  with pytest.raises(UserError, match="not UTF-8"):
    prompts.tokenize(b"a bold \xff seven")


def test_dropping_a_prompt_drops_all_its_tokens():
  tokens = jnp.asarray(prompts.template_tokens(prompts.TRAIN_TEMPLATES)[0])  # [10, L]
  dropped = guidance.drop_labels(jax.random.key(3), tokens, 0.5, prompts.PAD)
  whole = np.asarray(jnp.all(dropped == prompts.PAD, axis=1))
  kept = np.asarray(jnp.all(dropped == tokens, axis=1))
  assert (whole | kept).all() and whole.any() and kept.any()
