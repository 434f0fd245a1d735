"""Output sizes and the checks on them that need only arithmetic.

Kept free of torch and of pixel buffers, so a size that cannot work is refused in a fraction
of a second, before the network is imported or a full-size image is allocated (a `--size
100000` used to be killed by the kernel after minutes of resizing).
"""

from __future__ import annotations

from collections.abc import Iterable

from nstcli.engine import memory
from nstcli.engine.errors import InputError, ResourceError

#: Shorter side, in pixels, below which a picture has no layout or style to work with:
#: a 4000×2 content would be optimised as 128×1, a 1×1 one as a flat square. (A 4:3 photo
#: at the smallest allowed --start-size, 16, is 12 px high: still accepted.)
MIN_SIDE = 8
#: Largest input or output accepted, in pixels; Pillow's own default bomb limit (~89 Mpx).
DEFAULT_MAX_PIXELS = 89_478_485
#: Fraction of the available memory a run may plan for when no budget is given.
DEFAULT_MEMORY_FRACTION = 0.6
#: Full-size float buffers of a tiled run: content, upsampled start, blend sums and weights,
#: result (3 + 3 + 3 + 1 + 3 float32 channels), plus 8-bit copies.
CANVAS_BYTES_PER_PIXEL = 13 * 4 + 8


def fit_longer_side(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is `size`, keeping the aspect ratio."""
    if size < 1:
        raise InputError(f"size must be a positive number of pixels, got {size}")
    scale = size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def memory_budget(max_memory: int | None) -> int | None:
    """`--max-memory`, or a safe fraction of what is available (None: unknown, unbounded)."""
    if max_memory is not None:
        return max_memory
    available = memory.available_memory()
    return None if available is None else int(available * DEFAULT_MEMORY_FRACTION)


def check_canvas(width: int, height: int, budget: int | None, size: int) -> None:
    """Refuse a size whose full-resolution buffers alone would not fit, even in tiles."""
    canvas = width * height * CANVAS_BYTES_PER_PIXEL
    if budget is not None and canvas > budget:
        raise ResourceError(
            f"--size {size} ({width}×{height}) would not fit in memory even in tiles: "
            f"the full-size canvas alone needs about {canvas / 2**30:.1f} GiB of a "
            f"{budget / 2**30:.1f} GiB budget; use a smaller --size",
            code="memory",
            size=size,
        )


def check_picture(name: str, width: int, height: int, role: str = "content") -> None:
    """Refuse an input too small to carry a layout or a style (e.g. 1×1 or 4000×2).

    `role` ("content" or "style") tells a front end which input `name` is."""
    if min(width, height) < MIN_SIDE:
        raise InputError(
            f"{name} is {width}×{height} pixels; its shorter side must be at least {MIN_SIDE}",
            code="too_small",
            role=role,
            width=width,
            height=height,
            minimum=MIN_SIDE,
        )


def check_scales(name: str, width: int, height: int, sizes: Iterable[int]) -> None:
    """Refuse a run in which any scale would make the shorter side under `MIN_SIDE`."""
    for size in sizes:
        scaled = fit_longer_side(width, height, size)
        if min(scaled) < MIN_SIDE:
            raise InputError(
                f"{name} is {width}×{height}: at {size} px its shorter side would be "
                f"{min(scaled)} px, under the minimum of {MIN_SIDE}; crop it, or raise "
                "--size (and --start-size)",
                code="too_thin",
                width=width,
                height=height,
                size=size,
                side=min(scaled),
                minimum=MIN_SIDE,
            )


def check_request(
    content_size: tuple[int, int], size: int, max_memory: int | None, name: str = "content"
) -> tuple[int, int]:
    """The output size for `content_size` at `size`, after every arithmetic check."""
    check_picture(name, *content_size)
    width, height = fit_longer_side(*content_size, size)
    check_scales(name, *content_size, [size])
    check_canvas(width, height, memory_budget(max_memory), size)
    return width, height
