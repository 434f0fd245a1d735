"""A fast stand-in for the engine, for tests about the bot rather than the engine.

It keeps the engine's contract (progress per step, cooperative `should_stop` raising
`Cancelled`, errors as exceptions) and returns the content image resized to the job's
size, so a test can tell whose result it is by its colour.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from nstcli.engine.errors import Cancelled
from nstcli.engine.images import resize_longer_side


@dataclass
class StubEngine:
    step_seconds: float = 0.01
    fail_with: BaseException | None = None
    calls: list[dict] = field(default_factory=list)
    started: list[float] = field(default_factory=list)
    gate: threading.Event | None = None  # when set up, jobs wait for it before step 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(
        self,
        content: Image.Image,
        style: Image.Image,
        backbone: str,
        size: int,
        steps: int,
        *,
        on_step: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_preview: Callable[[Image.Image], None] | None = None,
        previews: int = 3,
        **options: object,
    ) -> Image.Image:
        with self._lock:
            self.started.append(time.monotonic())
            self.calls.append(
                {
                    "backbone": backbone,
                    "size": size,
                    "steps": steps,
                    "content": content.getpixel((0, 0)),
                    # the style as the engine got it (a gallery painting's own size)
                    "style_size": style.size,
                    "style": style.convert("RGB").getpixel((style.width // 2, style.height // 2)),
                    **options,
                }
            )
        if self.fail_with is not None:
            raise self.fail_with
        if self.gate is not None:
            while not self.gate.wait(0.05):
                if should_stop is not None and should_stop():
                    raise Cancelled("stopped on request")
        every = -(-steps // (previews + 1))  # as execute.stylize_one asks the engine
        for step in range(1, steps + 1):
            if should_stop is not None and should_stop():
                raise Cancelled("stopped on request")
            time.sleep(self.step_seconds)
            if on_step is not None:
                on_step(step / steps)
            if on_preview is not None and step % every == 0 and step < steps:
                on_preview(resize_longer_side(content, size))
        return resize_longer_side(content, size)


def install_from_env() -> StubEngine:
    """Used by subprocess bots: NST_STUB_STEP_SECONDS sets the pace."""
    from nstcli.bot import execute

    stub = StubEngine(step_seconds=float(os.environ.get("NST_STUB_STEP_SECONDS", "0.01")))
    execute.stylize_one = stub  # type: ignore[assignment]
    return stub
