"""Text prompts for the digits: templates, a word vocabulary and fixed-length token arrays.

Latent diffusion's text-conditional models read a prompt through a text encoder. Our prompts are
built from templates ("a handwritten {word}", "the digit {digit}", ...) filled with a digit's
name or numeral. Some templates are held out of training and used only at evaluation, so the
conditional accuracy from them measures whether the model understood the digit word in a phrasing
it never saw. Every word of a held-out template also occurs in the training templates (a test
checks it): an unseen phrasing, not unseen words, whose embeddings would be untrained.

Tokens are words (a comma is a word of its own), int32, padded with PAD = 0 to MAX_TOKENS. The
empty prompt is all padding: classifier-free guidance drops a prompt by replacing it with it.
"""

import functools
import re

import numpy as np

from jaxgen.errors import UserError

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

TRAIN_TEMPLATES = (
    "a handwritten {word}",
    "the digit {digit}",
    "{word}, written thickly",
    "a {word}",
    "the number {word}",
    "digit {digit}",
    "a drawing of the digit {word}",
    "{digit}",
    "a thin {word}",
    "an image of a {word}",
    "the handwritten digit {digit}",
    "{word}",
)

# Evaluation only: new arrangements of the training templates' words.
HELD_OUT_TEMPLATES = (
    "a handwritten number {word}",
    "an image of the digit {digit}",
    "{word}, a thin digit",
    "a drawing of a {word}",
)

PAD = 0
MAX_TOKENS = 8


def words(prompt: str) -> list[str]:
  """Lower-cased words of a prompt, a comma as a word of its own."""
  return re.findall(r"[a-z0-9]+|,", prompt.lower())


def fill(template: str, label: int) -> str:
  """The prompt `template` makes for digit `label`."""
  return template.format(word=NUMBER_WORDS[label], digit=str(label))


@functools.cache
def vocabulary() -> tuple[str, ...]:
  """Every word of every filled template, sorted; word i has token i + 1 (0 is PAD)."""
  found = {w for t in TRAIN_TEMPLATES + HELD_OUT_TEMPLATES for label in range(10)
           for w in words(fill(t, label))}
  return tuple(sorted(found))


def vocab_size() -> int:
  """Number of token ids, PAD included."""
  return len(vocabulary()) + 1


def tokenize(prompt: str) -> np.ndarray:
  """A prompt -> int32 [MAX_TOKENS], padded; a one-line error for unknown or too many words."""
  index = {w: i + 1 for i, w in enumerate(vocabulary())}
  ws = words(prompt)
  unknown = [w for w in ws if w not in index]
  if unknown:
    raise UserError(f"prompt {prompt!r}: {', '.join(repr(w) for w in unknown)} not in the "
                    f"vocabulary; known words: {' '.join(vocabulary())}")
  if len(ws) > MAX_TOKENS:
    raise UserError(f"prompt {prompt!r} has {len(ws)} words; at most {MAX_TOKENS}")
  out = np.full((MAX_TOKENS,), PAD, np.int32)
  out[:len(ws)] = [index[w] for w in ws]
  return out


def template_tokens(templates: tuple[str, ...], num_classes: int = 10) -> np.ndarray:
  """Tokens of every template filled with every label: int32 [len(templates), num_classes,
  MAX_TOKENS]; row [i, y] is template i's prompt for digit y."""
  return np.stack([np.stack([tokenize(fill(t, y)) for y in range(num_classes)])
                   for t in templates])
