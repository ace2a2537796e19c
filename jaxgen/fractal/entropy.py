"""Adaptive entropy models over a `constriction` range coder.

Encoder and decoder run the very same traversal code through a `SymbolCoder`: the encoding
one consumes given symbols, the decoding one produces them. Model state is updated with
integer arithmetic only, so both sides compute bit-identical probabilities.
"""

import math

import constriction
import numpy as np

from jaxgen.fractal.errors import FicFormatError

_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)


class AdaptiveCategorical:
  """Frequency-count model over `size` symbols; counts halve when they grow large."""

  def __init__(self, size: int, increment: int = 32, limit: int = 1 << 13):
    self.counts = np.ones(size, np.int64)
    self.total = size
    self.increment = increment
    self.limit = limit

  def probabilities(self) -> np.ndarray:
    """Current model as a [1, size] float64 row (the shape constriction wants)."""
    return (self.counts / float(self.total))[None, :]

  def update(self, symbol: int) -> None:
    """Counts `symbol`; halving keeps the model following local statistics."""
    self.counts[symbol] += self.increment
    self.total += self.increment
    if self.total > self.limit:
      self.counts = (self.counts + 1) // 2
      self.total = int(self.counts.sum())


class AdaptiveLaplace:
  """Zero-mean quantised Laplace whose scale tracks the mean |residual| seen so far."""

  def __init__(self, bound: int, prior_abs: int = 4, prior_count: int = 1):
    self.model = constriction.stream.model.QuantizedLaplace(-bound, bound)
    self.bound = bound
    self.sum_abs = prior_abs
    self.count = prior_count

  def scale(self) -> np.ndarray:
    """Laplace scale b (mean |x| of a Laplace is b), floored to stay well-defined."""
    return np.array([max(self.sum_abs / self.count, 0.3)], np.float64)

  def update(self, symbol: int) -> None:
    """Adds one residual to the running statistics, forgetting slowly."""
    self.sum_abs += abs(symbol)
    self.count += 1
    if self.count > 255:
      self.sum_abs, self.count = self.sum_abs // 2, self.count // 2


def _laplace_bits(k: int, b: float) -> float:
  """-log2 of the quantised Laplace mass at integer `k` (ignoring the truncation)."""
  a = abs(k)
  if a == 0:
    p = 1.0 - math.exp(-0.5 / b)
  else:
    p = 0.5 * (math.exp(-(a - 0.5) / b) - math.exp(-(a + 0.5) / b))
  return -math.log2(max(p, 1e-12))


class SymbolCoder:
  """Codes symbols in order: encodes given ones, or decodes them from `data`."""

  def __init__(self, data: np.ndarray | None = None):
    self.decoding = data is not None
    if self.decoding:
      self._coder = constriction.stream.queue.RangeDecoder(data)
    else:
      self._coder = constriction.stream.queue.RangeEncoder()
    self.bits = 0.0  # ideal code length so far, used for rate estimates

  def categorical(self, model: AdaptiveCategorical, symbol: int = 0) -> int:
    """Codes one symbol with an adaptive categorical model and updates the model."""
    p = model.probabilities()
    if self.decoding:
      symbol = int(self._coder.decode(_CATEGORICAL, p)[0])
    else:
      self._coder.encode(np.array([symbol], np.int32), _CATEGORICAL, p)
    self.bits -= math.log2(p[0, symbol])
    model.update(symbol)
    return symbol

  def laplace(self, model: AdaptiveLaplace, symbol: int = 0) -> int:
    """Codes one residual in [-bound, bound] with an adaptive Laplace model."""
    b = model.scale()
    if self.decoding:
      symbol = int(self._coder.decode(model.model, np.zeros(1), b)[0])
    else:
      if abs(symbol) > model.bound:
        raise ValueError(f"residual {symbol} outside +-{model.bound}")
      self._coder.encode(np.array([symbol], np.int32), model.model, np.zeros(1), b)
    self.bits += _laplace_bits(symbol, float(b[0]))
    model.update(symbol)
    return symbol

  def uniform(self, size: int, symbol: int = 0) -> int:
    """Codes one symbol in 0..size-1 with a flat model (nothing to code when size is 1)."""
    if size <= 1:
      return 0
    model = constriction.stream.model.Uniform(size)
    if self.decoding:
      symbol = int(self._coder.decode(model))
      if not 0 <= symbol < size:
        raise FicFormatError("corrupt .fic payload: symbol out of range")
    else:
      self._coder.encode(symbol, model)
    self.bits += math.log2(size)
    return symbol

  def finish(self) -> bytes:
    """The compressed bytes (encoding only)."""
    return self._coder.get_compressed().tobytes()
