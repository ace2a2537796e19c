"""Text prompts for the digits: templates and fixed-length byte tokens any text can have.

Latent diffusion's text-conditional models read a prompt through a text encoder. Our prompts are
built from templates ("a handwritten {word}", "the digit {digit}", ...) filled with a digit's
name or numeral. Some templates are held out of training and used only at evaluation, so the
conditional accuracy from them measures whether the model understood the digit word in a phrasing
it never saw. Every word of a held-out template also occurs in the training templates (a test
checks it): an unseen phrasing of known words.

Tokens are the prompt's UTF-8 bytes (lower-cased, runs of white space made one space) plus one,
int32, padded with PAD = 0 to MAX_TOKENS: an open vocabulary (issue 38), so any English prompt
is read; only empty, over-long and undecodable input is refused, in one line. The empty prompt
(`empty_prompt`, all padding) is the unconditional one: classifier-free guidance drops a prompt
by replacing it with it.
"""

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
MAX_TOKENS = 80  # bytes: the longest measured caption (jaxgen.latent.captions) is 72
VOCAB_SIZE = 257  # PAD and the 256 byte values


def words(prompt: str) -> list[str]:
  """Lower-cased words of a prompt, a comma as a word of its own."""
  return re.findall(r"[a-z0-9]+|,", prompt.lower())


def fill(template: str, label: int) -> str:
  """The prompt `template` makes for digit `label`."""
  return template.format(word=NUMBER_WORDS[label], digit=str(label))


def vocab_size() -> int:
  """Number of token ids, PAD included."""
  return VOCAB_SIZE


def empty_prompt() -> np.ndarray:
  """The unconditional prompt: int32 [MAX_TOKENS] of PAD."""
  return np.full((MAX_TOKENS,), PAD, np.int32)


def tokenize(prompt: str | bytes) -> np.ndarray:
  """Any text -> int32 [MAX_TOKENS]: its normalised UTF-8 bytes plus one, padded; a one-line
  error for an empty, over-long or undecodable prompt."""
  if isinstance(prompt, bytes):
    try:
      prompt = prompt.decode("utf-8")
    except UnicodeDecodeError as e:
      raise UserError(f"prompt {prompt[:40]!r} is not UTF-8 text ({e.reason} at byte "
                      f"{e.start}); give it as text") from None
  text = " ".join(prompt.lower().split())
  if not text:
    raise UserError("the prompt is empty; give some text, e.g. \"a bold seven\" (sampling "
                    "from labels needs no prompt)")
  data = text.encode("utf-8")
  if len(data) > MAX_TOKENS:
    raise UserError(f"prompt {text[:40]!r}... is {len(data)} bytes long; at most {MAX_TOKENS}")
  out = empty_prompt()
  out[:len(data)] = np.frombuffer(data, np.uint8).astype(np.int32) + 1
  return out


def decode(tokens: np.ndarray) -> str:
  """The text of tokens [MAX_TOKENS] (padding dropped)."""
  values = np.asarray(tokens)
  return bytes((values[values != PAD] - 1).astype(np.uint8).tolist()).decode("utf-8")


def template_tokens(templates: tuple[str, ...], num_classes: int = 10) -> np.ndarray:
  """Tokens of every template filled with every label: int32 [len(templates), num_classes,
  MAX_TOKENS]; row [i, y] is template i's prompt for digit y."""
  return np.stack([np.stack([tokenize(fill(t, y)) for y in range(num_classes)])
                   for t in templates])
