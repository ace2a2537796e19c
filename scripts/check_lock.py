"""Checks that the running Python environment holds exactly the packages pinned in a lock file.

Run by scripts/setup.sh with the virtual environment's Python:

    python scripts/check_lock.py requirements/lock.txt [--remove-extras]

Exits 0 when every pinned package is installed at its pinned version and nothing else is (the
editable jaxgen itself aside); otherwise prints one line per difference and a last line saying
what to do, and exits 1. With --remove-extras it first uninstalls packages the lock does not name
(left behind by an earlier lock), so an existing .venv follows the lock as a fresh one would.
"""

import argparse
import importlib.metadata
import re
import subprocess
import sys

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def canonical(name: str) -> str:
  """The PEP 503 normalised form of a distribution name (`Foo_bar.baz` -> `foo-bar-baz`)."""
  return re.sub(r"[-_.]+", "-", name).lower()


def locked_pins(lock_path: str) -> dict[str, str]:
  """{canonical name: version} of every `name==version` line of a pip-compile lock file."""
  pins = {}
  with open(lock_path) as f:
    for line in f:
      match = _PIN.match(line)
      if match:
        pins[canonical(match.group(1))] = match.group(2)
  return pins


def installed_versions(skip: set[str]) -> dict[str, str]:
  """{canonical name: version} of the distributions importable by this Python, minus `skip`."""
  found = {}
  for dist in importlib.metadata.distributions():
    name = canonical(dist.metadata["Name"])
    if name not in skip:
      found[name] = dist.version
  return found


def differences(pins: dict[str, str], installed: dict[str, str]) -> list[str]:
  """One line per package that is missing, at another version, or installed but not locked."""
  lines = []
  for name in sorted(pins.keys() | installed.keys()):
    want, have = pins.get(name), installed.get(name)
    if want is None:
      lines.append(f"{name}=={have} is installed but not in the lock")
    elif have is None:
      lines.append(f"{name}=={want} is locked but not installed")
    elif have != want:
      lines.append(f"{name} is {have}, the lock says {want}")
  return lines


def main() -> int:
  """Compares, optionally removes unlocked packages, and reports."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("lock")
  parser.add_argument("--remove-extras", action="store_true")
  args = parser.parse_args()
  pins = locked_pins(args.lock)
  skip = {"jaxgen"}  # the project itself, installed editable with --no-deps
  if args.remove_extras:
    extras = sorted(installed_versions(skip).keys() - pins.keys())
    if extras:
      subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", *extras], check=True)
  lines = differences(pins, installed_versions(skip))
  for line in lines:
    print(f"lock mismatch: {line}", file=sys.stderr)
  if lines:
    print(f"error: the environment differs from {args.lock} in {len(lines)} package(s); "
          "delete .venv and run scripts/setup.sh again", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
