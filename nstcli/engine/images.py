"""Image I/O: robust loading to RGB, resizing, tensor conversion and atomic saving.

Every failure a user can cause (missing file, not an image, truncated data, decompression
bomb, unwritable destination) becomes an `InputError`/`OutputError` naming the file, so
front ends can print one line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import io
import os
import struct
import tempfile
import warnings
import zlib
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

from nstcli.engine.atomic import atomic_write
from nstcli.engine.errors import InputError, OutputError
from nstcli.engine.sizing import DEFAULT_MAX_PIXELS, fit_longer_side

if TYPE_CHECKING:  # torch loads on first use, so file and size checks run before it
    import torch

#: Output formats by file extension (Pillow format names).
SAVE_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
#: Formats that can carry an alpha channel / 16 bits per channel.
ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})
DEEP_FORMATS = frozenset({"PNG", "TIFF"})


_WHITE = (255, 255, 255)


# Pillow only warns between 1x and 2x its pixel limit; as an error the warning is caught
# below like the DecompressionBombError it raises beyond 2x. Set once, at import, because
# warnings filters and Image.MAX_IMAGE_PIXELS are process-wide (the bot loads in threads).
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

#: The sRGB ICC profile every output is tagged with: one fixed file, because a profile
#: made with `ImageCms.createProfile` carries its creation time, which made outputs of the
#: same seed differ byte for byte.
SRGB_ICC: bytes = importlib.resources.files("nstcli.engine").joinpath("data/srgb.icc").read_bytes()
_SRGB = ImageCms.ImageCmsProfile(io.BytesIO(SRGB_ICC))


@dataclass(frozen=True)
class Picture:
    """A loaded input: 8-bit sRGB pixels for the engine, plus what must survive to the output."""

    rgb: Image.Image
    #: The source's transparency, or None if it had none: an "L" image, or an "I;16" one
    #: for 16-bit sources, so 16-bit outputs carry it at the precision it came with.
    alpha: Image.Image | None = None
    #: Bits per channel of the source (16 for 16-bit PNG/TIFF, else 8).
    bits: int = 8
    #: True when an embedded ICC profile was converted to sRGB.
    colour_managed: bool = False


def load_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Load `path` as an 8-bit sRGB image, upright according to its EXIF orientation."""
    return load_picture(path, max_pixels).rgb


def load_picture(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Load `path` robustly: EXIF orientation, ICC profile → sRGB, any mode → RGB.

    Handles palette, alpha (composited on white for the engine, kept apart for the output),
    grayscale, CMYK, 16-bit and animated (first frame) inputs.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an image")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty", code="unreadable")
    try:
        with Image.open(path) as image:
            if image.width * image.height > max_pixels:
                raise InputError(
                    _too_large(path, image.width, image.height, max_pixels),
                    code="too_many_pixels",
                )
            image.seek(0)  # first frame of animations
            bits = _bits_per_channel(image)  # before load(), which drops the raw mode
            image.load()
            orientation = image.getexif().get(
                ExifTags.Base.Orientation, 1
            )  # exif_transpose drops it
            picture = _to_picture(ImageOps.exif_transpose(image), bits)
            if bits == 16 and picture.alpha is not None:
                deep = _deep_alpha(path, orientation, picture.alpha)
                picture = replace(picture, alpha=deep or picture.alpha)
            return picture
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(_too_large(path, None, None, max_pixels), code="too_many_pixels") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file Pillow can read", code="unreadable") from None
    except (OSError, SyntaxError, ValueError, ImageCms.PyCMSError) as error:
        raise InputError(f"{path}: cannot decode image ({error})", code="unreadable") from None


def _too_large(path: Path, width: int | None, height: int | None, limit: int) -> str:
    size = f" ({width}×{height})" if width else ""
    return f"{path}: image is too large to load safely{size}; limit {limit:,} pixels"


def _bits_per_channel(image: Image.Image) -> int:
    """16 for 16-bit sources, else 8.

    Pillow decodes 16-bit RGB(A) PNG and TIFF to 8-bit "RGB"/"RGBA"; only the raw mode
    of the undecoded data ("RGB;16B") or TIFF's BitsPerSample tag still tells.
    """
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        return 16
    for tile in getattr(image, "tile", None) or ():
        args = tile[3] if len(tile) > 3 else None
        rawmode = args if isinstance(args, str) else (args[0] if args else None)
        if isinstance(rawmode, str) and ";16" in rawmode:
            return 16
    tags = getattr(image, "tag_v2", None)
    if tags is not None:
        per_sample = tags.get(258)  # BitsPerSample
        values = per_sample if isinstance(per_sample, tuple) else (per_sample,)
        if any(isinstance(value, int) and value >= 16 for value in values):
            return 16
    return 8


