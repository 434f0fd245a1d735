"""Every file writer in the package goes through `nstcli.engine.atomic`, and each one, when
interrupted, leaves the old file intact and no partial or temp file behind."""

from __future__ import annotations

import builtins
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nstcli.engine import atomic


class Interrupted(OSError):
    """The injected fault (an OSError: some writers turn those into their own errors)."""


def _tiny(colour: str = "red") -> Image.Image:
    return Image.new("RGB", (16, 16), colour)


def _save_image(target: Path) -> None:
    from nstcli.engine.images import save_image

    save_image(_tiny(), target)


def _save_pixels_16(target: Path) -> None:
    from nstcli.engine.images import save_pixels

    save_pixels(np.full((8, 8, 3), 0.5, dtype=np.float32), target, bits=16)


def _save_animation(target: Path) -> None:
    from nstcli.engine.images import save_animation

    save_animation([_tiny("red"), _tiny("blue")], target)


def _write_clip(target: Path) -> None:
    from nstcli.engine.clip.writer import write_clip

    write_clip([_tiny("red"), _tiny("blue")], target, fps=10)


def _frame_manifest(target: Path) -> None:
    from nstcli.engine.clip.store import FrameStore

    FrameStore(target.parent, "job-fingerprint")


def _torch_checkpoint(target: Path) -> None:
    import torch

    from nstcli.training.common import atomic_save

    atomic_save({"weights": torch.zeros(4)}, target)


def _bot_file_cache(target: Path) -> None:
    from nstcli.bot.files import FileCache
    from nstcli.bot.models import FileRef

    FileCache(target.parent, tg=None).store(FileRef("file-id", target.name), b"photo bytes")  # type: ignore[arg-type]


def _heartbeat(target: Path) -> None:
    from nstcli.bot.heartbeat import ProcessHeartbeat

    ProcessHeartbeat(target, "bot", {"poll": 5.0})  # swallows OSError: a full disk


def _pid_file(target: Path) -> None:
    from nstcli.bot.instance import exclusive_data_dir

    with exclusive_data_dir(target.parent):
        pass


def _samples(target: Path) -> None:
    from nstcli.samples import write_samples

    write_samples(target.parent)


#: (writer, the file it writes, whether a failure keeps an older file: the pid file's owner
#: removes it on any exit, by design). The training export's manifest goes through the same
#: `atomic_write` call (the source scan below holds it) but needs a trained checkpoint.
WRITERS: dict[str, tuple[Callable[[Path], None], str, bool]] = {
    "save_image": (_save_image, "out.png", True),
    "save_pixels_16bit": (_save_pixels_16, "out16.png", True),
    "save_animation": (_save_animation, "anim.gif", True),
    "write_clip_gif": (_write_clip, "clip.gif", True),
    "write_clip_mp4": (_write_clip, "clip.mp4", True),
    "frame_store_manifest": (_frame_manifest, ".nst-clip.json", True),
    "training_atomic_save": (_torch_checkpoint, "best.pt", True),
    "bot_file_cache": (_bot_file_cache, "unique-id", True),
    "bot_heartbeat": (_heartbeat, "heartbeat.json", True),
    "bot_pid_file": (_pid_file, "bot.pid", False),
    "samples": (_samples, "content.png", True),
}
#: Writers that hand `atomic_path`'s name to a library (FFmpeg) instead of a stream.
BY_NAME = {"write_clip_gif", "write_clip_mp4"}


