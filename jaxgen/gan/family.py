"""The "gan" and "cyclegan" families: config -> networks and pure steps for the one train loop.

This is the only place that reads the experiment ConfigDict; it turns it into typed settings and
network modules, and hands them to `adversarial.GanSteps` or `cycle.CycleSteps`.

"gan" config fields: model ("mlp", "dcgan" or "transgan"), conditional (bool; CGAN when true),
latent_dim, learning_rate, optional loss ("non_saturating", "least_squares" or "wgan_gp"), adam_b1,
adam_b2, n_critic, gp_weight, drift_weight, ema_decay (absent or None: no EMA), ema_warmup
(default True: the decay ramps up as (1 + step) / (10 + step)) and diffaugment (a
list of policies); "mlp" and "dcgan" read generator_width and discriminator_width ("dcgan" also
optional num_doublings, upsample_to_image and discriminator_layers), "transgan"
its `transgan` dict (g_widths, g_depths, g_heads, g_window, d_patch, d_dim, d_depth, d_heads,
mlp_ratio; optional g_label_in_blocks, critic "vit" or "conv" with d_conv_layers).
"cyclegan" config fields: generator_features, num_res_blocks, discriminator_features,
discriminator_layers, cycle_weight, identity_weight, pool_size, learning_rate, optional loss,
optional semantic_weight with semantic_channels (the in-run classifier of domain A's labels)
and semantic_noise (the std of the noise on every image it reads).
"""

import ml_collections

from jaxgen.errors import UserError, enum_choice
from jaxgen.gan import diffaugment
from jaxgen.gan.adversarial import GanSettings, GanSteps
from jaxgen.gan.cycle import CycleSettings, CycleSteps
from jaxgen.gan.losses import AdversarialLoss
from jaxgen.nets import cyclegan, dcgan, gan_mlp, transgan
from jaxgen.nets.classifier import CNNClassifier
from jaxgen.train.family import DataSpec, Family

MODELS = ("mlp", "dcgan", "transgan")


def _loss(config: ml_collections.ConfigDict, default: AdversarialLoss) -> AdversarialLoss:
  """The config's adversarial loss as an enum, with a one-line error for unknown names."""
  return enum_choice(AdversarialLoss, config.get("loss", default.value), "loss")


def _transgan_pair(config: ml_collections.ConfigDict, data_spec: DataSpec, num_classes: int):
  """TransGAN's generator and critic from config.transgan."""
  t = config.transgan
  h, w, _ = data_spec.image_shape
  if h % 4 or w % 4 or h % t.d_patch or w % t.d_patch:
    raise UserError(f"TransGAN needs image height and width divisible by 4 and by "
                    f"transgan.d_patch={t.d_patch}, got {(h, w)}")
  if t.g_window and ((h % t.g_window) or (w % t.g_window)):
    raise UserError(f"transgan.g_window={t.g_window} does not divide the {h}x{w} images; "
                    "use a divisor or None (full attention)")
  generator = transgan.TransGANGenerator(
      data_spec.image_shape, widths=tuple(t.g_widths), depths=tuple(t.g_depths),
      num_heads=tuple(t.g_heads),
      mlp_ratio=t.mlp_ratio, window=t.g_window or None, num_classes=num_classes,
      label_in_blocks=t.get("g_label_in_blocks", False))
  critic = t.get("critic", "vit")
  if critic == "conv":
    discriminator = transgan.ConvCritic(t.d_dim, t.get("d_conv_layers", 3), num_classes)
  elif critic == "vit":
    discriminator = transgan.TransGANDiscriminator(
        patch=t.d_patch, dim=t.d_dim, depth=t.d_depth, num_heads=t.d_heads,
        mlp_ratio=t.mlp_ratio, num_classes=num_classes)
  else:
    raise UserError(f"transgan.critic must be 'vit' or 'conv', got {critic!r}")
  return generator, discriminator


