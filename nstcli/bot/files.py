"""Downloaded inputs on local disk, keyed by Telegram's stable `file_unique_id`.

The bot downloads an image once to check it; a worker on the same machine finds it here,
one on another machine downloads it again through the Bot API. The bot keeps a job's
inputs (and a lossless copy of its results) for `--keep-inputs` hours of follow-ups and
then deletes them (`JobTracker`); a worker elsewhere deletes its copies on delivery.
"""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

from nstcli.bot.models import FileRef
from nstcli.bot.telegram_io import TelegramIO
from nstcli.engine.atomic import atomic_write

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class FileCache:
    def __init__(self, folder: Path, tg: TelegramIO) -> None:
        self.folder = folder
        self.tg = tg
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, ref: FileRef) -> Path:
        return self.folder / (_SAFE.sub("_", ref.unique_id) or "file")

    def fetch(self, ref: FileRef, max_bytes: int | None = None) -> Path:
        """The local copy of `ref`, downloading it (atomically) if needed; over `max_bytes`
        (default: the server's download limit) it is `FileTooBig`."""
        path = self.path(ref)
        if path.is_file():
            return path
        return self.store(ref, self.tg.download(ref.file_id, max_bytes))

    def store(self, ref: FileRef, data: bytes) -> Path:
        """Put `data` in the cache as `ref`'s local copy (e.g. a result just sent)."""
        path = self.path(ref)
        with atomic_write(path, mode=0o600) as stream:  # users' photos: private
            stream.write(data)
        return path

    def delete(self, *refs: FileRef, keep: frozenset[str] | set[str] = frozenset()) -> None:
        for ref in refs:
            if ref.unique_id not in keep:
                with contextlib.suppress(FileNotFoundError):
                    self.path(ref).unlink()

    def prune(self, older_than: float, keep: set[str]) -> int:
        """Remove abandoned downloads (inputs of pairs never completed)."""
        removed = 0
        cutoff = time.time() - older_than
        keep_names = {_SAFE.sub("_", unique_id) for unique_id in keep}
        for path in self.folder.iterdir():
            if path.name not in keep_names and path.stat().st_mtime < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed
