"""The machine's yardstick: one bare VGG19 forward + input-gradient backward, independent of nst.

torchvision's VGG19 conv stack up to conv5_1 (random init: same cost as any weights) at 512x384,
bfloat16 autocast, channels-last input and weights, one scalar loss. Issue 22 states every
speed target as a multiple of this, measured in the same benchmark run, so that figures taken
on a busy or different machine stay comparable.

    python bench/yardstick.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch import nn

#: torchvision's `vgg19().features[:30]` ends with conv5_1's ReLU.
_TO_CONV5_1 = 30


def bare_vgg19() -> nn.Module:
    """torchvision's VGG19 features up to conv5_1, frozen, channels-last."""
    from torchvision.models import vgg19

    network = vgg19(weights=None).features[:_TO_CONV5_1].eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network.to(memory_format=torch.channels_last)


def one_step(network: nn.Module, image: torch.Tensor, bf16: bool) -> None:
    """Forward to conv5_1 and back to the input pixels, with a single scalar loss."""
    pixels = image.detach().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = network(pixels).float().square().mean()
    loss.backward()


def measure(repeats: int = 5, bf16: bool = True, size: tuple[int, int] = (384, 512)) -> dict:
    """Seconds of one yardstick step: median and range over `repeats` after one warm-up."""
    network = bare_vgg19()
    image = torch.rand(1, 3, *size).contiguous(memory_format=torch.channels_last)
    one_step(network, image, bf16)  # warm-up: oneDNN primitive creation
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        one_step(network, image, bf16)
        times.append(time.perf_counter() - started)
    return {
        "yardstick_s": round(statistics.median(times), 4),
        "yardstick_min_s": round(min(times), 4),
        "yardstick_max_s": round(max(times), 4),
        "repeats": repeats,
        "precision": "bf16" if bf16 else "fp32",
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    args = parser.parse_args()
    print(json.dumps(measure(args.repeats, bf16=not args.fp32)))


if __name__ == "__main__":
    main()
