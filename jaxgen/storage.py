"""Workdirs on a local folder or in an object store (`gs://`, `s3://`: any URL etils.epath opens).

Local paths keep the standard library's calls (so a local workdir behaves exactly as before);
URLs go through `etils.epath`, whose fsspec backend (gcsfs, s3fs: the `cloud` extra) talks to the
store. Nothing here names a particular store: `gs://` and `s3://` take the same code. Objects
cannot be appended to or renamed cheaply, so callers that append or rename locally write whole
objects for URLs instead (one metrics object a log, checkpoints staged in a local folder).
"""

import hashlib
import os
import shutil

from etils import epath

from jaxgen import user_cache
from jaxgen.errors import UserError


def is_url(path: str) -> bool:
  """Whether `path` names an object-store location (`scheme://...`) rather than a local path."""
  return "://" in str(path)


def resolve(path: str) -> str:
  """A local path made absolute; a URL without its trailing slash (URLs are absolute)."""
  return str(path).rstrip("/") if is_url(path) else os.path.abspath(path)


def join(base: str, *names: str) -> str:
  """`base`/names..., for local paths (os.path.join) and URLs alike."""
  return str(epath.Path(base).joinpath(*names)) if is_url(base) else os.path.join(base, *names)


def exists(path: str) -> bool:
  """Whether a file (or, in a store, any object under the prefix) exists at `path`."""
  return epath.Path(path).exists() if is_url(path) else os.path.exists(path)


def read_text(path: str) -> str:
  """The text of the file at `path` (FileNotFoundError when there is none)."""
  if is_url(path):
    return epath.Path(path).read_text()
  with open(path) as f:
    return f.read()


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` whole: never a half-written file after a crash (locally through a
  temporary file and a rename; an object store's put is all or nothing already)."""
  if is_url(path):
    epath.Path(path).write_text(text)
    return
  with open(path + ".tmp", "w") as f:
    f.write(text)
  os.replace(path + ".tmp", path)


def write_bytes(path: str, data: bytes) -> None:
  """Writes `data` to the file or object at `path`, creating local parent folders."""
  if is_url(path):
    epath.Path(path).write_bytes(data)
    return
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "wb") as f:
    f.write(data)


def list_names(url: str) -> list[str]:
  """The names directly under `url` (files and folders), sorted; [] when there are none."""
  folder = epath.Path(url)
  return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def remove_tree(url: str) -> None:
  """Deletes every object under `url` (nothing if there is none)."""
  folder = epath.Path(url)
  if folder.is_dir():
    folder.rmtree()
  elif folder.exists():
    folder.unlink()


def upload_tree(local_dir: str, url: str) -> None:
  """Copies every file under `local_dir` to the same relative name under `url` (streamed, so
  checkpoints larger than memory pass)."""
  for parent, _, files in os.walk(local_dir):
    for name in files:
      source = os.path.join(parent, name)
      target = epath.Path(url) / os.path.relpath(source, local_dir)
      with open(source, "rb") as f, target.open("wb") as g:
        shutil.copyfileobj(f, g)


def download_tree(url: str, local_dir: str) -> None:
  """Copies every object under `url` to the same relative name under `local_dir`."""
  # A listing a folder at a time: epath's walk and rglob refuse or fail on some backends.
  for name in list_names(url):  # none for a prefix without objects
    source = epath.Path(url) / name
    target = os.path.join(local_dir, name)
    if source.is_dir():
      download_tree(str(source), target)
      continue
    os.makedirs(local_dir, exist_ok=True)
    with source.open("rb") as f, open(target, "wb") as g:
      shutil.copyfileobj(f, g)


def staging_dir(url: str, what: str) -> str:
  """An empty local folder that stands in for `url`/`what` while this process runs (orbax and
  TensorBoard write through local files; their output is copied to the store): under the user
  cache, one per URL and process, so a reader (sampling a run that is still training) never
  touches the writer's copy. Its user removes it when done; a killed process leaves it."""
  key = hashlib.sha256(resolve(url).encode()).hexdigest()[:16]
  folder = os.path.join(user_cache.root(), "staging", f"{key}-{os.getpid()}-{what}")
  shutil.rmtree(folder, ignore_errors=True)
  os.makedirs(folder)
  return folder


def check_writable(workdir: str) -> str:
  """Creates `workdir` (a local folder or a store prefix) and checks that a file can be written
  and removed there; returns it resolved, or a UserError saying what failed."""
  workdir = resolve(workdir)
  probe = join(workdir, f".write_test.{os.getpid()}")  # one per process
  try:
    # A store has no folders to create: the probe object is the check. (Its mkdir would even
    # create a missing bucket, a typo's bucket included.)
    if is_url(workdir):
      epath.Path(probe).write_text("ok")
      epath.Path(probe).unlink()
    else:
      os.makedirs(workdir, exist_ok=True)
      with open(probe, "w") as f:
        f.write("ok")
      os.remove(probe)
  except ImportError as e:  # epath names the missing fsspec backend (gcsfs, s3fs)
    raise UserError(f"cannot open workdir {workdir} ({e}); install the cloud extra "
                    "(pip install -e .[cloud]) or use a local --workdir") from None
  except Exception as e:  # a store's client raises its own types (no credentials, no bucket)
    if not (isinstance(e, OSError) or is_url(workdir)):
      raise
    reason = getattr(e, "strerror", None) or str(e).splitlines()[0][:200] or type(e).__name__
    raise UserError(f"cannot write to workdir {workdir} ({reason}); "
                    "choose a writable --workdir") from None
  return workdir