#: The transposition that makes each EXIF orientation upright (as `ImageOps.exif_transpose`).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _deep_alpha(path: Path, orientation: int, shallow: Image.Image) -> Image.Image | None:
    """The 16-bit alpha of a 16-bit RGBA/LA source as an "I;16" image, upright; None if
    the file does not give one that matches Pillow's 8-bit `shallow` alpha.

    Pillow decodes 16-bit RGBA and LA to 8 bits per channel (the high byte); OpenCV
    (already here for clips' optical flow) keeps the 16 bits, so the alpha is read again
    with it. OpenCV turns some formats upright itself (TIFF) and not others, so the
    candidate as decoded and turned by `orientation` are both checked against `shallow`.
    """
    import cv2

    decoded = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16 or decoded.ndim != 3:
        return None
    if decoded.shape[-1] not in (2, 4):
        return None
    as_decoded = Image.fromarray(np.ascontiguousarray(decoded[..., -1]))
    candidates = [as_decoded]
    if orientation in _UPRIGHT:
        candidates.insert(0, as_decoded.transpose(_UPRIGHT[orientation]))
    expected = np.asarray(shallow, np.int32)
    for alpha in candidates:
        if alpha.size == shallow.size:
            high_byte = np.asarray(alpha, np.int32) >> 8
            if np.abs(high_byte - expected).max() <= 1:
                return alpha
    return None


def _to_picture(image: Image.Image, bits: int = 8) -> Picture:
    alpha = _alpha_of(image)
    icc = image.info.get("icc_profile")
    managed = False
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L", "LA"):
        source_mode = {"RGBA": "RGB", "LA": "L"}.get(image.mode, image.mode)
        source = image.convert(source_mode) if source_mode != image.mode else image
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(source, profile, _SRGB, outputMode="RGB")
        assert converted is not None
        image = converted
        managed = True
    return Picture(rgb=to_rgb(image), alpha=alpha, bits=bits, colour_managed=managed)


def _alpha_of(image: Image.Image) -> Image.Image | None:
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    ):
        alpha = image.convert("RGBA").getchannel("A")
        return None if alpha.getextrema() == (255, 255) else alpha
    return None


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
    new_size = fit_longer_side(*image.size, size)
    if new_size == image.size:
        return image
    return image.resize(new_size, Image.Resampling.LANCZOS)


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB Pillow image → float tensor of shape (1, 3, H, W) in [0, 1]."""
    import torch

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


def check_writable(
    path: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str]] = (),
    extensions: Collection[str] | None = None,
) -> Path:
    """Fail early, before any computation, if `path` cannot be written or is an input.

    Checks the extension (one of `extensions`, default: an image format `save_image`
    writes), that `path` is none of `inputs` (also through links: writing there would
    destroy it), and really creates (then removes) a temporary file beside the
    destination, which is the only honest test on every filesystem.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name such as {path / 'out.png'}")
    if extensions is None:
        output_format(path)
    elif path.suffix.lower() not in extensions:
        raise OutputError(f"{path}: needs a {' or '.join(sorted(extensions))} file name")
    for source in inputs:
        if _same_file(path, Path(source)):
            raise OutputError(
                f"{path}: is the input {source}; writing there would destroy it — "
                "choose another output name"
            )
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


