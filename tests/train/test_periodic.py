"""The one every-N-steps helper."""

from absl.testing import parameterized

from jaxgen.train.periodic import due


class DueTest(parameterized.TestCase):

  @parameterized.parameters(
      (10, 5, 100, True), (11, 5, 100, False), (0, 5, 100, False), (100, 7, 100, True),
      (98, 7, 100, True), (99, 7, 100, False), (50, 0, 100, False), (100, 0, 100, True),
      (5, -1, 100, False))
  def test_due(self, step, every, last, expected):
    self.assertEqual(due(step, every, last), expected)
