"""Colour management, 16-bit output and alpha pass-through (print-size workflows)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from nstcli.engine import images
from nstcli.engine.errors import OutputError


def _swapped_primaries_profile() -> bytes:
    """sRGB's profile with its red and green primaries swapped in the tag table.

    Pillow cannot synthesise wide-gamut profiles, but any non-sRGB matrix profile will do
    to prove the conversion happens: this one maps pure red to a visibly different colour.
    """
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", data[128:132])
    entries = {}
    for index in range(count):
        offset = 132 + 12 * index
        entries[bytes(data[offset : offset + 4])] = offset
    red, green = entries[b"rXYZ"], entries[b"gXYZ"]
    data[red + 4 : red + 12], data[green + 4 : green + 12] = (
        data[green + 4 : green + 12],
        data[red + 4 : red + 12],
    )
    data[84:100] = bytes(16)  # profile ID (MD5) no longer valid: zero means "not computed"
    return bytes(data)


def test_icc_tagged_input_is_converted_to_srgb(tmp_path):
    profile = _swapped_primaries_profile()
    source = Image.new("RGB", (8, 8), (220, 30, 20))
    path = tmp_path / "tagged.png"
    source.save(path, icc_profile=profile)
    picture = images.load_picture(path)
    assert picture.colour_managed
    expected = ImageCms.profileToProfile(
        source, ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB")
    )
    assert picture.rgb.getpixel((0, 0)) == expected.getpixel((0, 0))
    red, green, _ = picture.rgb.getpixel((0, 0))
    assert green > red  # the tagged "red" really was green


def test_untagged_input_is_left_alone(tmp_path):
    path = tmp_path / "plain.png"
    Image.new("RGB", (4, 4), (200, 120, 60)).save(path)
    picture = images.load_picture(path)
    assert not picture.colour_managed and picture.rgb.getpixel((0, 0)) == (200, 120, 60)


def test_outputs_are_tagged_srgb(tmp_path):
    for suffix in (".png", ".jpg", ".webp", ".tif"):
        path = images.save_image(Image.new("RGB", (4, 4)), tmp_path / f"o{suffix}")
        with Image.open(path) as saved:
            assert saved.info.get("icc_profile") == images.SRGB_ICC, suffix


def _png16_pixels(data: bytes) -> tuple[int, np.ndarray]:
    """Bit depth and pixels of a PNG written by `encode_png16` (Pillow reads only 8 bits)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, depth, width, height, channels = 8, b"", 0, 0, 0, 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            channels = {2: 3, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, -1)
    assert (rows[:, 0] == 0).all()
    return depth, rows[:, 1:].copy().view(">u2").reshape(height, width, channels)


def test_sixteen_bit_png_really_has_sixteen_bit_values(tmp_path):
    pixels = np.random.default_rng(1).random((6, 9, 3)).astype(np.float32)
    path = images.save_pixels(pixels, tmp_path / "deep.png", bits=16)
    depth, values = _png16_pixels(path.read_bytes())
    assert depth == 16
    assert np.abs(values / 65535.0 - pixels).max() < 1e-4
    assert (values % 257 != 0).any()  # not 8-bit values scaled up
    with Image.open(path) as check:  # and a standard decoder accepts the file
        check.load()
        assert check.size == (9, 6)


def test_tiff_defaults_to_sixteen_bits_with_alpha(tmp_path):
    colours = np.random.default_rng(2).random((5, 4, 3)).astype(np.float32)
    alpha = Image.linear_gradient("L").resize((4, 5))
    opacity = np.asarray(alpha, np.float32)[..., None] / 255
    over_white = colours * opacity + (1 - opacity)  # what the engine sees and returns
    path = images.save_pixels(over_white, tmp_path / "deep.tif", alpha=alpha)
    data = tifffile.imread(path)
    assert data.dtype == np.uint16 and data.shape == (5, 4, 4)
    visible = opacity[..., 0] > 0.05  # where the colour is recoverable to 16-bit precision
    assert np.abs(data[..., :3] / 65535.0 - colours)[visible].max() < 1e-3
    assert np.array_equal(data[..., 3] // 257, np.asarray(alpha))


def test_sixteen_bits_refused_for_jpeg_before_writing(tmp_path):
    with pytest.raises(OutputError, match="16 bits"):
        images.check_depth(tmp_path / "o.jpg", 16)


def test_alpha_is_kept_apart_and_reattached(tmp_path):
    rgba = Image.new("RGBA", (6, 4), (10, 200, 30, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    path = tmp_path / "cutout.png"
    rgba.save(path)
    picture = images.load_picture(path)
    assert picture.alpha is not None and picture.alpha.getpixel((0, 0)) == 0
    assert picture.rgb.mode == "RGB"
    out = images.save_pixels(np.asarray(picture.rgb, np.float32) / 255, tmp_path / "o.png",
                             alpha=picture.alpha)  # fmt: skip
    with Image.open(out) as saved:
        assert saved.mode == "RGBA" and saved.getpixel((0, 0))[3] == 0
        assert saved.getpixel((3, 2)) == (10, 200, 30, 255)
    jpeg = images.save_pixels(np.zeros((4, 6, 3), np.float32), tmp_path / "o.jpg", picture.alpha)
    with Image.open(jpeg) as saved:
        assert saved.mode == "RGB"  # JPEG has no alpha: dropped, not an error


def test_opaque_alpha_is_not_carried(tmp_path):
    path = tmp_path / "opaque.png"
    Image.new("RGBA", (3, 3), (1, 2, 3, 255)).save(path)
    assert images.load_picture(path).alpha is None


def test_sixteen_bit_input_is_reported(tmp_path):
    path = tmp_path / "g16.png"
    Image.fromarray(np.full((4, 4), 40000, dtype=np.uint16)).save(path)
    assert images.load_picture(path).bits == 16


def _write_turned(path: Path, rgba: np.ndarray) -> None:
    """A 16-bit RGBA file tagged EXIF orientation 6 (rotate 90° clockwise to view)."""
    if path.suffix == ".tif":  # OpenCV turns TIFFs upright itself
        tifffile.imwrite(path, rgba, photometric="rgb", extrasamples=("unassalpha",),
                         extratags=[(274, "H", 1, 6, True)])  # fmt: skip
        return
    exif = Image.Exif()
    exif[274] = 6
    body = exif.tobytes()[6:]  # without the "Exif\0\0" that JPEG needs and PNG's eXIf not
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + body) & 0xFFFFFFFF)
    png = images.encode_png16(rgba)  # OpenCV leaves PNGs as stored
    idat = png.index(b"IDAT") - 4
    path.write_bytes(png[:idat] + chunk + png[idat:])


@pytest.mark.parametrize("name", ["turned.png", "turned.tif"])
def test_a_16_bit_alpha_is_loaded_at_16_bits_and_upright(tmp_path, name):
    """Pillow decodes 16-bit RGBA to 8 bits; the alpha is read again at 16, turned upright by
    the file's EXIF orientation like the pixels."""
    rgba = np.zeros((5, 7, 4), np.uint16)
    rgba[..., 3] = 30000 + 16 * np.arange(35, dtype=np.uint16).reshape(5, 7)
    _write_turned(tmp_path / name, rgba)
    picture = images.load_picture(tmp_path / name)
    assert picture.bits == 16 and picture.rgb.size == (5, 7)
    assert picture.alpha is not None and picture.alpha.mode == "I;16"
    assert np.array_equal(np.asarray(picture.alpha), np.rot90(rgba[..., 3], -1))
