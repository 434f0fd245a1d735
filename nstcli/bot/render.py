"""The one bot module that calls the engine: images in, stylised PIL image out.

Backbones are loaded once per worker process and reused by every job (loading VGG19 from
disk costs seconds); the engine's frozen extractors are safe to share between threads.
"""

from __future__ import annotations

import dataclasses
import io
import threading
from collections.abc import Callable

from PIL import Image

from nstcli.engine.config import StylizeConfig
from nstcli.engine.stylize import LoadedBackbone, load_for
from nstcli.engine.stylize import stylize as engine_stylize
from nstcli.engine.weights import offline_from_env

#: True once the engine's config grows a `preserve_color` field (the lead is adding it).
PRESERVE_COLOR_AVAILABLE = "preserve_color" in {f.name for f in dataclasses.fields(StylizeConfig)}

_backbones: dict[tuple[str, bool, bool], LoadedBackbone] = {}
_backbones_lock = threading.Lock()


def _backbone(config: StylizeConfig) -> LoadedBackbone:
    key = (config.backbone, config.pretrained, config.offline)
    with _backbones_lock:
        if key not in _backbones:
            _backbones[key] = load_for(config)
        return _backbones[key]


def stylize_one(
    content: Image.Image,
    style: Image.Image,
    backbone: str,
    size: int,
    steps: int,
    *,
    preserve_color: bool = False,
    pretrained: bool = True,
    threads: int | None = None,
    on_step: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Image.Image:
    """Run the engine once; raises the engine's `NstError`s (e.g. `WeightsError`, `Cancelled`)."""
    extra: dict[str, object] = {}
    if preserve_color and PRESERVE_COLOR_AVAILABLE:
        extra["preserve_color"] = True
    config = StylizeConfig(
        backbone=backbone,
        size=size,
        steps=steps,
        pretrained=pretrained,
        threads=threads,
        offline=offline_from_env(),
        **extra,  # type: ignore[arg-type]
    )
    loaded = _backbone(config.resolved())

    def report(record, total: int) -> None:  # type: ignore[no-untyped-def]
        if on_step is not None:
            on_step(record.step, total)

    result = engine_stylize(
        content, style, config, on_step=report, should_stop=should_stop, backbone=loaded
    )
    return result.image


def encode(image: Image.Image, fmt: str = "JPEG", quality: int = 92) -> bytes:
    """Our own encoding (telebot's PIL path would use a low JPEG quality)."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()
