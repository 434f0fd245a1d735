"""Finished frames on disk, one PNG each: what a clip run resumes from and encodes from.

A run writes each frame as soon as it is done (atomically, so a frame file is always
whole), with a manifest naming the job it belongs to. An interrupted run leaves the
finished frames; a resumed run of the same job (same clip, styles, settings) skips them.
For `-o DIR/` the store is the output; for a video file it is a hidden folder beside it,
removed once the file is written. The store is also the sequence the writer encodes, one
frame loaded at a time.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import overload

from PIL import Image

from nstcli.engine.atomic import atomic_write
from nstcli.engine.errors import OutputError
from nstcli.engine.images import load_image, save_image

MANIFEST = ".nst-clip.json"


def frame_name(index: int) -> str:
    """`frame_0001.png` for the first frame (1-based, as compositing tools expect)."""
    return f"frame_{index:04d}.png"


def work_folder(output: Path) -> Path:
    """Where frames of a clip written to `output` (a file) wait: `.out.mp4.frames/`."""
    return output.with_name(f".{output.name}.frames")


class FrameStore(Sequence[Image.Image]):
    """Frames 1…n of one job in `folder`; `len()` counts the frames finished so far."""

    def __init__(self, folder: Path, fingerprint: str, resume: bool = False):
        self.folder, self.fingerprint = folder, fingerprint
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{folder}: cannot create ({error.strerror or error})") from None
        #: Frames found finished from an earlier run of the same job (0: starting afresh).
        self.resumed = self._finished() if resume and self._same_job() else 0
        if not self.resumed:
            for stale in folder.glob("frame_*.png"):
                stale.unlink()
        self.count = self.resumed
        with atomic_write(folder / MANIFEST) as stream:
            stream.write(json.dumps({"job": fingerprint}).encode())

    def _same_job(self) -> bool:
        try:
            return json.loads((self.folder / MANIFEST).read_text())["job"] == self.fingerprint
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def _finished(self) -> int:
        count = 0
        while (self.folder / frame_name(count + 1)).is_file():
            count += 1
        return count

    def path(self, index: int) -> Path:
        return self.folder / frame_name(index)

    def save(self, index: int, image: Image.Image) -> None:
        """Frame `index` (1-based, the next one), written whole or not at all."""
        assert index == self.count + 1, "frames are stored in order"
        save_image(image, self.path(index))
        self.count = index

    def __len__(self) -> int:
        return self.count

    @overload
    def __getitem__(self, index: int) -> Image.Image: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Image.Image]: ...
    def __getitem__(self, index: int | slice) -> Image.Image | Sequence[Image.Image]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.count))]
        if not -self.count <= index < self.count:
            raise IndexError(index)
        return load_image(self.path(index % self.count + 1))

    def complete(self, keep_frames: bool) -> None:
        """The job is done: drop the manifest, and the frames too unless they are the
        output."""
        if keep_frames:
            (self.folder / MANIFEST).unlink(missing_ok=True)
        else:
            shutil.rmtree(self.folder, ignore_errors=True)
