"""README promises about devices and precision: `--device auto` picks CUDA, then MPS, then
the CPU; `--precision auto` uses bf16 only for vgg and only where the hardware runs it
natively; `--grad-clip` clips the gradient every evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nstcli.engine import device as device_module
from nstcli.engine.config import StylizeConfig
from nstcli.engine.device import bf16_native, pick_device
from nstcli.engine.stylize import stylize


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu"), (True, False, "cuda")],
)
def test_device_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device("auto") == torch.device(expected)


def _cpuinfo(monkeypatch, tmp_path: Path, flags: str | None) -> None:
    source = tmp_path / "cpuinfo"
    if flags is not None:
        source.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 avx2 {flags}\nbogomips\t: 1\n")
    monkeypatch.setattr(device_module, "CPUINFO", source)


@pytest.mark.parametrize(
    ("flags", "native"),
    [("avx512f", False), ("avx512f avx512_bf16", True), ("amx_tile amx_bf16", True),
     ("", False), (None, False)],  # (None: no cpuinfo to read)
)  # fmt: skip
def test_bf16_is_native_on_a_cpu_only_with_avx512_bf16_or_amx(
    monkeypatch, tmp_path, flags, native
) -> None:
    _cpuinfo(monkeypatch, tmp_path, flags)
    assert bf16_native(torch.device("cpu")) is native


@pytest.mark.parametrize("supported", [True, False])
def test_bf16_on_cuda_follows_the_gpu_and_never_on_mps(monkeypatch, supported) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: supported)
    assert bf16_native(torch.device("cuda")) is supported
    assert bf16_native(torch.device("mps")) is False


@pytest.mark.parametrize(
    ("backbone", "precision", "flags", "expected"),
    [
        ("vgg", "auto", "avx512_bf16", "bf16"),
        ("vgg", "auto", "avx2", "fp32"),
        ("lite", "auto", "avx512_bf16", "fp32"),  # no gain for depthwise convolutions
        ("resnet", "auto", "amx_bf16", "fp32"),
        ("lite", "bf16", "avx2", "bf16"),  # asked for: used even where emulated
    ],
)
def test_precision_auto_end_to_end(
    monkeypatch, tmp_path, content_image, style_image, backbone, precision, flags, expected
) -> None:
    _cpuinfo(monkeypatch, tmp_path, flags)
    config = StylizeConfig(
        backbone=backbone, size=32, steps=1, pretrained=False, precision=precision, device="cpu"
    )
    result = stylize(content_image, style_image, config)
    assert result.precision == expected
    assert result.summary()["precision"] == expected


def test_an_explicit_fp32_never_uses_bf16(monkeypatch, tmp_path) -> None:
    from nstcli.engine.features import use_bf16

    _cpuinfo(monkeypatch, tmp_path, "avx512_bf16")
    cpu = torch.device("cpu")
    assert use_bf16(StylizeConfig(precision="auto", bf16_auto=True), cpu)  # (the control)
    assert not use_bf16(StylizeConfig(precision="fp32", bf16_auto=True), cpu)


def test_grad_clip_clips_every_evaluation_and_changes_the_result(
    monkeypatch, content_image, style_image
) -> None:
    settings = {"backbone": "lite", "size": 32, "steps": 4, "optimizer": "adam", "seed": 1}
    free = stylize(content_image, style_image, StylizeConfig(**settings))
    norms: list[float] = []
    real_clip = torch.nn.utils.clip_grad_norm_

    def recording_clip(parameters, max_norm, *args, **kwargs):
        parameters = list(parameters)
        total = real_clip(parameters, max_norm, *args, **kwargs)
        norms.append(float(torch.linalg.vector_norm(parameters[0].grad)))
        assert max_norm == 1e-6
        return total

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording_clip)
    clipped = stylize(content_image, style_image, StylizeConfig(**settings, grad_clip=1e-6))
    assert len(norms) == 4 and max(norms) <= 1e-6 * 1.01  # once per Adam step, clipped
    change = np.abs(np.asarray(free.image, float) - np.asarray(clipped.image, float)).mean()
    assert change > 1.0  # a clipped gradient moves the pixels less (Adam's eps dominates)
