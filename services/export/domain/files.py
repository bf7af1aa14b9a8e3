"""Atomic file writing: readers (the API, a school downloading its CSV) never see a partial file.

The bytes go to a temporary file in the destination directory (same file system, so the rename
is atomic), are fsynced, then ``os.replace`` swaps the file in and the directory is fsynced so the
new name survives a crash. On any error the temporary file is removed and an older version of the
destination, if any, is left untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _fsync_directory(directory: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    fd = os.open(directory, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: str | os.PathLike[str], content: bytes, *, mode: int = 0o644) -> str:
    """Write ``content`` to ``path`` atomically and durably; return its sha256 (hex).

    The temporary file is named ``.{name}.*.tmp`` in the same directory; the directory must exist.
    """
    target = Path(path)
    directory = target.parent
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(content)
            temp.flush()
            os.fchmod(temp.fileno(), mode)
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(directory)
    return sha256_hex(content)
