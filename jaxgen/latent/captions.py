"""Captions from measurement (issue 38): for each digit, its label and the buckets of its
measured thickness, slant and size (jaxgen.metrics.digit_properties), said in varied English:
many phrasings, synonyms per property word, varied order, optional filler, numerals or number
words.

Two vocabularies and two phrasebooks: `TRAIN` captions the training digits; `HELD_OUT` uses
templates and synonyms no training caption uses, to test a text encoder on prompts it never
saw. Some (digit, property bucket) combinations never occur together in a training caption
(`HELD_OUT_COMBINATIONS`: no training caption says "bold" with a seven): a training caption
leaves that property unsaid, and the held-out-combination test asks for exactly those.
"""

import dataclasses

import numpy as np

from jaxgen.latent.prompts import NUMBER_WORDS, tokenize
from jaxgen.metrics.digit_properties import BUCKET_WORDS, PROPERTIES

# (digit, property, bucket) never said together in training captions.
HELD_OUT_COMBINATIONS = ((7, "thickness", 2), (3, "slant", 0), (4, "thickness", 0),
                         (8, "slant", 2), (0, "size", 0))
SAY_PROPERTY = 0.75  # the chance that a caption says a property it may say


@dataclasses.dataclass(frozen=True)
class Phrasebook:
  """Templates ({digit} and {props} slots) and, per property bucket, its synonyms; filler
  openings; digit forms beside the numeral and the number word."""

  templates: tuple[str, ...]
  synonyms: dict[tuple[str, int], tuple[str, ...]]
  fillers: tuple[str, ...]
  digit_forms: tuple[str, ...]  # with {word} or {numeral}


TRAIN = Phrasebook(
    templates=("a {props} {digit}", "{props} {digit}", "the digit {digit}, {props}",
               "a handwritten {digit}, {props}", "{digit} written {props}",
               "a {digit} that is {props}", "an image of a {props} {digit}",
               "{digit}: {props}", "handwriting of a {props} {digit}"),
    synonyms={("thickness", 0): ("thin", "thin-stroked", "fine"),
              ("thickness", 2): ("bold", "thick", "heavy"),
              ("slant", 0): ("slanted left", "leaning left", "tilted left"),
              ("slant", 1): ("upright", "straight", "vertical"),
              ("slant", 2): ("slanted right", "leaning right", "tilted right"),
              ("size", 0): ("small", "little", "tiny"),
              ("size", 2): ("large", "big", "wide")},
    fillers=("", "", "please draw ", "draw ", "show me "),
    digit_forms=("{word}", "{numeral}", "number {word}"))

HELD_OUT = Phrasebook(
    templates=("someone wrote a {props} {digit}", "{digit} by hand, {props}",
               "I want a {props} {digit}", "sketch of a {props} {digit}",
               "a {digit}, drawn {props}"),
    synonyms={("thickness", 0): ("skinny", "delicate"),
              ("thickness", 2): ("chunky", "fat"),
              ("slant", 0): ("leftward", "backhanded"),
              ("slant", 1): ("erect", "plumb"),
              ("slant", 2): ("rightward", "italic"),
              ("size", 0): ("miniature", "compact"),
              ("size", 2): ("huge", "broad")},
    fillers=("", "could you make ", "generate "),
    digit_forms=("{word}", "numeral {numeral}"))


def sayable(label: int, buckets: dict[str, int], training: bool) -> dict[str, int]:
  """The properties a caption of this digit may say: those whose bucket has a word, less, in
  training captions, the held-out combinations."""
  out = {}
  for p in PROPERTIES:
    b = int(buckets[p])
    if BUCKET_WORDS[p][b] is None:
      continue
    if training and (label, p, b) in HELD_OUT_COMBINATIONS:
      continue
    out[p] = b
  return out


def caption(rng: np.random.Generator, label: int, buckets: dict[str, int],
            book: Phrasebook = TRAIN, say_all: bool = False,
            held_out_combinations: bool = False) -> tuple[str, dict[str, int]]:
  """One caption of a digit and the property buckets it says (-1: unsaid). Each sayable
  property is said with probability SAY_PROPERTY (all of them with `say_all`), in random
  order, each by a random synonym of `book`. Training captions never say a held-out
  combination unless `held_out_combinations` (the test of those, in training words)."""
  training = book is TRAIN and not held_out_combinations
  said = {p: b for p, b in sayable(label, buckets, training).items()
          if say_all or rng.uniform() < SAY_PROPERTY}
  order = list(said)
  rng.shuffle(order)
  words = [str(rng.choice(book.synonyms[(p, said[p])])) for p in order]
  props = " and ".join(words) if len(words) == 2 else ", ".join(words)
  digit = str(rng.choice(book.digit_forms)).format(word=NUMBER_WORDS[label], numeral=label)
  template = str(rng.choice(book.templates)) if words else "{digit}"
  text = template.format(digit=digit, props=props)
  if template.startswith(("a ", "an ", "the ", "{")):  # "draw a ...", not "draw someone wrote"
    text = str(rng.choice(book.fillers)) + text
  return " ".join(text.split()), {p: said.get(p, -1) for p in PROPERTIES}


COMBINATIONS = 3 ** len(PROPERTIES)  # bucket combinations of one digit


def combination_index(labels: np.ndarray, buckets: np.ndarray) -> np.ndarray:
  """Row of a caption table for labels [n] and buckets [n, 3] (PROPERTIES' order): label 27 +
  thickness 9 + slant 3 + size. Works on numpy and jax arrays alike."""
  return labels * COMBINATIONS + buckets[:, 0] * 9 + buckets[:, 1] * 3 + buckets[:, 2]


def caption_table(seed: int, per_row: int, book: Phrasebook = TRAIN,
                  num_classes: int = 10) -> np.ndarray:
  """Tokens int32 [num_classes 27, per_row, MAX_TOKENS]: row combination_index(label,
  buckets) holds `per_row` captions of such a digit, drawn by `caption` from `book`. A train
  step reads a random one of its digit's row, so captions vary from step to step without
  Python in the step."""
  rng = np.random.default_rng(seed)
  rows = []
  for label in range(num_classes):
    for combo in range(COMBINATIONS):
      buckets = dict(zip(PROPERTIES, (combo // 9, combo // 3 % 3, combo % 3)))
      rows.append(np.stack([tokenize(caption(rng, label, buckets, book)[0])
                            for _ in range(per_row)]))
  return np.stack(rows)


def prompt_set(seed: int, labels: np.ndarray, buckets: np.ndarray, book: Phrasebook,
               say_all: bool = True, held_out_combinations: bool = False
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
  """Prompts for digits of labels [n] with buckets [n, 3] (`caption`'s options): tokens int32
  [n, MAX_TOKENS] and the buckets each asks for ({property: [n]}, -1 where unsaid), what
  adherence scores."""
  rng = np.random.default_rng(seed)
  tokens, asked = [], {p: [] for p in PROPERTIES}
  for label, row in zip(np.asarray(labels), np.asarray(buckets)):
    text, said = caption(rng, int(label), dict(zip(PROPERTIES, map(int, row))), book, say_all,
                         held_out_combinations)
    tokens.append(tokenize(text))
    for p in PROPERTIES:
      asked[p].append(said[p])
  return np.stack(tokens), {p: np.asarray(v) for p, v in asked.items()}
