"""Image I/O: robust loading to RGB, resizing, tensor conversion and atomic saving.

Every failure a user can cause (missing file, not an image, truncated data, decompression
bomb, unwritable destination) becomes an `InputError`/`OutputError` naming the file, so
front ends can print one line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from nstcli.engine.errors import InputError, OutputError

#: Output formats by file extension (Pillow format names).
SAVE_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
}

#: Largest input accepted, in pixels; Pillow's own default bomb limit (about 89 Mpx).
DEFAULT_MAX_PIXELS = 89_478_485

_WHITE = (255, 255, 255)


def load_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Load `path` as an 8-bit RGB image, upright according to its EXIF orientation.

    Handles palette, alpha (composited on white), grayscale, CMYK, 16-bit and animated
    (first frame) inputs.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an image")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    try:
        with _bomb_guard(max_pixels), Image.open(path) as image:
            image.seek(0)  # first frame of animations
            image.load()
            upright = ImageOps.exif_transpose(image)
            return to_rgb(upright)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InputError(
            f"{path}: image is too large to load safely ({error.args[0].split('(')[0].strip()}; "
            f"limit {max_pixels:,} pixels)"
        ) from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: cannot decode image ({error})") from None


@contextlib.contextmanager
def _bomb_guard(max_pixels: int) -> Iterator[None]:
    """Treat images over `max_pixels` as errors (Pillow only warns between 1x and 2x)."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB without clipping 16-bit data or blackening alpha."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array.max(initial=0) > 255 else 255.0
        if image.mode == "F":
            peak = max(float(array.max(initial=0)), 1e-12) if array.max(initial=0) > 1 else 1.0
        gray = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def resize_longer_side(image: Image.Image, size: int) -> Image.Image:
    """Resize so the longer side is `size` pixels, keeping the aspect ratio."""
    if size < 1:
        raise InputError(f"size must be a positive number of pixels, got {size}")
    width, height = image.size
    scale = size / max(width, height)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if new_size == image.size:
        return image
    return image.resize(new_size, Image.Resampling.LANCZOS)


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB Pillow image → float tensor of shape (1, 3, H, W) in [0, 1]."""
    array = np.array(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_image(tensor: torch.Tensor) -> Image.Image:
    """Float tensor (1, 3, H, W) or (3, H, W) in [0, 1] → RGB Pillow image."""
    if tensor.dim() == 4:
        tensor = tensor[0]
    array = tensor.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu()
    return Image.fromarray(array.numpy(), mode="RGB")


def output_format(path: str | os.PathLike[str]) -> str:
    """The Pillow format for `path`'s extension, or an `OutputError` listing the choices."""
    suffix = Path(path).suffix.lower()
    try:
        return SAVE_FORMATS[suffix]
    except KeyError:
        choices = ", ".join(sorted(SAVE_FORMATS))
        raise OutputError(
            f"{path}: unsupported output extension {suffix or '(none)'!r}; use one of {choices}"
        ) from None


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail early, before any computation, if `path` cannot be written.

    Checks the extension and really creates (then removes) a temporary file beside the
    destination, which is the only honest test on every filesystem.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name such as {path / 'out.png'}")
    output_format(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{path}: folder {parent} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".nst-check-", delete=True):
            pass
    except OSError as error:
        raise OutputError(f"{path}: cannot write here ({error.strerror or error})") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{path}: file exists and is not writable")
    return path


def save_image(image: Image.Image, path: str | os.PathLike[str], quality: int = 95) -> Path:
    """Write `image` atomically, in the format its extension names."""
    path = Path(path)
    fmt = output_format(path)
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    with atomic_output(path) as stream:
        image.save(stream, format=fmt, **options)
    return path


def save_animation(
    frames: list[Image.Image], path: str | os.PathLike[str], duration_ms: int = 120
) -> Path:
    """Write frames as a looping GIF, atomically; frames are resized to the last one's size."""
    path = Path(path)
    size = frames[-1].size
    frames = [frame if frame.size == size else frame.resize(size) for frame in frames]
    with atomic_output(path) as stream:
        frames[0].save(
            stream, format="GIF", save_all=True, append_images=frames[1:],
            duration=duration_ms, loop=0,
        )  # fmt: skip
    return path


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A stream to a temporary file beside `path`, renamed over it only on success.

    An interrupted or failed write leaves neither a partial file nor a stray temp file.
    """
    parent = path.parent if str(path.parent) else Path(".")
    handle, temp_name = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o666 & ~_current_umask())  # mkstemp's 0600 is too private
        os.replace(temp_name, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        if isinstance(error, OSError):
            raise OutputError(f"{path}: cannot write ({error})") from None
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
