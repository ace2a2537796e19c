"""The locked environment: the lock pins every requirement of setup.cfg within its range, with
hashes, and the checker names each difference between an environment and the lock."""

import configparser
import importlib.util
import os
import sys

import pytest
from packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = os.path.join(ROOT, "requirements", "lock.txt")


def _check_lock():
  spec = importlib.util.spec_from_file_location(
      "check_lock", os.path.join(ROOT, "scripts", "check_lock.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _declared() -> list[Requirement]:
  """install_requires and the test extra of setup.cfg."""
  cfg = configparser.ConfigParser()
  cfg.read(os.path.join(ROOT, "setup.cfg"))
  lines = cfg["options"]["install_requires"].splitlines()
  lines += cfg["options.extras_require"]["test"].splitlines()
  return [Requirement(l) for l in (l.strip() for l in lines) if l and not l.startswith("#")]


def test_every_declared_requirement_is_pinned_within_its_range_with_hashes():
  check = _check_lock()
  pins = check.locked_pins(LOCK)
  for requirement in _declared():
    name = check.canonical(requirement.name)
    assert name in pins, f"{name} is declared in setup.cfg but not locked: run scripts/lock.sh"
    assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])
  assert {"pip", "setuptools", "wheel", "scipy", "pytest", "pytest-xdist"} <= pins.keys()
  # Each pin's block (its line and the indented lines under it) carries at least one hash.
  pinned, hashed = None, set()
  for line in open(LOCK):
    if check._PIN.match(line):  # pylint: disable=protected-access
      pinned = check.canonical(check._PIN.match(line).group(1))  # pylint: disable=protected-access
    elif pinned and line.startswith(" ") and "--hash=sha256:" in line:
      hashed.add(pinned)
  assert hashed == pins.keys(), sorted(pins.keys() - hashed)


def test_the_checker_names_missing_other_and_unlocked_packages(tmp_path):
  check = _check_lock()
  lock = tmp_path / "lock.txt"
  lock.write_text("# header\nFoo_Bar==1.0 \\\n    --hash=sha256:00\nbaz==2.0 \\\n"
                  "    --hash=sha256:11\n    # via foo-bar\nqux==3.0\n")
  pins = check.locked_pins(str(lock))
  assert pins == {"foo-bar": "1.0", "baz": "2.0", "qux": "3.0"}
  lines = check.differences(pins, {"foo-bar": "1.0", "baz": "2.1", "extra": "0.1"})
  assert lines == ["baz is 2.1, the lock says 2.0", "extra==0.1 is installed but not in the lock",
                   "qux==3.0 is locked but not installed"]
  assert check.differences(pins, dict(pins)) == []


def test_this_environment_is_the_lock():
  """scripts/setup.sh checks it after installing; a test run in its .venv checks it again."""
  if os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(ROOT, ".venv")):
    pytest.skip("not running in this checkout's .venv (made by scripts/setup.sh)")
  check = _check_lock()
  assert check.differences(check.locked_pins(LOCK), check.installed_versions({"jaxgen"})) == []
