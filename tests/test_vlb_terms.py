"""experiments/vlb_terms.py: every term of the bound of a trained model, summarised and plotted."""

import os

import numpy as np
import pytest

from experiments import vlb_terms
from tests.helpers import shared_run, tiny_config


@pytest.mark.slow
def test_terms_add_up_to_the_bound_and_plot(tmp_path_factory, tmp_path):
  config = tiny_config("cfg")
  config.model.channel_mult, config.model.attention_resolutions = (1,), ()  # as test_score's
  workdir = shared_run(tmp_path_factory, "score_cfg", config)
  m = vlb_terms.model_terms(workdir, 6, 0)
  T = config.diffusion.num_timesteps
  assert m["total_bpd"].shape == (6,) and m["term_mean"].shape == (T,)
  assert np.all(np.isfinite(m["total_bpd"])) and np.all(m["term_mean"] >= -1e-6)  # KLs, an NLL
  row = vlb_terms.summary("cfg", m)
  assert row["conditional"] and row["images"] == 6  # cfg's bound is -log p(x|y), and says so
  # The bands partition t, so they and the prior make the whole bound.
  assert sum(row["bands_bpd"].values()) + row["prior_LT_bpd"] == pytest.approx(row["total_bpd"],
                                                                                rel=1e-4)
  assert row["decoder_L0_bpd"] == pytest.approx(m["term_mean"][0]) and row["total_bpd_se"] > 0
  assert m["term_mean"][0] > m["term_mean"][T // 2]  # the bound is made at small t
  path = str(tmp_path / "terms.png")
  vlb_terms.plot({"a": m, "b": m}, path)
  assert os.path.getsize(path) > 1000
