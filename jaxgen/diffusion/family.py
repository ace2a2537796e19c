"""The diffusion families for the shared train loop: "ddpm", "ncsn" and "noisy_classifier".

`make_family(config, data_spec)` picks the per-family module; each reads the ConfigDict once,
at the edge, through `jaxgen.diffusion.components`, and hands typed settings (a U-Net, a `Spec`,
a schedule) to the pure functions.
"""

import ml_collections

from jaxgen.diffusion import classifier_family, ddpm_family, ncsn_family
from jaxgen.errors import UserError
from jaxgen.train.family import DataSpec, Family

FAMILIES = ("ddpm", "ncsn", "noisy_classifier")


def make_family(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """Builds the family named by config.family (one of FAMILIES)."""
  if config.family == "ddpm":
    return ddpm_family.make(config, data_spec)
  if config.family == "ncsn":
    return ncsn_family.make(config, data_spec)
  if config.family == "noisy_classifier":
    return classifier_family.make(config, data_spec)
  raise UserError(f"jaxgen.diffusion.family has no family {config.family!r}; known: {FAMILIES}")
