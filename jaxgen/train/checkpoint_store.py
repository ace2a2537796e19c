"""Checkpoints of a workdir in an object store, written by orbax to a local staging folder.

orbax 0.12.8 hands `gs://` paths to TensorStore's GCS driver but `s3://` (and any other URL) to
its local file driver, which refuses them; and a store cannot rename, which orbax's commit does
on local disks. So for a URL workdir orbax works on a local copy, and this mirrors that copy's
committed step folders to `<workdir>/checkpoints` after each save, with the same epath code for
every store. A step counts in the store once its marker object `<step>.uploaded` exists (written
after the folder's last file), so a copy cut short is never downloaded; one process writes.
"""

import os
import shutil

from jaxgen import storage

MARKER = ".uploaded"


def _committed(local_dir: str) -> list[str]:
  """The finished step folders (and set-aside `<step>.damaged` ones) in the staging folder:
  orbax's unfinished saves carry `orbax-checkpoint-tmp` in their names."""
  return sorted(n for n in os.listdir(local_dir)
                if os.path.isdir(os.path.join(local_dir, n)) and "orbax-checkpoint-tmp" not in n)


def _uploaded(url: str) -> set[str]:
  """The folders under `url` whose copy finished (their marker exists)."""
  return {n[:-len(MARKER)] for n in storage.list_names(url) if n.endswith(MARKER)}


def download(url: str, local_dir: str) -> None:
  """Copies the store's finished step folders into the empty `local_dir` (set-aside damaged
  steps stay in the store: orbax would ignore them anyway)."""
  for name in sorted(_uploaded(url)):
    if name.isdigit():
      storage.download_tree(storage.join(url, name), os.path.join(local_dir, name))


def upload(local_dir: str, url: str) -> None:
  """Makes the store's steps those of `local_dir`: copies the folders the store lacks (marker
  last), then deletes the steps orbax has since deleted (over max_to_keep) or set aside
  (marker first, so a deletion cut short leaves a folder `download` ignores)."""
  local = _committed(local_dir)
  done = _uploaded(url)
  for name in local:
    if name not in done:
      storage.upload_tree(os.path.join(local_dir, name), storage.join(url, name))
      storage.write_bytes(storage.join(url, name + MARKER), b"")
  for name in sorted(done - set(local)):
    if name.isdigit():
      storage.remove_tree(storage.join(url, name + MARKER))
      storage.remove_tree(storage.join(url, name))
  # Copies cut short by a crash, without markers: nothing reads them.
  for name in storage.list_names(url):
    if not name.endswith(MARKER) and name not in local and name not in done:
      storage.remove_tree(storage.join(url, name))


def staging_for(url: str) -> str:
  """A fresh local staging folder for the checkpoints at `url`, filled from the store."""
  local_dir = storage.staging_dir(url, "checkpoints")
  try:
    download(url, local_dir)
  except BaseException:
    shutil.rmtree(local_dir, ignore_errors=True)
    raise
  return local_dir
