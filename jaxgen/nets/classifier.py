"""A small CNN classifier (the course's CNN recap); its penultimate layer feeds FCD."""

from typing import Sequence

import flax.linen as nn
import jax


class CNNClassifier(nn.Module):
  """conv-conv-pool blocks, a dense feature layer, then class logits.

  Attributes:
    num_classes: number of output classes.
    channels: conv channels per block (each block halves the resolution).
    feature_dim: width of the penultimate layer used as the FCD feature space.
  """

  num_classes: int
  channels: Sequence[int] = (32, 64)
  feature_dim: int = 128
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False,
               return_features: bool = False) -> jax.Array | tuple[jax.Array, jax.Array]:
    """x: [b, h, w, c] in [0, 1] -> logits [b, num_classes] (and features [b, feature_dim])."""
    h = x * 2.0 - 1.0
    for ch in self.channels:
      h = nn.relu(nn.Conv(ch, (3, 3))(h))
      h = nn.relu(nn.Conv(ch, (3, 3))(h))
      h = nn.max_pool(h, (2, 2), strides=(2, 2))  # halve h and w
    h = h.reshape(h.shape[0], -1)  # [b, h' * w' * c']
    features = nn.relu(nn.Dense(self.feature_dim)(h))  # [b, feature_dim]
    h = nn.Dropout(self.dropout, deterministic=not train)(features)
    logits = nn.Dense(self.num_classes)(h)  # [b, num_classes]
    return (logits, features) if return_features else logits


class MLPClassifier(nn.Module):
  """Dense layers on the flattened pixels: a judge of another kind than the CNN, so a model
  tuned against convolutional features shows it (no convolution, no pooling, no translation
  invariance built in).

  Attributes:
    num_classes: number of output classes.
    hidden: widths of the hidden layers before the feature layer.
    feature_dim: width of the penultimate layer (its features, as the CNN's).
  """

  num_classes: int
  hidden: Sequence[int] = (256,)
  feature_dim: int = 128
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False,
               return_features: bool = False) -> jax.Array | tuple[jax.Array, jax.Array]:
    """x: [b, h, w, c] in [0, 1] -> logits [b, num_classes] (and features [b, feature_dim])."""
    h = (x * 2.0 - 1.0).reshape(x.shape[0], -1)  # [b, h * w * c]
    for width in self.hidden:
      h = nn.relu(nn.Dense(width)(h))
    features = nn.relu(nn.Dense(self.feature_dim)(h))  # [b, feature_dim]
    h = nn.Dropout(self.dropout, deterministic=not train)(features)
    logits = nn.Dense(self.num_classes)(h)  # [b, num_classes]
    return (logits, features) if return_features else logits
