"""Diffusion sampler settings as the launchers spell them: KIND:STEPS[:key=value...].

Shared by experiments.score and experiments.report (which cannot import each other: each
defines its absl flags at import).
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Setting:
  """One sampler configuration: kind, respaced steps, DDIM eta, CFG weight, classifier scale."""

  kind: str
  steps: int
  eta: float = 0.0
  w: float = 0.0
  cls: float = 0.0

  @property
  def name(self) -> str:
    """e.g. 'ddim50', 'ddim50 w=1', 'ddpm1000'."""
    extras = [f"{k}={getattr(self, k):g}" for k in ("eta", "w", "cls") if getattr(self, k)]
    return " ".join([f"{self.kind}{self.steps}"] + extras)


def parse_setting(text: str):
  """'ddim:50:w=1' -> Setting; raises UserError naming the bad part."""
  from jaxgen.errors import UserError
  parts = text.strip().split(":")
  if len(parts) < 2 or parts[0] not in ("ddpm", "ddim") or not parts[1].isdigit() \
      or int(parts[1]) <= 0:
    raise UserError(f"--settings item {text!r} must look like ddim:50 or ddpm:1000[:w=1]")
  values = {}
  for part in parts[2:]:
    key, _, value = part.partition("=")
    if key not in ("eta", "w", "cls"):
      raise UserError(f"--settings item {text!r}: unknown key {key!r}; use eta, w or cls")
    try:
      values[key] = float(value)
    except ValueError:
      raise UserError(f"--settings item {text!r}: {key} needs a number, got {value!r}") from None
  return Setting(parts[0], int(parts[1]), **values)
