"""Keep uploaded note files under COACH_HOME/uploads: only UTF-8 .md/.markdown/.txt files up to
MAX_UPLOAD_BYTES, each under a cleaned name that cannot point outside that folder.

Indexing what was kept is left to the caller (Coach.ingest); the upload widget is left to ui/.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .corpus import USER_SUFFIXES
from .errors import ErrorCode, UsageError

UPLOAD_DIR = "uploads"  # under COACH_HOME: uploaded files live here and are indexed as one folder
# Notes are text: 2 MiB is a few hundred thousand words, far more than any one note; anything bigger
# is a mistake (a log, a dump) that would only slow the index down.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_NAME_CHARS = 120
_ODD = re.compile(r"[^\w.\- ]+")  # anything but letters, digits, _, ., - and space becomes one _


@dataclass
class Kept:
    names: list[str] = field(default_factory=list)    # stored under these names, in upload order
    refused: list[str] = field(default_factory=list)  # "name: why", one per file not kept


def refuse(message: str) -> UsageError:
    return UsageError(message, code=ErrorCode.UPLOAD_REFUSED)


def safe_name(name: str) -> str:
    """The name to store an upload under: its last path part (either separator), odd characters
    replaced, no leading dots (hidden files are not indexed), at most MAX_NAME_CHARS, suffix kept."""
    base = re.split(r"[\\/]", name.replace("\x00", ""))[-1]
    stem, suffix = os.path.splitext(base)
    if suffix.lower() not in USER_SUFFIXES:
        raise refuse(f"{base or name!r}: only {', '.join(USER_SUFFIXES)} files can be added")
    stem = _ODD.sub("_", stem).strip(" .")[:MAX_NAME_CHARS - len(suffix)].strip(" .")
    if not stem.strip("_-"):
        raise refuse(f"{base!r}: the name has no usable characters; rename the file and upload it again")
    return stem + suffix.lower()


def read_note(src: Path, shown: str) -> bytes:
    """The file's bytes, refused when too big or not UTF-8 text (it would only be skipped by ingest)."""
    try:
        size = src.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise refuse(f"{shown}: {size / 2**20:.1f} MiB is over the {MAX_UPLOAD_BYTES // 2**20} MiB "
                         "limit for a notes file")
        with open(src, "rb") as f:
            data = f.read(MAX_UPLOAD_BYTES + 1)  # the file may have grown since stat
    except OSError as e:
        raise refuse(f"{shown}: the upload could not be read ({e.strerror or e}); upload it again") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise refuse(f"{shown}: over the {MAX_UPLOAD_BYTES // 2**20} MiB limit for a notes file")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse(f"{shown}: not UTF-8 text; re-save it as UTF-8 and upload it again") from None
    if b"\x00" in data:
        raise refuse(f"{shown}: looks like a binary file, not notes")
    return data


def keep_upload(src: Path, name: str, target: Path) -> str:
    """Write the upload `src`, sent as `name`, into `target` under safe_name(name); returns that name."""
    stored = safe_name(name)
    data = read_note(src, stored)
    target.mkdir(parents=True, exist_ok=True)
    if Path(stored).name != stored or stored.startswith("."):  # safe_name makes this impossible; a last guard
        raise refuse(f"{name!r}: not a plain file name")
    dest = target / stored
    # Written beside and renamed over: a symlink planted at dest is replaced, never followed out of target.
    fd, tmp = tempfile.mkstemp(dir=target, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return stored


def upload_source(item) -> tuple[Path, str]:
    """(file on disk, name the user sent) for what an upload widget hands over: a path, or an object
    with .path and .orig_name (Gradio's FileData) or with .name (a temp file)."""
    if isinstance(item, (str, os.PathLike)):
        return Path(item), Path(item).name
    path = Path(getattr(item, "path", None) or item.name)
    return path, getattr(item, "orig_name", None) or path.name


def keep_uploads(items, home: Path) -> Kept:
    """Keep each upload that passes under home/UPLOAD_DIR; the others are listed with why."""
    kept, target = Kept(), home / UPLOAD_DIR
    for item in items:
        src, name = upload_source(item)
        try:
            kept.names.append(keep_upload(src, name, target))
        except UsageError as e:
            kept.refused.append(str(e))
    return kept
