"""Sampler settings as the launchers spell them: KIND:STEPS[:key=value...] for diffusion,
steps=N[:w=W] for the code models (MaskGIT, Paella; w alone for the autoregressive baseline),
als[:steps=S][:lr=E][:denoise=0|1] or cas[:lr=E][:denoise=0|1] for the score model (NCSN).

Shared by experiments.score and experiments.report (which cannot import each other: each
defines its absl flags at import).
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Setting:
  """One sampler configuration: kind, respaced steps, DDIM eta, CFG weight, classifier scale,
  and which timesteps a respaced chain keeps (None: the config's). w and cls are None when not
  given: `cls=0` still samples with labels (a guidance sweep's unguided point)."""

  kind: str
  steps: int
  eta: float = 0.0
  w: float | None = None
  cls: float | None = None
  spacing: str | None = None

  def sampler_options(self) -> dict:
    """The diffusion sampler's keyword arguments for this setting (cls= is added by the caller,
    which holds the classifier). A setting without w= samples at w = 0, not at the config's
    guidance scale: its name says no w, so it is the plain model."""
    options = dict(kind=self.kind, num_steps=self.steps, eta=self.eta,
                   guidance_scale=self.w or 0.0)
    if self.spacing:
      options["spacing"] = self.spacing
    return options

  @property
  def name(self) -> str:
    """e.g. 'ddim50', 'ddim50 w=1', 'ddpm1000', 'ddim50 spacing=quadratic'."""
    extras = [f"eta={self.eta:g}"] if self.eta else []
    extras += [f"{k}={getattr(self, k):g}" for k in ("w", "cls") if getattr(self, k) is not None]
    if self.spacing:
      extras.append(f"spacing={self.spacing}")
    return " ".join([f"{self.kind}{self.steps}"] + extras)


def parse_setting(text: str):
  """'ddim:50:w=1' (or ':spacing=quadratic', ...) -> Setting; raises UserError naming the bad
  part."""
  from jaxgen.diffusion.schedules import SPACINGS
  from jaxgen.errors import UserError
  parts = text.strip().split(":")
  if len(parts) < 2 or parts[0] not in ("ddpm", "ddim") or not parts[1].isdigit() \
      or int(parts[1]) <= 0:
    raise UserError(f"--settings item {text!r} must look like ddim:50 or ddpm:1000[:w=1]")
  values = {}
  for part in parts[2:]:
    key, _, value = part.partition("=")
    if key == "spacing":
      if value not in SPACINGS:
        raise UserError(f"--settings item {text!r}: spacing must be one of {', '.join(SPACINGS)}")
      values[key] = value
      continue
    if key not in ("eta", "w", "cls"):
      raise UserError(f"--settings item {text!r}: unknown key {key!r}; use eta, w, cls or "
                      "spacing")
    try:
      values[key] = float(value)
    except ValueError:
      raise UserError(f"--settings item {text!r}: {key} needs a number, got {value!r}") from None
  return Setting(parts[0], int(parts[1]), **values)


@dataclasses.dataclass(frozen=True)
class LangevinSetting:
  """A score model's sampler: annealed Langevin dynamics ("als", `steps` a level), consistent
  annealed sampling ("cas", one step a level, step size `lr`: epsilon of
  alpha_i = lr sigma_i^2 / sigma_L^2) or predictor-corrector sampling ("pc", `steps` Langevin
  corrector steps a level at signal-to-noise ratio `snr`, ancestral predictor), and the final
  denoising step (als, cas); None: the config's."""

  kind: str
  steps: int | None = None
  lr: float | None = None
  denoise: bool | None = None
  snr: float | None = None
  w = None  # no guidance: the score model is unconditional (experiments.score reads these)
  cls = None

  def sampler_options(self) -> dict:
    """The ncsn family's sampler keyword arguments (only those given)."""
    options: dict = {"sampler": self.kind}
    for key, value in (("steps_per_sigma", self.steps), ("step_lr", self.lr),
                       ("denoise", self.denoise), ("snr", self.snr)):
      if value is not None:
        options[key] = value
    return options

  @property
  def name(self) -> str:
    """e.g. 'als steps=5 lr=1.1e-05', 'cas lr=2e-05 denoise=0', 'pc steps=1 snr=0.16'."""
    words = [self.kind]
    for key in ("steps", "lr", "snr", "denoise"):
      value = getattr(self, key)
      if value is not None:
        words.append(f"{key}={int(value) if key == 'denoise' else format(value, 'g')}")
    return " ".join(words)


# Langevin sampler -> the keys its setting takes.
LANGEVIN_KEYS = {"als": ("steps", "lr", "denoise"), "cas": ("lr", "denoise"), "pc": ("steps", "snr")}


def parse_langevin_setting(text: str) -> LangevinSetting:
  """'als:steps=10:lr=2e-5', 'cas:lr=2e-5:denoise=0' or 'pc:steps=1:snr=0.16' ->
  LangevinSetting; raises UserError naming the bad part."""
  from jaxgen.errors import UserError
  parts = text.strip().split(":")
  if parts[0] not in LANGEVIN_KEYS:
    raise UserError(f"setting {text!r}: a score model samples with als (annealed Langevin), "
                    "cas (consistent annealed sampling) or pc (predictor-corrector), e.g. "
                    "als:steps=5:lr=1e-5 or pc:steps=1:snr=0.16")
  allowed = LANGEVIN_KEYS[parts[0]]
  values: dict = {}
  for part in parts[1:]:
    key, _, value = part.partition("=")
    if key not in allowed:
      raise UserError(f"setting {text!r}: {parts[0]} takes {', '.join(allowed)}, not {key!r}")
    try:
      number = float(value)
    except ValueError:
      raise UserError(f"setting {text!r}: {key} needs a number, got {value!r}") from None
    least = 0 if parts[0] == "pc" else 1  # pc may run its predictor alone
    if key == "steps" and (number != int(number) or number < least):
      raise UserError(f"setting {text!r}: steps must be a whole number >= {least}")
    if key in ("lr", "snr") and not number > 0:
      raise UserError(f"setting {text!r}: {key} must be positive")
    if key == "denoise" and number not in (0, 1):
      raise UserError(f"setting {text!r}: denoise is 0 or 1")
    values[key] = int(number) if key == "steps" else bool(number) if key == "denoise" else number
  return LangevinSetting(parts[0], **values)


# Code-model family -> its sampler's keyword for the number of steps (the autoregressive
# baseline has none: one step per code).
TOKEN_STEP_KEYS = {"maskgit": "decode_steps", "paella": "sample_steps", "maskgit_ar": None}


def parse_token_setting(family: str, text: str) -> dict:
  """'steps=8:w=1' for a code model -> its sampler's keyword arguments (e.g. decode_steps=8,
  guidance_scale=1.0; MaskGIT also takes temp=T, its sampling temperature, top_k=K, and
  choice=C, the Gumbel scale on its confidences; Paella typical=M, its typical_mass, and
  temp_end=T, the temperature its last draw anneals to; the autoregressive baseline w, temp
  and top_k);
  raises UserError naming the bad part."""
  from jaxgen.errors import UserError
  step_key = TOKEN_STEP_KEYS[family]
  allowed = ("steps", "w") if step_key else ("w", "temp", "top_k")
  if family == "paella":
    allowed += ("typical", "temp_end")
  elif family == "maskgit":
    allowed += ("temp", "choice", "top_k")
  options: dict = {}
  for part in text.strip().split(":"):
    key, _, value = part.partition("=")
    if key not in allowed:
      raise UserError(f"--setting {text!r}: {family} takes {' and '.join(allowed)} "
                      f"(e.g. steps=8:w=1), not {key!r}")
    try:
      number = float(value)
    except ValueError:
      raise UserError(f"--setting {text!r}: {key} needs a number, got {value!r}") from None
    if key == "steps":
      if number != int(number) or number < 1:
        raise UserError(f"--setting {text!r}: steps must be a positive whole number")
      options[step_key] = int(number)
    elif key == "temp":
      if not number > 0:
        raise UserError(f"--setting {text!r}: temp is a positive temperature")
      options["temperature"] = number
    elif key == "top_k":
      if number != int(number) or number < 0:
        raise UserError(f"--setting {text!r}: top_k is a whole number of codes (0: all)")
      options["top_k"] = int(number)
    elif key == "choice":
      if not number >= 0:
        raise UserError(f"--setting {text!r}: choice is a Gumbel scale >= 0 (0: by confidence)")
      options["choice_temperature"] = number
    elif key == "temp_end":
      if not number > 0:
        raise UserError(f"--setting {text!r}: temp_end is a positive temperature")
      options["final_temperature"] = number
    elif key == "typical":
      if not 0.0 < number <= 1.0:
        raise UserError(f"--setting {text!r}: typical is a probability mass in (0, 1]")
      options["typical_mass"] = number
    else:
      options["guidance_scale"] = number
  return options


def token_setting_name(options: dict) -> str:
  """A code model's sampler options in words, e.g. '8 steps w=1' (missing: the config's)."""
  steps = options.get("decode_steps") or options.get("sample_steps")
  words = [f"{steps} steps"] if steps else []
  if "guidance_scale" in options:
    words.append(f"w={options['guidance_scale']:g}")
  if options.get("typical_mass", 1.0) < 1.0:
    words.append(f"typical={options['typical_mass']:g}")
  if options.get("final_temperature") is not None:
    words.append(f"temp_end={options['final_temperature']:g}")
  if options.get("temperature") is not None:
    words.append(f"temp={options['temperature']:g}")
  if options.get("choice_temperature") is not None:
    words.append(f"choice={options['choice_temperature']:g}")
  if options.get("top_k"):
    words.append(f"top_k={options['top_k']}")
  return " ".join(words)


@dataclasses.dataclass(frozen=True)
class TokenSetting:
  """A code model's sampler setting as experiments.score scores it: `options` are the sampler's
  keyword arguments (parse_token_setting), `name` them in words with the config's defaults
  filled in."""

  options: dict
  name: str
  w = None  # guidance is among `options`; score's cls= path does not apply
  cls = None

  def sampler_options(self) -> dict:
    """The family's sampler keyword arguments (only those given)."""
    return dict(self.options)


def token_setting(family: str, defaults: dict, text: str | None) -> TokenSetting:
  """A code model's setting from 'steps=8:w=1' (None: the config's own, `defaults`)."""
  options = parse_token_setting(family, text) if text else {}
  return TokenSetting(options, token_setting_name({**defaults, **options}))

