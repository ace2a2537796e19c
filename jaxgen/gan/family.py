"""The "gan" and "cyclegan" families: config -> networks and pure steps for the one train loop.

This is the only place that reads the experiment ConfigDict; it turns it into typed settings and
network modules, and hands them to `adversarial.GanSteps` or `cycle.CycleSteps`.

"gan" config fields: model ("mlp" or "dcgan"), conditional (bool; CGAN when true), latent_dim,
generator_width, discriminator_width, learning_rate, optional loss ("non_saturating" or
"least_squares") and adam_b1.
"cyclegan" config fields: generator_features, num_res_blocks, discriminator_features,
discriminator_layers, cycle_weight, identity_weight, pool_size, learning_rate, optional loss,
optional semantic_weight with semantic_channels (the in-run classifier of domain A's labels).
"""

import ml_collections

from jaxgen.errors import UserError, enum_choice
from jaxgen.gan.adversarial import GanSettings, GanSteps
from jaxgen.gan.cycle import CycleSettings, CycleSteps
from jaxgen.gan.losses import AdversarialLoss
from jaxgen.nets import cyclegan, dcgan, gan_mlp
from jaxgen.nets.classifier import CNNClassifier
from jaxgen.train.family import DataSpec, Family

MODELS = ("mlp", "dcgan")


def _loss(config: ml_collections.ConfigDict, default: AdversarialLoss) -> AdversarialLoss:
  """The config's adversarial loss as an enum, with a one-line error for unknown names."""
  return enum_choice(AdversarialLoss, config.get("loss", default.value), "loss")


def make_gan_steps(config: ml_collections.ConfigDict, data_spec: DataSpec) -> GanSteps:
  """Builds the MLP or DCGAN generator/discriminator pair and its step functions."""
  num_classes = data_spec.num_classes if config.get("conditional", False) else 0
  g_width, d_width = config.generator_width, config.discriminator_width
  if config.model == "mlp":
    generator = gan_mlp.MLPGenerator(data_spec.image_shape, (g_width, 2 * g_width), num_classes)
    discriminator = gan_mlp.MLPDiscriminator((2 * d_width, d_width), num_classes)
  elif config.model == "dcgan":
    h, w, _ = data_spec.image_shape
    if h % 4 or w % 4:
      raise UserError(f"DCGAN needs image height and width divisible by 4, got {(h, w)}; "
                      "use model='mlp' or resize the data")
    generator = dcgan.DCGANGenerator(data_spec.image_shape, g_width, num_classes)
    discriminator = dcgan.DCGANDiscriminator(d_width, num_classes)
  else:
    raise UserError(f"unknown GAN model {config.model!r}; known models: {', '.join(MODELS)}")
  settings = GanSettings(latent_dim=config.latent_dim, num_classes=num_classes,
                         loss=_loss(config, AdversarialLoss.NON_SATURATING),
                         learning_rate=config.learning_rate, b1=config.get("adam_b1", 0.5))
  return GanSteps(generator, discriminator, settings)


def make_cycle_steps(config: ml_collections.ConfigDict, data_spec: DataSpec) -> CycleSteps:
  """Builds CycleGAN's ResNet generator, PatchGAN discriminator and step functions."""
  h, w, _ = data_spec.image_shape
  if h % 4 or w % 4:
    raise UserError(f"CycleGAN needs image height and width divisible by 4, got {(h, w)}")
  generator = cyclegan.ResNetGenerator(config.generator_features, config.num_res_blocks)
  discriminator = cyclegan.PatchDiscriminator(config.discriminator_features,
                                              config.discriminator_layers)
  settings = CycleSettings(learning_rate=config.learning_rate, cycle_weight=config.cycle_weight,
                           identity_weight=config.identity_weight, pool_size=config.pool_size,
                           loss=_loss(config, AdversarialLoss.LEAST_SQUARES),
                           b1=config.get("adam_b1", 0.5),
                           semantic_weight=config.get("semantic_weight", 0.0))
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
