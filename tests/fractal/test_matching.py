"""The jnp block matcher against the plain numpy loop, and quantiser round trips."""

import jax
import numpy as np
import pytest

from jaxgen.fractal import isometries, matching, partition, reference
from jaxgen.fractal.quantize import Quantizer


def _problem(grey, size=4, step=2):
  img = grey[32:64, 40:72].astype(np.float32)  # [32, 32]
  half = partition.downsample2(img)
  ranges = partition.range_blocks(img, size).reshape(-1, size * size)
  domains = partition.domain_blocks(half, partition.domain_positions(half.shape, size, step), size)
  return ranges, domains


def test_matches_numpy_reference(grey):
  q = Quantizer(8, 0.95, 4.0)
  ranges, domains = _problem(grey)
  cands = isometries.all_isometries(domains).reshape(-1, 16)
  idx, s, err = matching.match(ranges, cands, q.s_step, q.s_levels)
  ref_idx, ref_s, ref_err = reference.match_loop(ranges, domains, q.s_step, q.s_levels)
  np.testing.assert_allclose(err, ref_err, rtol=1e-4, atol=1e-2)
  # Indices may differ only where two candidates tie (equal error).
  assert np.mean(idx == ref_idx) > 0.95 and np.mean(s == ref_s) > 0.95


def test_sharded_equals_single_device(grey):
  assert jax.device_count() >= 2, "conftest should provide several CPU devices"
  q = Quantizer()
  ranges, domains = _problem(grey, size=4, step=4)
  cands = isometries.all_isometries(domains).reshape(-1, 16)
  one = matching.match(ranges, cands, q.s_step, q.s_levels, devices=jax.devices()[:1])
  many = matching.match(ranges, cands, q.s_step, q.s_levels, devices=jax.devices())
  for a, b in zip(one, many):
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_quantisers_round_trip_and_stay_contractive():
  q = Quantizer(8, 0.95, 4.0)
  k = np.arange(-8, 9)
  np.testing.assert_array_equal(q.s_index(q.s_value(k)), k)
  assert np.abs(q.s_value(k)).max() < 1.0
  assert q.s_index(np.array([5.0, -5.0])).tolist() == [8, -8]  # clipped
  d = np.arange(q.dc_levels)
  np.testing.assert_array_equal(q.dc_index(q.dc_value(d)), d)
  means = np.linspace(0, 255, 1001)
  assert np.abs(q.dc_value(q.dc_index(means)) - means).max() <= q.dc_step / 2 + 1e-6


@pytest.mark.parametrize("bad", [dict(s_max=1.0), dict(s_levels=0), dict(dc_step=0.1)])
def test_quantiser_rejects_bad_settings(bad):
  with pytest.raises(ValueError):
    Quantizer(**bad)
