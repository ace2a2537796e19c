"""Captions from measurement (issue 38): for each digit, its label and the buckets of its
measured thickness, slant and size (jaxgen.metrics.digit_properties), said in varied English:
many phrasings, synonyms per property word, varied order, optional filler, numerals or number
words. Training captions may also carry nonce words (random letter strings no phrasebook uses),
so the text encoder learns that a word it does not know says nothing: prompts in words the
training captions never use must still be read by the words they share.

Two vocabularies and two phrasebooks: `TRAIN` captions the training digits; `HELD_OUT` uses
templates and synonyms no training caption uses, to test a text encoder on prompts it never
saw. Some (digit, property bucket) combinations never occur together in a training caption
(`HELD_OUT_COMBINATIONS`: no training caption says "bold" with a seven): a training caption
leaves that property unsaid, and the held-out-combination test asks for exactly those.
"""

import dataclasses
import re

import numpy as np

from jaxgen.latent.prompts import MAX_TOKENS, NUMBER_WORDS, tokenize, words
from jaxgen.metrics.digit_properties import BUCKET_WORDS, PROPERTIES

# (digit, property, bucket) never said together in training captions.
HELD_OUT_COMBINATIONS = ((7, "thickness", 2), (3, "slant", 0), (4, "thickness", 0),
                         (8, "slant", 2), (0, "size", 0))
SAY_PROPERTY = 0.75  # the chance that a caption says a property it may say
NONCE_RATE = 0.5  # the chance that a training caption carries one or two nonce words


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


def _book_words(book: Phrasebook) -> set[str]:
  """Every word a phrasebook can put in a caption."""
  texts = (*book.templates, *book.fillers, *book.digit_forms,
           *(w for ws in book.synonyms.values() for w in ws))
  return {w for t in texts for w in words(t.replace("{", " ").replace("}", " "))}


# Words a caption may hold beside nonce words: any phrasebook's (the held-out ones above all:
# a nonce word that happened to be "fat" would teach a held-out synonym), the number words and
# numerals, articles and the "and" that joins two properties.
KNOWN_WORDS = frozenset(_book_words(TRAIN) | _book_words(HELD_OUT) | set(NUMBER_WORDS)
                        | set("0123456789") | {"a", "an", "the", "and"})


def nonce_word(rng: np.random.Generator) -> str:
  """A random lower-case letter string of 3 to 8 letters that no phrasebook uses."""
  while True:
    word = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), int(rng.integers(3, 9))))
    if word not in KNOWN_WORDS:
      return word


def with_nonce_words(rng: np.random.Generator, text: str,
                     keep_together: tuple[str, ...] = ()) -> str:
  """`text` with one or two nonce words put in at random word boundaries, never inside one of
  `keep_together` ("slanted left" stays whole); unchanged where they would make it longer than
  a prompt may be."""
  for phrase in keep_together:
    text = text.replace(phrase, phrase.replace(" ", "\0"))
  out = text.split(" ")
  for _ in range(int(rng.integers(1, 3))):
    out.insert(int(rng.integers(0, len(out) + 1)), nonce_word(rng))
  text, longer = text.replace("\0", " "), " ".join(out).replace("\0", " ")
  return longer if len(longer.encode()) <= MAX_TOKENS else text


def with_articles(text: str) -> str:
  """'a' made 'an' before a vowel sound ("an upright seven", "an 8"; "a one" stays)."""
  return re.sub(r"\ba (?=[aeiou8])(?!one\b)", "an ", text)


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
            held_out_combinations: bool = False,
            nonce: bool = False) -> tuple[str, dict[str, int]]:
  """One caption of a digit and the property buckets it says (-1: unsaid). Each sayable
  property is said with probability SAY_PROPERTY (all of them with `say_all`), in random
  order, each by a random synonym of `book`. Training captions never say a held-out
  combination unless `held_out_combinations` (the test of those, in training words). With
  `nonce`, NONCE_RATE of captions get nonce words (`with_nonce_words`)."""
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
  text = with_articles(" ".join(text.split()))
  if nonce and rng.uniform() < NONCE_RATE:
    text = with_nonce_words(rng, text, tuple(w for ws in book.synonyms.values() for w in ws
                                             if " " in w))
  return text, {p: said.get(p, -1) for p in PROPERTIES}


def digit_only(rng: np.random.Generator, label: int, book: Phrasebook = HELD_OUT) -> str:
  """A prompt of `book`'s that names the digit and nothing else ("someone wrote a seven",
  "sketch of a numeral 7"): its templates with the properties left out."""
  digit = str(rng.choice(book.digit_forms)).format(word=NUMBER_WORDS[label], numeral=label)
  text = str(rng.choice(book.templates)).format(digit=digit, props="")
  text = re.sub(r"\s*,\s*(\w+)?\s*$", "", text)  # "seven by hand," / "a seven, drawn"
  return with_articles(" ".join(text.split()))


COMBINATIONS = 3 ** len(PROPERTIES)  # bucket combinations of one digit


def combination_index(labels: np.ndarray, buckets: np.ndarray) -> np.ndarray:
  """Row of a caption table for labels [n] and buckets [n, 3] (PROPERTIES' order): label 27 +
  thickness 9 + slant 3 + size. Works on numpy and jax arrays alike."""
  return labels * COMBINATIONS + buckets[:, 0] * 9 + buckets[:, 1] * 3 + buckets[:, 2]


def caption_table(seed: int, per_row: int, book: Phrasebook = TRAIN, num_classes: int = 10,
                  nonce: bool = True) -> tuple[np.ndarray, np.ndarray]:
  """Tokens int32 [num_classes 27, per_row, MAX_TOKENS] and the buckets each caption says,
  int32 [num_classes 27, per_row, 3] (PROPERTIES' order, -1 where unsaid): row
  combination_index(label, buckets) holds `per_row` captions of such a digit, drawn by
  `caption` from `book` (with nonce words unless `nonce` is False). A train step reads a
  random one of its digit's row, so captions vary from step to step without Python in the
  step."""
  rng = np.random.default_rng(seed)
  tokens, said = [], []
  for label in range(num_classes):
    for combo in range(COMBINATIONS):
      buckets = dict(zip(PROPERTIES, (combo // 9, combo // 3 % 3, combo % 3)))
      drawn = [caption(rng, label, buckets, book, nonce=nonce) for _ in range(per_row)]
      tokens.append(np.stack([tokenize(text) for text, _ in drawn]))
      said.append(np.array([[s[p] for p in PROPERTIES] for _, s in drawn], np.int32))
  return np.stack(tokens), np.stack(said)


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
