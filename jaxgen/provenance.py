"""Which code made a result: the checkout's commit, whether its tree was dirty, the diff's digest.

Standard library only at import (the store, `jaxgen.storage`, is loaded by the functions that
read and write a workdir). The loop appends one entry per (re)start to `<workdir>/provenance.json`,
so a run resumed from another commit says so; `experiments.report` copies the entries into the
record and refuses to publish a record from a dirty tree.
"""

import datetime
import hashlib
import json
import os
import subprocess
from typing import Any

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILE_NAME = "provenance.json"
# Paths whose changes do not make a checkout dirty (git pathspecs, from the repository root).
NOT_CODE = ("experiments/results", "*.md")


def _git(*args: str) -> str:
  return subprocess.run(["git", *args], cwd=REPO_ROOT, text=True, capture_output=True,
                        check=True).stdout


def checkout_state() -> dict[str, Any]:
  """{"commit": full hash or "unknown", "dirty": tracked files differ from it,
  "diff_sha256": sha256 of `git diff HEAD` (None when clean or unknown)}.

  Untracked files that git does not ignore count (their contents enter the digest); ignored
  ones (run folders, caches) do not, nor do changes
  to the records under experiments/results/ and to Markdown pages: they are what the code
  writes (a reproduce run writes one record after another, then the README's tables), not
  what makes a result.
  """
  try:
    commit = _git("rev-parse", "HEAD").strip()
    paths = ("--", ".", *(f":(exclude){p}" for p in NOT_CODE))
    diff = _git("diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", *paths)
    # A new config or module not yet committed made the result as much as an edit did (run
    # folders, caches and venvs are git-ignored, so they do not count).
    untracked = _git("ls-files", "--others", "--exclude-standard", *paths)
  except (OSError, subprocess.CalledProcessError):
    return {"commit": "unknown", "dirty": True, "diff_sha256": None}
  changes = diff
  for name in untracked.splitlines():
    path = os.path.join(REPO_ROOT, name)
    if os.path.islink(path):  # git keeps a link as its target's name: so does the digest
      content = os.readlink(path).encode()
    else:
      with open(path, "rb") as f:
        content = f.read()
    changes += f"\nuntracked {name} {hashlib.sha256(content).hexdigest()}"
  return {"commit": commit, "dirty": bool(changes),
          "diff_sha256": hashlib.sha256(changes.encode()).hexdigest() if changes else None}


def describe(state: dict[str, Any]) -> str:
  """A commit in the form records print: 10 hex digits, '+changes' when the tree was dirty."""
  return state["commit"][:10] + ("+changes" if state["dirty"] else "")


def trained_commits(entries: list[dict[str, Any]]) -> list[str]:
  """The distinct commits (as `describe` prints them) a workdir's training ran from, in order."""
  return list(dict.fromkeys(describe(e) for e in entries))


def record_start(workdir: str, start_step: int) -> dict[str, Any]:
  """Appends this checkout's state and the step training (re)starts from to
  workdir/provenance.json; returns the entry."""
  entry = {**checkout_state(), "start_step": int(start_step),
           "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
  from jaxgen import storage
  entries = read(workdir)
  # Whole or not at all after a crash (a local temporary file renamed; one put in a store).
  storage.write_text(storage.join(workdir, FILE_NAME),
                     json.dumps(entries + [entry], indent=2) + "\n")
  return entry


def read(workdir: str) -> list[dict[str, Any]]:
  """The workdir's training provenance entries, oldest first ([] for runs made before it)."""
  from jaxgen import storage
  path = storage.join(workdir, FILE_NAME)
  if not storage.exists(path):
    return []
  return json.loads(storage.read_text(path))


def trained_dirty(entries: list[dict[str, Any]]) -> bool:
  """Whether any part of the training ran from a dirty or unknown tree (or is unrecorded)."""
  return not entries or any(e["dirty"] for e in entries)
