"""Image I/O: every input mode becomes upright RGB; every bad input is a one-line error."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nstcli.engine import images
from nstcli.engine.errors import InputError, OutputError


def _save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def test_palette_with_transparency_composites_on_white(tmp_path):
    image = Image.new("P", (8, 8), 0)
    image.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    image.info["transparency"] = 0
    loaded = images.load_image(_save(image, tmp_path / "p.png", transparency=0))
    assert loaded.mode == "RGB"
    assert loaded.getpixel((0, 0)) == (255, 255, 255)


def test_rgba_alpha_composites_on_white(tmp_path):
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    image.putpixel((1, 1), (10, 20, 30, 255))
    loaded = images.load_image(_save(image, tmp_path / "a.png"))
    assert loaded.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.getpixel((1, 1)) == (10, 20, 30)


@pytest.mark.parametrize("mode", ["L", "LA", "CMYK", "1"])
def test_other_modes_become_rgb(tmp_path, mode):
    suffix = ".jpg" if mode == "CMYK" else ".png"
    image = Image.new(mode, (5, 3))
    loaded = images.load_image(_save(image, tmp_path / f"x{suffix}"))
    assert loaded.mode == "RGB" and loaded.size == (5, 3)


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
    array = np.full((4, 4), 32768, dtype=np.uint16)
    image = Image.fromarray(array)
    loaded = images.load_image(_save(image, tmp_path / "g16.png"))
    value = loaded.getpixel((0, 0))
    assert value[0] == value[1] == value[2]
    assert 126 <= value[0] <= 129  # half of full scale, not 255 (clipped)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (30, 10), (200, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    loaded = images.load_image(_save(image, tmp_path / "o.jpg", exif=exif))
    assert loaded.size == (10, 30)


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    loaded = images.load_image(path)
    red, _green, blue = loaded.getpixel((2, 2))
    assert red > 200 and blue < 50


def test_resize_longer_side_keeps_aspect():
    image = Image.new("RGB", (400, 200))
    assert images.resize_longer_side(image, 100).size == (100, 50)
    assert images.resize_longer_side(Image.new("RGB", (30, 60)), 120).size == (60, 120)


def test_tensor_round_trip():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8))
    tensor = images.image_to_tensor(image)
    assert tensor.shape == (1, 3, 7, 9) and tensor.dtype == torch.float32
    assert np.array_equal(np.asarray(images.tensor_to_image(tensor)), np.asarray(image))


def _bomb_png(path: Path, width: int, height: int) -> Path:
    """A valid PNG header claiming a huge size; Pillow refuses it before decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
    path.write_bytes(data + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty"),
        (lambda p: (p.write_text("hello, not an image"), p)[1], "not an image"),
        (lambda p: _bomb_png(p, 30000, 30000), "too large"),
    ],
    ids=["missing", "empty", "text", "bomb"],
)
def test_bad_inputs_raise_input_error_naming_the_file(tmp_path, make, message):
    path = make(tmp_path / "bad.png")
    with pytest.raises(InputError, match=message) as caught:
        images.load_image(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_truncated_image_is_input_error(tmp_path):
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(buffer, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(InputError, match="cannot decode"):
        images.load_image(path)


def test_directory_is_input_error(tmp_path):
    with pytest.raises(InputError, match="directory"):
        images.load_image(tmp_path)


def test_save_by_extension(tmp_path):
    image = Image.new("RGB", (8, 8), (1, 2, 3))
    for suffix, fmt in (".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP"):
        path = images.save_image(image, tmp_path / f"out{suffix}")
        with Image.open(path) as saved:
            assert saved.format == fmt


def test_unsupported_extension_is_output_error(tmp_path):
    with pytest.raises(OutputError, match="unsupported output extension"):
        images.check_writable(tmp_path / "out.xyz")


def test_check_writable_rejects_missing_folder_and_directory(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        images.check_writable(tmp_path / "nope" / "out.png")
    with pytest.raises(OutputError, match="is a directory"):
        images.check_writable(tmp_path)


def test_check_writable_rejects_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        probe = folder / "probe"
        try:
            probe.write_text("x")  # root ignores permissions: then the check cannot fail
            pytest.skip("running as a user who can write to read-only folders")
        except PermissionError:
            pass
        with pytest.raises(OutputError, match="cannot write"):
            images.check_writable(folder / "out.png")
    finally:
        folder.chmod(0o700)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")
def test_check_writable_rejects_unwritable_filesystem():
    # /proc refuses new files even for root, unlike a chmod-ed folder.
    with pytest.raises(OutputError, match="cannot write"):
        images.check_writable(Path("/proc/nst-out.png"))


def test_interrupted_save_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "result.png"
    target.write_bytes(b"previous result")
    original_save = Image.Image.save

    def save_then_die(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half an image")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        images.save_image(Image.new("RGB", (4, 4)), target)
    monkeypatch.setattr(Image.Image, "save", original_save)
    assert target.read_bytes() == b"previous result"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png"]  # no temp left


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_saved_file_has_normal_permissions(tmp_path, umask, mode):
    """0o666 less the umask, like any file a program creates (not mkstemp's 0600)."""
    old = os.umask(umask)
    try:
        path = images.save_image(Image.new("RGB", (4, 4)), tmp_path / "p.png")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode
