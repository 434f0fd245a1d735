"""Atomic file writes: the one place the project renames a finished temp file over a target.

Torch-free and image-free, so any writer (images, JSON, `torch.save`, downloads) can use it
without pulling heavy modules in at start-up.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary stream to a temp file beside `path`, renamed over it only on success.

    The data is flushed and fsync'ed before the rename, and the folder after it (so a power
    cut cannot lose the rename). The result gets `mode`, by default the usual 0o666 less
    the umask (mkstemp's 0600 is too private for outputs). A failed or interrupted write
    leaves neither a partial target nor a stray temp file; the error is re-raised unchanged.
    """
    with atomic_path(path, mode) as temp, open(temp, "wb") as stream:
        yield stream


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], mode: int | None = None) -> Iterator[Path]:
    """A temp file name beside `path`, renamed over it only on success: for writers that
    open files by name (FFmpeg's muxers reopen theirs to move the index to the front).

    The same promise as `atomic_write`: a failed or interrupted write leaves neither a
    partial target nor a stray temp file.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    handle, temp_name = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        yield Path(temp_name)
        with open(temp_name, "rb+") as stream:  # (data written through any handle)
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o666 & ~current_umask() if mode is None else mode)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    sync_folder(parent)


def sync_folder(folder: str | os.PathLike[str]) -> None:
    """fsync `folder` itself, so a rename into it survives a power cut (the file's own
    fsync does not cover its directory entry). A no-op where folders cannot be opened
    (Windows)."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # the rename is done; a folder some file systems
            os.fsync(handle)  # refuse to fsync must not turn it into a failure
    finally:
        os.close(handle)


def current_umask() -> int:
    """The process umask (read by setting and restoring it; there is no getter)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
