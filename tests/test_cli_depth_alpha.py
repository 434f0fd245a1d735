"""The README's bit-depth and transparency promises, end to end through `nst stylize`:
`--depth 16`, 16-bit grey and RGBA inputs to 16-bit PNG, alpha carried into WebP."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from nstcli import samples
from nstcli.engine.images import encode_png16
from tests.test_cli import run


def _png_header(path: Path) -> tuple[int, int]:
    """(bit depth, colour type) from a PNG's IHDR (Pillow decodes 16-bit RGB to 8 bits)."""
    data = path.read_bytes()
    assert data[12:16] == b"IHDR"
    return data[24], data[25]


def _png16_values(path: Path) -> np.ndarray:
    """The uint16 samples of a filter-0 16-bit PNG as `encode_png16` writes it."""
    data, position, idat = path.read_bytes(), 8, b""
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, _depth, colour = struct.unpack(">IIBB", body[:10])
            channels = {2: 3, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, -1)[:, 1:].copy()
    return rows.view(">u2").reshape(height, width, channels).astype(np.int64)


def _stylize(content: Path, style: Path, out: Path, *extra: str) -> None:
    result = run("stylize", content, style, "--backbone", "lite", "--size", "40",
                 "--steps", "3", "-o", out, "--quiet", *extra)  # fmt: skip
    assert result.exit_code == 0, result.output


def _deep_values_vary(values: np.ndarray) -> bool:
    """16-bit samples that are not 8-bit ones scaled by 257."""
    return bool((values[..., :3] % 257 != 0).any())


def test_depth_16_writes_a_16_bit_png_of_an_8_bit_content(content_path, style_path, tmp_path):
    plain, deep = tmp_path / "plain.png", tmp_path / "deep.png"
    _stylize(content_path, style_path, plain)
    assert _png_header(plain) == (8, 2)  # an 8-bit content gives 8 bits unless asked
    _stylize(content_path, style_path, deep, "--depth", "16")
    assert _png_header(deep) == (16, 2)
    values = _png16_values(deep)
    assert values.shape == (30, 40, 3) and _deep_values_vary(values)
    eight = np.asarray(Image.open(plain), np.int64)
    assert np.abs(values // 257 - eight).max() <= 2  # the same picture, finer


def test_a_16_bit_grey_png_gives_a_16_bit_png(style_path, tmp_path):
    grey = np.asarray(samples.content_scene(64, 48).convert("L"), np.uint16) * 257 + 100
    content, out = tmp_path / "grey16.png", tmp_path / "out.png"
    Image.fromarray(grey.astype(np.uint16)).save(content)
    with Image.open(content) as check:
        assert check.mode.startswith("I;16")  # really a 16-bit grey file
    _stylize(content, style_path, out)
    assert _png_header(out) == (16, 2)
    assert _deep_values_vary(_png16_values(out))


def test_a_16_bit_rgba_png_gives_a_16_bit_png_with_its_alpha(style_path, tmp_path):
    rgb = np.asarray(samples.content_scene(64, 48), np.uint16) * 257
    alpha = np.full((48, 64, 1), 65535, np.uint16)
    alpha[:, :32] = 0  # the left half transparent
    content, out = tmp_path / "rgba16.png", tmp_path / "out.png"
    content.write_bytes(encode_png16(np.concatenate([rgb, alpha], axis=-1)))
    _stylize(content, style_path, out)
    assert _png_header(out) == (16, 6)
    values = _png16_values(out)
    assert values.shape == (30, 40, 4) and _deep_values_vary(values)
    assert (values[:, :16, 3] == 0).all() and (values[:, 24:, 3] == 65535).all()


def test_alpha_is_carried_into_a_webp_output(style_path, tmp_path):
    content, out = tmp_path / "cutout.png", tmp_path / "out.webp"
    image = samples.content_scene(64, 48).convert("RGBA")
    alpha = Image.linear_gradient("L").rotate(90).resize((64, 48))  # 0 on the left, 255 right
    image.putalpha(alpha)
    image.save(content)
    _stylize(content, style_path, out)
    with Image.open(out) as saved:
        assert saved.format == "WEBP" and saved.mode == "RGBA"
        kept = np.asarray(saved.getchannel("A"), np.int16)
    expected = np.asarray(alpha.resize((40, 30), Image.Resampling.LANCZOS), np.int16)
    assert np.abs(kept - expected).max() <= 2
    assert kept[:, :5].max() < 40 and kept[:, -5:].min() > 200  # really a gradient, not flat


def test_a_16_bit_alpha_ramp_keeps_its_16_bit_steps(style_path, tmp_path):
    """Alpha values that differ below 8-bit precision (steps of 16 of 65535) come out as
    they went in, not rounded to 8 bits: with `--depth 16` the alpha is carried at 16 bits."""
    height, width = 30, 40  # the output size, so no resizing blurs the ramp
    rgb = np.asarray(samples.content_scene(width, height), np.uint16) * 257
    ramp = 30000 + 16 * np.arange(height * width, dtype=np.uint16).reshape(height, width)
    content, out = tmp_path / "ramp16.png", tmp_path / "out.png"
    content.write_bytes(encode_png16(np.concatenate([rgb, ramp[..., None]], axis=-1)))
    _stylize(content, style_path, out, "--depth", "16")
    assert _png_header(out) == (16, 6)
    kept = _png16_values(out)[..., 3]
    assert np.array_equal(kept, ramp)  # 8-bit alpha gives multiples of 257: off by up to 128