def _same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file (through links and `..`)."""
    try:
        return os.path.samefile(first, second)
    except OSError:  # one does not exist (yet): compare where they would resolve
        return first.resolve() == second.resolve()


def save_image(image: Image.Image, path: str | os.PathLike[str], quality: int = 95) -> Path:
    """Write `image` atomically, in the format its extension names, tagged as sRGB."""
    path = Path(path)
    fmt = output_format(path)
    options: dict[str, object] = {"icc_profile": SRGB_ICC}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    if fmt == "TIFF":
        options["compression"] = "tiff_deflate"
    with atomic_output(path) as stream:
        image.save(stream, format=fmt, **options)
    return path


def save_pixels(
    pixels: np.ndarray,
    path: str | os.PathLike[str],
    alpha: Image.Image | None = None,
    bits: int | None = None,
) -> Path:
    """Write float RGB pixels (H×W×3 in [0, 1]) at 8 or 16 bits, with optional alpha.

    `bits` None means 16 for TIFF and 8 otherwise; 16 needs PNG or TIFF. Alpha is
    resized to the pixels and attached where the format has an alpha channel (PNG, WebP,
    TIFF), otherwise dropped. Output is tagged sRGB and written atomically.
    """
    path = Path(path)
    fmt = output_format(path)
    bits = check_depth(path, bits)
    height, width = pixels.shape[:2]
    channels = [np.clip(pixels, 0.0, 1.0)]
    if alpha is not None and fmt in ALPHA_FORMATS:
        opacity = _opacity(alpha, (width, height))
        channels = [unmatte_white(channels[0], opacity), opacity]
    stacked = np.concatenate(channels, axis=-1)
    if bits == 8:
        array = (stacked * 255.0 + 0.5).astype(np.uint8)
        return save_image(
            Image.fromarray(array, mode="RGBA" if array.shape[-1] == 4 else "RGB"), path
        )
    array16 = (stacked * 65535.0 + 0.5).astype(np.uint16)
    with atomic_output(path) as stream:
        if fmt == "TIFF":
            import tifffile  # only needed for 16-bit TIFF

            buffer = io.BytesIO()  # tifffile needs a named file or a BytesIO
            tifffile.imwrite(
                buffer, array16, photometric="rgb", compression="zlib", iccprofile=SRGB_ICC,
                extrasamples=("unassalpha",) if array16.shape[-1] == 4 else None,
            )  # fmt: skip
            stream.write(buffer.getvalue())
        else:
            stream.write(encode_png16(array16))
    return path


def _opacity(alpha: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """An "L" or "I;16" alpha as H×W×1 floats in [0, 1] at `size` (16 bits resized as floats)."""
    peak = 255.0 if alpha.mode == "L" else 65535.0
    if alpha.mode != "L":
        alpha = alpha.convert("F")  # resampled without rounding to 8 or 16 bits
    if alpha.size != size:
        alpha = alpha.resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(alpha, dtype=np.float32) / peak, 0.0, 1.0)[..., None]


def unmatte_white(pixels: np.ndarray, opacity: np.ndarray) -> np.ndarray:
    """Colours that, at `opacity`, show as `pixels` over white.

    The engine sees transparent inputs composited on white (`to_rgb`); attaching the alpha
    to those colours as they are would composite the white in twice (a half-transparent
    112 came back as 183). Solving `pixels = a·colour + (1 − a)·white` for colour undoes
    it: an unchanged input comes back as it was, and the result looks over white exactly as
    the engine made it. Fully transparent pixels keep their colour (it is invisible).
    """
    visible = opacity > 0
    colour = (pixels - (1.0 - opacity)) / np.where(visible, opacity, 1.0)
    return np.where(visible, np.clip(colour, 0.0, 1.0), pixels).astype(np.float32)


def check_depth(path: Path, bits: int | None) -> int:
    """The bit depth to write `path` with (None: 16 for TIFF, else 8); errors up front."""
    fmt = output_format(path)
    bits = bits or (16 if fmt == "TIFF" else 8)
    if bits not in (8, 16):
        raise OutputError(f"bit depth must be 8 or 16, got {bits}")
    if bits == 16 and fmt not in DEEP_FORMATS:
        raise OutputError(f"{path}: 16 bits per channel needs a .png or .tif output")
    return bits


def encode_png16(array: np.ndarray) -> bytes:
    """A 16-bit RGB/RGBA PNG (Pillow writes 16 bits only for single-channel images).

    Rows get filter type 0, the data is zlib-compressed, and an sRGB chunk marks the
    colour space; the format is small enough that this is clearer than a dependency.
    """
    height, width, channels = array.shape
    colour_type = {3: 2, 4: 6}[channels]
    raw = array.astype(">u2").reshape(height, width * channels).view(np.uint8)
    rows = np.concatenate([np.zeros((height, 1), dtype=np.uint8), raw], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"sRGB", b"\x00"),
            chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            chunk(b"IEND", b""),
        ]
    )


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

    An interrupted or failed write leaves neither a partial file nor a stray temp file;
    an `OSError` becomes an `OutputError` naming `path`.
    """
    try:
        with atomic_write(path) as stream:
            yield stream
    except OSError as error:
        raise OutputError(f"{path}: cannot write ({error})") from None