def _fail_mid_write(monkeypatch: pytest.MonkeyPatch, fired: list[str]) -> None:
    """The temp file's stream writes part of the first chunk, then the write fails."""
    real_open = builtins.open

    class Breaking:
        def __init__(self, stream):
            self._stream = stream

        def write(self, data) -> int:
            self._stream.write(bytes(data)[: max(1, len(data) // 2)])
            self._stream.flush()
            fired.append(Path(self._stream.name).name)
            raise Interrupted("disk gone mid-write")

        def __getattr__(self, name):
            return getattr(self._stream, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc_info) -> None:
            self._stream.close()

    def breaking_open(file, mode="r", *args, **kwargs):
        stream = real_open(file, mode, *args, **kwargs)
        return Breaking(stream) if mode == "wb" else stream

    monkeypatch.setattr(atomic, "open", breaking_open, raising=False)


def _fail_before_rename(monkeypatch: pytest.MonkeyPatch, fired: list[str]) -> None:
    """All data is written, then the process dies before the rename (fsync fails)."""

    def dying_fsync(handle: int) -> None:
        fired.append(os.readlink(f"/proc/self/fd/{handle}").rsplit("/", 1)[-1])
        raise Interrupted("power cut before the rename")

    monkeypatch.setattr(atomic.os, "fsync", dying_fsync)


@pytest.mark.parametrize("fault", ["mid_write", "before_rename"])
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_an_interrupted_writer_leaves_the_old_file_and_no_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, fault: str
) -> None:
    if fault == "mid_write" and name in BY_NAME:
        pytest.skip("FFmpeg writes by name; its interruption is the before_rename case")
    write, filename, keeps_old = WRITERS[name]
    target = tmp_path / filename
    old = b"the previous, whole file"
    target.write_bytes(old)
    fired: list[str] = []
    (_fail_mid_write if fault == "mid_write" else _fail_before_rename)(monkeypatch, fired)
    try:
        write(target)
    except Exception as error:  # each writer words the failure its own way
        assert (
            isinstance(error, Interrupted)
            or isinstance(error.__context__, Interrupted)
            or ("power cut" in str(error) or "mid-write" in str(error))
        ), repr(error)
    assert any(part.startswith(f".{filename}.") for part in fired), fired  # it hit this file
    if keeps_old:
        assert target.read_bytes() == old
    else:
        assert not target.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert leftovers == []


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_each_writer_writes_through_the_mechanism(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The control for the test above: without a fault the writer replaces the file, and
    it does so by `atomic_path`'s rename (a writer that bypassed it would pass above)."""
    write, filename, _ = WRITERS[name]
    target = tmp_path / filename
    target.write_bytes(b"the previous, whole file")
    renamed: list[str] = []
    real_replace = os.replace

    def recording_replace(source, destination) -> None:
        renamed.append(Path(destination).name)
        real_replace(source, destination)

    monkeypatch.setattr(atomic.os, "replace", recording_replace)
    if name == "bot_pid_file":  # removed on exit: look while it is held
        from nstcli.bot.instance import exclusive_data_dir

        with exclusive_data_dir(tmp_path):
            assert target.read_text() == f"{os.getpid()}\n"
    else:
        write(target)
        assert target.read_bytes() != b"the previous, whole file"
    assert filename in renamed


def test_the_folder_is_fsynced_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def recording_fsync(handle: int) -> None:
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(handle).st_mode) else "fsync file")
        real_fsync(handle)

    def recording_replace(source, destination) -> None:
        events.append("rename")
        real_replace(source, destination)

    monkeypatch.setattr(atomic.os, "fsync", recording_fsync)
    monkeypatch.setattr(atomic.os, "replace", recording_replace)
    with atomic.atomic_write(tmp_path / "out.bin") as stream:
        stream.write(b"data")
    assert events == ["fsync file", "rename", "fsync folder"]


def test_sync_folder_of_a_missing_folder_is_quiet(tmp_path: Path) -> None:
    atomic.sync_folder(tmp_path / "gone")  # (where folders cannot be opened: Windows)


#: Writes straight to a final path: what every writer must not do.
_BYPASS = re.compile(
    r"\.write_(text|bytes)\(|\bopen\([^)]*['\"][wax]b?\+?['\"]|\.save\((?![^)]*\b(stream|buffer)\b)"
)
#: The few that may: the mechanism itself, an append-only log of whole lines, FFmpeg writing
#: atomic_path's temp name, and FrameStore.save (which calls save_image).
_ALLOWED = {
    ("engine/atomic.py", 'open(temp, "wb")'),
    ("training/common.py", 'path.open("a")'),
    ("engine/clip/writer.py", 'av.open(str(temp), mode="w"'),
    ("engine/clip/pipeline.py", "store.save(index"),
}


def test_no_writer_bypasses_the_mechanism() -> None:
    package = Path(__file__).resolve().parents[1] / "nstcli"
    found = []
    for path in sorted(package.rglob("*.py")):
        module, text = path.relative_to(package).as_posix(), path.read_text(encoding="utf-8")
        for match in _BYPASS.finditer(text):  # (whole text: a call's arguments may wrap)
            line = text.splitlines()[text.count("\n", 0, match.start())]
            if not any(module == allowed and snippet in line for allowed, snippet in _ALLOWED):
                found.append(f"{module}: {line.strip()}")
    assert found == []
