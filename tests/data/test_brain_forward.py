"""The pRF forward model of visual cortex: receptive fields, retinotopy, compressive summation,
V4's features, the noise's structure and the resting state's 1/f input, against their
definitions."""

import numpy as np
import pytest

from jaxgen.data import brain_forward as bf
from jaxgen.errors import UserError

SIDE = 28


def test_prf_weights_sum_to_one_peak_at_their_centres_and_grow_outwards_and_upwards():
  centres = np.array([[13.5, 13.5], [13.5, 24.0], [3.0, 3.0]])  # fovea, right, corner
  sizes = {}
  for area in bf.AREAS:
    w = bf.prf_weights(centres, area, SIDE)  # [784, 3]
    np.testing.assert_allclose(w.sum(0), 1.0, rtol=1e-5)
    peaks = np.stack(np.unravel_index(w.argmax(0), (SIDE, SIDE)), -1)
    assert np.all(np.abs(peaks - centres) <= 0.5 + 1e-9)
    grid = np.stack(np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij"), -1)
    spread = np.sqrt(np.sum(w[:, 0] * np.sum((grid.reshape(-1, 2) - centres[0]) ** 2, -1)) / 2)
    intercept, _, _ = bf.PRF[area]
    # At the fovea (eccentricity 0) the size is the intercept, in pixels.
    assert spread == pytest.approx(intercept * SIDE / bf.FIELD_DEGREES, rel=0.05)
    sizes[area] = w.max(0)  # a larger pRF has a lower peak
  assert sizes["V1"][1] > sizes["V2"][1] > sizes["V3"][1] > sizes["V4"][1]  # larger upwards
  assert sizes["V2"][0] > sizes["V2"][1]  # larger with eccentricity


def test_retinotopy_is_smooth_along_the_voxel_axis_and_covers_the_field():
  rng = np.random.default_rng(0)
  centres = bf.retinotopic_centres(rng, 600, SIDE)
  assert centres.min() >= -0.5 and centres.max() < SIDE - 0.5
  neighbours = np.linalg.norm(np.diff(centres, axis=0), axis=1)
  random_pairs = np.linalg.norm(centres - centres[rng.permutation(600)], axis=1)
  assert np.median(neighbours) < 0.2 * np.median(random_pairs)
  counts = np.histogram2d(*centres.T, bins=4, range=[[-0.5, 27.5]] * 2)[0]
  assert counts.min() > 0.8 * counts.mean()  # every quarter of the field has its share


def test_compressive_summation_and_the_subjects_masks():
  cortex = bf.VisualCortex.create((60, 50, 40, 30, 10), SIDE, subject_seed=1)
  image = np.random.default_rng(1).uniform(0.0, 0.5, (1, SIDE, SIDE))
  r1, r2 = cortex.drive(image), cortex.drive(2 * image)
  masks = cortex.masks()
  for area in bf.AREAS:  # every stage is linear before the power, so 2x contrast gives 2^n
    n = bf.PRF[area][2]
    np.testing.assert_allclose(r2[:, masks[area]], 2 ** n * r1[:, masks[area]], rtol=1e-4)
  assert np.all(r1[:, ~masks["VC"]] == 0)  # outside visual cortex: nothing but noise later
  assert masks["VC"].sum() == 180 and cortex.num_voxels == 190
  assert set(np.unique(cortex.v4_channel)) == set(range(bf.V4_CHANNELS))
  with pytest.raises(UserError, match="voxel counts"):
    bf.VisualCortex.create((60, 50, 40), SIDE, subject_seed=1)


def test_v4_reads_a_fixed_rectified_convolution():
  image = np.zeros((1, SIDE, SIDE), np.float32)
  image[0, 10, 12] = 1.0  # an impulse: each channel's response is its (flipped) filter
  f = bf.v4_features(image)
  assert f.shape == (1, SIDE, SIDE, bf.V4_CHANNELS) and np.all(f >= 0)
  assert np.all(f[0, :8] == 0) and np.all(f[0, 13:] == 0)  # nothing beyond the 5x5 reach
  np.testing.assert_array_equal(f, bf.v4_features(image))  # fixed: the same filters each call


def test_noise_has_its_variance_neighbour_correlation_and_drift():
  rng = np.random.default_rng(2)
  plain = bf.TrialNoise(snr=0.25, correlated=0.0, drift=0.0).sample(rng, 3000, 200)
  assert plain.var() == pytest.approx(4.0, rel=0.03)  # 1 / snr
  assert abs(np.corrcoef(plain[:, 50], plain[:, 51])[0, 1]) < 0.08
  shared = bf.TrialNoise(snr=1.0, correlated=0.5, drift=0.0).sample(rng, 3000, 200)
  assert shared.var() == pytest.approx(1.0, rel=0.05)
  near = np.corrcoef(shared[:, 50], shared[:, 51])[0, 1]
  far = np.corrcoef(shared[:, 50], shared[:, 150])[0, 1]
  assert 0.4 < near < 0.6 and abs(far) < 0.08  # half the variance shared by close voxels
  slow = bf.TrialNoise(snr=1.0, correlated=0.0, drift=1.0).sample(rng, 3000, 200)
  # The drift is slow: averages over 100 consecutive trials keep its variance (about 1 of the
  # 2), where white noise would average away to 1/100.
  blocks = slow.reshape(30, 100, 200).mean(1)
  assert blocks.var() > 0.5
  with pytest.raises(UserError, match="snr > 0"):
    bf.TrialNoise(snr=0.0).sample(rng, 2, 2)


def test_pink_noise_images_have_a_one_over_f_squared_spectrum():
  images = bf.pink_noise_images(np.random.default_rng(3), 200, 64)
  assert images.shape == (200, 64, 64) and images.min() >= 0 and images.max() <= 1
  power = np.mean(np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True))) ** 2, 0)
  f = np.hypot(*np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(64), indexing="ij"))
  keep = (f > 0.03) & (f < 0.3)  # away from DC and from the clipping's high frequencies
  slope = np.polyfit(np.log(f[keep]), np.log(power[keep]), 1)[0]
  assert -2.3 < slope < -1.7
