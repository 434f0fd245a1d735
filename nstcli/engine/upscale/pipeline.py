"""x4 upscaling of a PIL image: configuration → checks → tiled inference → result object.

`upscale_image(image, config)` is the one entry point for the CLI (`nst upscale`), the
stylize-then-upscale flow and the bot. Oversize outputs are refused before any computation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from PIL import Image

from nstcli.engine import memory
from nstcli.engine.device import pick_device, set_threads
from nstcli.engine.errors import InputError, ResourceError
from nstcli.engine.images import DEFAULT_MAX_PIXELS, image_to_tensor
from nstcli.engine.upscale.tiling import TileCallback, TilePlan, plan_tiles, run_tiled
from nstcli.engine.upscale.weights import UPSCALERS, LoadedUpscaler, resolve_upscaler

#: Activation memory per input pixel of a 64-channel SRResNet at x4 (measured: 10-13 KB).
BYTES_PER_INPUT_PIXEL_64CH = 13 * 1024
#: Context margin (input pixels) around each tile; 16 keeps tiled == untiled within 1/255.
DEFAULT_MARGIN = 16


@dataclass(frozen=True)
class UpscaleConfig:
    """What to upscale with and under which limits."""

    model: str = "srresnet"
    weights: str | None = None
    #: Tile side in input pixels; None = automatic from `memory_mb`.
    tile: int | None = None
    margin: int = DEFAULT_MARGIN
    #: Largest output accepted, in pixels (default: Pillow's decompression-bomb limit).
    max_pixels: int = DEFAULT_MAX_PIXELS
    #: Activation memory budget used to pick the tile size automatically.
    memory_mb: int = 1536
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.model not in UPSCALERS:
            raise InputError(
                f"unknown upscaler model {self.model!r}; choose from {', '.join(UPSCALERS)}"
            )
        if self.tile is not None and self.tile < 8:
            raise InputError(f"--tile must be at least 8 pixels, got {self.tile}")
        if self.max_pixels < 1:
            raise InputError("--max-pixels must be positive")
        if self.margin < 0:
            raise InputError("tile margin must not be negative")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"--threads must be at least 1, got {self.threads}")
        if self.memory_mb < 1:
            raise InputError(f"--memory-mb must be at least 1, got {self.memory_mb}")


@dataclass
class UpscaleResult:
    """The upscaled image and how it was made."""

    image: Image.Image
    input_size: tuple[int, int]
    scale: int
    plan: TilePlan
    wall_time: float
    device: str
    architecture: str
    weights_path: str
    weights_source: str
    output_path: str | None = None

    @property
    def output_size(self) -> tuple[int, int]:
        return self.image.size

    def summary(self) -> dict[str, object]:
        return {
            "input_size": list(self.input_size),
            "output_size": list(self.output_size),
            "scale": self.scale,
            "tiles": self.plan.count,
            "tile": self.plan.tile,
            "margin": self.plan.margin,
            "wall_time_s": round(self.wall_time, 3),
            "device": self.device,
            "architecture": self.architecture,
            "weights": self.weights_path,
            "weights_source": self.weights_source,
            "output_path": self.output_path,
        }


def load_upscaler_for(config: UpscaleConfig) -> LoadedUpscaler:
    """Resolve and load the network once (reuse it across images with `upscaler=`)."""
    return resolve_upscaler(config.model, config.weights)


def check_output_size(width: int, height: int, scale: int, max_pixels: int) -> None:
    """Refuse, before any work, outputs over `max_pixels` (default: Pillow's bomb limit) or
    larger than the memory available for holding them (the array + the Pillow image)."""
    out_w, out_h = width * scale, height * scale
    pixels = out_w * out_h
    if pixels > max_pixels:
        raise ResourceError(
            f"output would be {out_w}x{out_h} = {pixels:,} pixels, over the limit of "
            f"{max_pixels:,}; downscale the input or raise --max-pixels",
            code="upscale_too_large",
        )
    available = memory.available_memory()
    if available is not None and pixels * 6 > available:
        raise ResourceError(
            f"output would be {out_w}x{out_h}, needing {pixels * 6 / 2**30:.1f} GiB of memory "
            f"(only {available / 2**30:.1f} GiB available)",
            code="memory",
        )


def auto_tile(upscaler: LoadedUpscaler, memory_mb: int, height: int, width: int) -> int | None:
    """None (one pass) if the image's activations fit `memory_mb`, else the largest square
    tile that fits together with its context margins."""
    channels = getattr(getattr(upscaler.network, "config", None), "channels", None)
    per_pixel = BYTES_PER_INPUT_PIXEL_64CH * (channels / 64 if channels else 2.0)
    per_pixel *= (upscaler.scale / 4) ** 2
    budget_pixels = memory_mb * 2**20 / per_pixel
    if height * width <= budget_pixels:
        return None
    return max(32, int(budget_pixels**0.5) - 2 * DEFAULT_MARGIN)


def upscale_image(
    image: Image.Image,
    config: UpscaleConfig,
    on_tile: TileCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    upscaler: LoadedUpscaler | None = None,
) -> UpscaleResult:
    """Upscale an RGB PIL image x4 (the network's scale); raises NstError subclasses."""
    started = time.perf_counter()
    upscaler = upscaler or load_upscaler_for(config)
    width, height = image.size
    check_output_size(width, height, upscaler.scale, config.max_pixels)
    set_threads(config.threads)
    device = pick_device(config.device)
    network = upscaler.network.to(device)
    tile = config.tile
    if tile is None:
        tile = auto_tile(upscaler, config.memory_mb, height, width)
    plan = plan_tiles(height, width, tile, config.margin)
    tensor = image_to_tensor(image.convert("RGB"))
    try:
        pixels = run_tiled(network, tensor, upscaler.scale, plan, device, on_tile, should_stop)
    except (torch.cuda.OutOfMemoryError, MemoryError):
        raise ResourceError(
            f"out of memory with tiles of {plan.tile} px; try a smaller --tile",
            code="memory",
        ) from None
    output = Image.fromarray(pixels, mode="RGB")
    return UpscaleResult(
        image=output,
        input_size=(width, height),
        scale=upscaler.scale,
        plan=plan,
        wall_time=time.perf_counter() - started,
        device=str(device),
        architecture=upscaler.architecture,
        weights_path=str(upscaler.path),
        weights_source=upscaler.source,
    )
