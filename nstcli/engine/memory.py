"""Memory estimates, so a size that would not fit is refused up front, not by the OOM killer.

The estimate counts, with a tiny probe forward pass, how many activation values the
backbone produces per input pixel (everything autograd keeps for the backward pass), then
scales to the requested size. Calibrated against measured peak RSS (bench/stylize_speed.py):
the factor covers gradients, optimiser state (L-BFGS keeps `history_size` image-sized
vectors), allocator slack and the process baseline.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads on first use: size checks run before it (see engine.sizing)
    import torch

    from nstcli.engine.backbones import FeatureExtractor

#: Bytes per activation element kept for backward, incl. gradient and allocator slack.
_BYTES_PER_ACTIVATION = 4 * 2.5
#: Python + torch + Pillow resident set before any model is loaded.
_BASELINE_BYTES = 450 * 2**20
_PROBE = 64


@dataclass(frozen=True)
class MemoryModel:
    """One extractor's memory cost, measured once, then evaluated for any size cheaply
    (the planner asks for dozens of sizes; each probe pass would cost a forward)."""

    activations_per_pixel: float
    weight_bytes: int
    history: int = 50

    def peak_bytes(self, width: int, height: int) -> int:
        pixels = width * height
        activations = self.activations_per_pixel * pixels * _BYTES_PER_ACTIVATION
        image_vectors = (2 * self.history + 8) * 3 * pixels * 4  # L-BFGS history, grads
        return int(_BASELINE_BYTES + self.weight_bytes + activations + image_vectors)


def model_for(extractor: FeatureExtractor, history: int = 50) -> MemoryModel:
    weights = sum(p.numel() * p.element_size() for p in extractor.parameters())
    return MemoryModel(activations_per_pixel(extractor), weights, history)


def activations_per_pixel(extractor: FeatureExtractor) -> float:
    """Activation elements per input pixel, measured by hooks on a small probe image."""
    import torch

    total = 0

    def count(module: torch.nn.Module, inputs: object, output: object) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    leaves = [m for m in extractor.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        device = next(extractor.buffers()).device
        with torch.no_grad():
            extractor(torch.zeros(1, 3, _PROBE, _PROBE, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return total / (_PROBE * _PROBE)


def available_memory() -> int | None:
    """Bytes the process may still use: MemAvailable, or a cgroup limit if lower."""
    candidates = []
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            with open(limit_file) as limit, open(usage_file) as usage:
                cap, used = limit.read().strip(), usage.read().strip()
            if cap.isdigit() and used.isdigit() and int(cap) < 1 << 60:
                candidates.append(int(cap) - int(used))
        except OSError:
            continue
    if not candidates and hasattr(os, "sysconf"):
        with contextlib.suppress(ValueError, OSError):
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return min(candidates) if candidates else None