def make_gan_steps(config: ml_collections.ConfigDict, data_spec: DataSpec) -> GanSteps:
  """Builds the MLP, DCGAN or TransGAN generator/discriminator pair and its step functions."""
  num_classes = data_spec.num_classes if config.get("conditional", False) else 0
  loss = _loss(config, AdversarialLoss.NON_SATURATING)
  if loss == AdversarialLoss.WGAN_GP and config.model == "dcgan":
    raise UserError("loss='wgan_gp' needs a critic without batch norm; DCGAN's discriminator "
                    "has it: use model='transgan' or 'mlp'")
  if config.model == "transgan":
    generator, discriminator = _transgan_pair(config, data_spec, num_classes)
  elif config.model == "mlp":
    g_width, d_width = config.generator_width, config.discriminator_width
    generator = gan_mlp.MLPGenerator(data_spec.image_shape, (g_width, 2 * g_width), num_classes)
    discriminator = gan_mlp.MLPDiscriminator((2 * d_width, d_width), num_classes)
  elif config.model == "dcgan":
    g_width, d_width = config.generator_width, config.discriminator_width
    h, w, _ = data_spec.image_shape
    doublings = config.get("num_doublings", 2)
    if h % 2**doublings or w % 2**doublings:
      raise UserError(f"DCGAN with num_doublings={doublings} needs image height and width "
                      f"divisible by {2**doublings}, got {(h, w)}; use model='mlp' or resize the data")
    generator = dcgan.DCGANGenerator(data_spec.image_shape, g_width, num_classes, doublings,
                                     config.get("upsample_to_image", False))
    discriminator = dcgan.DCGANDiscriminator(d_width, num_classes,
                                             config.get("discriminator_layers", 2))
  else:
    raise UserError(f"unknown GAN model {config.model!r}; known models: {', '.join(MODELS)}")
  n_critic = config.get("n_critic", 1)
  if n_critic < 1 or config.batch_size % n_critic:
    raise UserError(f"batch_size={config.batch_size} must split into n_critic={n_critic} equal "
                    "sub-batches (one per critic update); use a multiple of n_critic")
  augment = tuple(config.get("diffaugment", ()))
  unknown = sorted(set(augment) - set(diffaugment.POLICIES))
  if unknown:
    raise UserError(f"config.diffaugment has unknown policies {unknown}; known: "
                    f"{', '.join(diffaugment.POLICIES)}")
  settings = GanSettings(latent_dim=config.latent_dim, num_classes=num_classes, loss=loss,
                         learning_rate=config.learning_rate, b1=config.get("adam_b1", 0.5),
                         b2=config.get("adam_b2", 0.999), n_critic=n_critic,
                         gp_weight=config.get("gp_weight", 10.0),
                         drift_weight=config.get("drift_weight", 1e-3),
                         ema_decay=config.get("ema_decay", None),
                         ema_warmup=config.get("ema_warmup", True), augment=augment)
  return GanSteps(generator, discriminator, settings)


def make_cycle_steps(config: ml_collections.ConfigDict, data_spec: DataSpec) -> CycleSteps:
  """Builds CycleGAN's ResNet generator, PatchGAN discriminator and step functions."""
  h, w, _ = data_spec.image_shape
  if h % 4 or w % 4:
    raise UserError(f"CycleGAN needs image height and width divisible by 4, got {(h, w)}")
  if _loss(config, AdversarialLoss.LEAST_SQUARES) == AdversarialLoss.WGAN_GP:
    raise UserError("CycleGAN's step has no gradient penalty; use loss='least_squares' or "
                    "'non_saturating'")
  generator = cyclegan.ResNetGenerator(config.generator_features, config.num_res_blocks,
                                       config.get("transposed_upsampling", False))
  discriminator = cyclegan.PatchDiscriminator(config.discriminator_features,
                                              config.discriminator_layers)
  settings = CycleSettings(learning_rate=config.learning_rate, cycle_weight=config.cycle_weight,
                           identity_weight=config.identity_weight, pool_size=config.pool_size,
                           loss=_loss(config, AdversarialLoss.LEAST_SQUARES),
                           b1=config.get("adam_b1", 0.5),
                           semantic_weight=config.get("semantic_weight", 0.0),
                           semantic_noise=config.get("semantic_noise", 0.0))
  classifier = None
  if settings.semantic_weight:
    if not data_spec.num_classes:
      raise UserError("semantic_weight > 0 needs labels in domain A; set semantic_weight=0")
    channels = tuple(config.get("semantic_channels", (32, 64)))
    classifier = CNNClassifier(num_classes=data_spec.num_classes, channels=channels,
                               feature_dim=4 * channels[-1])
  return CycleSteps(generator, discriminator, settings, classifier)


def make_family(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """The Family for config.family "gan" (GAN, DCGAN, CGAN) or "cyclegan"."""
  if config.family == "gan":
    steps = make_gan_steps(config, data_spec)
    return Family(create_state=steps.create_state, train_step=steps.train_step,
                  eval_step=steps.eval_step, sample=steps.sample,
                  conditional=steps.settings.num_classes > 0)
  if config.family == "cyclegan":
    steps = make_cycle_steps(config, data_spec)
    # No unconditional sampler: CycleGAN only translates; the loop draws its grids and scores
    # identity preservation through `translate`.
    return Family(create_state=steps.create_state, train_step=steps.train_step,
                  eval_step=steps.eval_step, sample=None, translate=steps.translate)
  raise UserError(f"jaxgen.gan.family builds 'gan' and 'cyclegan', not {config.family!r}")
