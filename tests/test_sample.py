"""experiments/sample.py: which labels a sampling run uses (the end-to-end run is in test_launcher)."""

import numpy as np
import pytest

from experiments.sample import choose_labels
from jaxgen.errors import UserError


def test_labels_apply_to_classifier_guidance_of_an_unconditional_model():
  # Issue 13: --classifier_workdir with --labels on the unconditional ddpm was refused.
  got = choose_labels("ddpm", conditional=False, guided=True, labels_flag="7,1", num_classes=10,
                      num=5)
  np.testing.assert_array_equal(got, [7, 1, 7, 1, 7])
  assert got.dtype == np.int32
  # Without --labels a guided run still records the classes it steered towards: all in turn.
  got = choose_labels("ddpm", False, True, None, 3, 7)
  np.testing.assert_array_equal(got, [0, 1, 2, 0, 1, 2, 0])


def test_conditional_models_cycle_their_labels():
  np.testing.assert_array_equal(choose_labels("ddpm", True, False, "2", 10, 3), [2, 2, 2])
  np.testing.assert_array_equal(choose_labels("vae", True, False, "", 4, 6), [0, 1, 2, 3, 0, 1])


def test_unconditional_unguided_models_take_no_labels():
  assert choose_labels("ddpm", False, False, None, 10, 4) is None
  assert choose_labels("ddpm", False, False, "", 10, 4) is None
  with pytest.raises(UserError, match="the ddpm model is unconditional; drop --labels"):
    choose_labels("ddpm", False, False, "3", 10, 4)


@pytest.mark.parametrize("guided", [False, True])
def test_bad_labels_are_one_line_errors(guided):
  conditional = not guided
  for flag, message in [("1,x", "comma-separated integers"), ("1,,2", "comma-separated integers"),
                        ("10", r"labels must lie in \[0, 9\]"), ("-1", r"lie in \[0, 9\]")]:
    with pytest.raises(UserError, match=message):
      choose_labels("ddpm", conditional, guided, flag, 10, 4)
