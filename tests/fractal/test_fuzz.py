"""A quick run of the `.fic` fuzzer: every mutated file ends in a clean error or a valid
image within 5 s and 1 GB (the long run is `python -m experiments.fuzz_fic`)."""

from experiments import fuzz_fic


def test_mutations_are_deterministic_and_varied():
  files = fuzz_fic.seeds()
  assert fuzz_fic.mutate(files, 7) == fuzz_fic.mutate(files, 7)
  names = {fuzz_fic.mutate(files, s)[0] for s in range(200)}
  assert len(names) == 9


def test_quick_fuzz_run_ends_cleanly_within_bounds():
  # The largest allowed file (~3 s, ~800 MB) is left to the long run: its time bound is
  # too close to call on a loaded 2-core test machine.
  out = fuzz_fic.fuzz(300, first_seed=1_000_000, seconds=5.0, max_rss_mb=1024.0, log=None,
                      largest=False)
  assert out["failures"] == []
  # Both outcomes occur: a fuzzer whose cases all bounce off the CRC would test nothing.
  assert out["counts"]["decoded"] >= 30 and out["counts"]["format_error"] >= 150
  assert out["worst_seconds"] < 5.0 and out["peak_rss_mb"] < 1024.0
