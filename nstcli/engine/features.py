"""Running the frozen backbone: one device, one precision, one memory layout."""

from __future__ import annotations

import contextlib

import torch

from nstcli.engine.backbones import FeatureExtractor
from nstcli.engine.config import StylizeConfig
from nstcli.engine.device import bf16_native


def use_bf16(config: StylizeConfig, device: torch.device) -> bool:
    """bfloat16 when asked for, or with `--precision auto` where the hardware runs it natively."""
    if config.precision == "bf16":
        return True
    return config.precision == "auto" and bool(config.bf16_auto) and bf16_native(device)


class FeatureRunner:
    """Runs the backbone on one device, in one precision and memory layout."""

    def __init__(self, extractor: FeatureExtractor, device: torch.device, bf16: bool):
        self.device = device
        self.bf16 = bf16
        # channels_last lets oneDNN/cuDNN pick their fastest convolution kernels; on a CPU
        # with native bf16 it is what makes the bf16 path fast at all.
        self.channels_last = device.type in ("cpu", "cuda")
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.extractor = extractor.to(device=device, memory_format=memory_format)

    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named float32 feature maps of `image` (computed in bf16 when enabled)."""
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            features = self.extractor(image)
        return {name: value.float() for name, value in features.items()}

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)
