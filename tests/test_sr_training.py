"""SR training plumbing (no real training: a tiny network, a few steps) and SR metrics."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from PIL import Image

from nstcli import samples
from nstcli.engine.upscale.evaluate import bicubic, evaluate
from nstcli.engine.upscale.metrics import luma, y_detail, y_grid, y_psnr, y_ssim
from nstcli.engine.upscale.pairs import load_pairs
from nstcli.training.data import PatchSampler, downscale_tensor
from nstcli.training.upscaler import TrainConfig, learning_rate, train


@pytest.fixture
def hr_folder(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    for index in range(3):
        samples.content_scene(72 + 4 * index, 64).save(folder / f"img_{index}.png")
    return folder


def test_y_psnr_matches_the_definition():
    a = Image.new("RGB", (20, 20), (100, 100, 100))
    b = Image.new("RGB", (20, 20), (110, 110, 110))
    dy = float(
        luma(np.array([[[110, 110, 110]]]))[0, 0] - luma(np.array([[[100, 100, 100]]]))[0, 0]
    )
    assert y_psnr(a, b) == pytest.approx(10 * np.log10(255**2 / dy**2))
    assert y_psnr(a, a) == float("inf")
    assert y_ssim(a, a) == pytest.approx(1.0)
    assert y_ssim(samples.content_scene(40, 40), samples.style_picture(40, 40)) < 0.5


def test_detail_ratio_is_one_for_the_reference_and_low_for_a_blur():
    sharp = samples.style_picture(64, 64)
    small = sharp.resize((16, 16), Image.Resampling.BICUBIC)
    blurred = small.resize((64, 64), Image.Resampling.BICUBIC)
    assert y_detail(sharp, sharp) == pytest.approx(1.0)
    assert 0.1 < y_detail(blurred, sharp) < 0.8
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8))
    assert y_detail(noisy, sharp) > 1.5


def test_grid_score_flags_a_fixed_period_four_pattern():
    from PIL import ImageFilter

    # Smooth random texture: no preferred pixel phase.
    clean = Image.effect_noise((128, 128), 60).convert("RGB").filter(ImageFilter.GaussianBlur(1.5))
    pattern = np.zeros((128, 128, 3))
    pattern[0::4, 1::4] = 6.0
    pattern[2::4, 3::4] = -6.0
    gridded = Image.fromarray(np.clip(np.asarray(clean, float) + pattern, 0, 255).astype(np.uint8))
    assert y_grid(clean) < 0.3
    assert y_grid(gridded) > 1.0


def test_learning_rate_warms_up_then_follows_a_cosine_to_the_floor():
    config = TrainConfig(data="", val=None, out="", checkpoint_dir="", steps=1000, warmup=100)
    rates = [learning_rate(config, step) for step in range(1001)]
    assert rates[0] < rates[99] == pytest.approx(config.lr)
    assert all(x >= y for x, y in itertools.pairwise(rates[100:]))
    assert rates[1000] == pytest.approx(config.lr_min)


def test_patch_sampler_gives_aligned_augmented_pairs(hr_folder):
    sampler = PatchSampler(sorted(hr_folder.iterdir()), min_size=32)
    lr, hr = sampler.sample(6, 32, torch.Generator().manual_seed(0))
    assert lr.shape == (6, 3, 8, 8) and hr.shape == (6, 3, 32, 32)
    assert float(lr.min()) >= 0 and float(hr.max()) <= 1
    # The LR crop is the downscaled HR crop (up to 8-bit rounding and crop-edge effects).
    centre = (downscale_tensor(hr) - lr)[..., 2:-2, 2:-2].abs().mean()
    assert float(centre) < 0.02


def test_training_checkpoints_and_resumes(hr_folder, tmp_path):
    base = dict(
        data=str(hr_folder), val=None, out=str(tmp_path / "g.pth"),
        checkpoint_dir=str(tmp_path / "ckpt"), batch=2, patch=32, blocks=1, channels=8,
        log_every=1, warmup=1, threads=1,
    )  # fmt: skip
    train(TrainConfig(steps=3, **base), resume=False)
    first = torch.load(tmp_path / "ckpt" / "latest.pt", weights_only=False)
    assert first["step"] == 3
    assert first["loss"] == "L1"  # the manifest's words, carried by the checkpoint
    train(TrainConfig(steps=5, **base), resume=True)
    second = torch.load(tmp_path / "ckpt" / "latest.pt", weights_only=False)
    assert second["step"] == 5
    assert not torch.equal(first["model"]["head.0.weight"], second["model"]["head.0.weight"])
    steps = [json.loads(line)["step"] for line in (tmp_path / "ckpt" / "log.jsonl").open()]
    assert steps == [1, 2, 3, 4, 5]
    # Resuming with a longer --steps bends the cosine: the history records where and how.
    assert [(seg["from_step"], seg["total_steps"]) for seg in second["schedule"]] == [
        (0, 3),
        (3, 5),
    ]
    train(TrainConfig(steps=6, **base), resume=True)
    third = torch.load(tmp_path / "ckpt" / "latest.pt", weights_only=False)
    assert [seg["total_steps"] for seg in third["schedule"]] == [3, 5, 6]


def test_evaluate_scores_method_and_bicubic_on_pairs(tmp_path):
    folder = tmp_path / "val" / "Set5"
    folder.mkdir(parents=True)
    hr = samples.content_scene(48, 40)
    hr.save(folder / "a_HR.png")
    bicubic_lr = hr.resize((12, 10), Image.Resampling.BICUBIC)
    bicubic_lr.save(folder / "a_LR.png")
    assert load_pairs(folder)[0].name == "a"
    results = evaluate(bicubic, "same-as-bicubic", tmp_path / "val", ("Set5",))
    assert [r.method for r in results] == ["bicubic", "same-as-bicubic"]
    assert results[0].mean_psnr == pytest.approx(results[1].mean_psnr)
    assert 15 < results[0].mean_psnr < 60


def test_srgan_stage_trains_from_srresnet_weights_and_resumes(hr_folder, tmp_path):
    """Two perceptual + adversarial steps on a tiny generator, then a resumed third."""
    from nstcli.engine.upscale.model import GeneratorConfig, SRResNet
    from nstcli.training.srgan import GanConfig
    from nstcli.training.srgan import train as train_gan

    init = tmp_path / "init.pth"
    torch.save(SRResNet(GeneratorConfig(blocks=1, channels=8)).state_dict(), init)
    base = dict(
        data=str(hr_folder), val=None, init=str(init), checkpoint_dir=str(tmp_path / "gan"),
        batch=2, patch=32, d_channels=4, log_every=1, threads=1,
    )  # fmt: skip
    train_gan(GanConfig(steps=2, **base), resume=False)
    train_gan(GanConfig(steps=3, **base), resume=True)
    state = torch.load(tmp_path / "gan" / "latest.pt", weights_only=False)
    assert state["step"] == 3
    records = [json.loads(line) for line in (tmp_path / "gan" / "log.jsonl").open()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(r["perceptual"] > 0 and r["d"] > 0 for r in records)
    assert state["loss"] == (
        "0.01 * L1 + 1.0 * perceptual (lite features stem,block2,block4,block10, shift "
        "jitter 4) + 0.005 * adversarial + 300.0 * sub-pixel phase"
    )
    from nstcli.engine.weights import sha256_of

    assert state["init_sha256"] == sha256_of(init)


def test_phase_loss_sees_a_fixed_period_four_grid_but_not_natural_content():
    from nstcli.engine.images import image_to_tensor
    from nstcli.training.srgan import phase_loss

    scene = image_to_tensor(samples.content_scene(160, 160))
    hr = scene[..., :128, :128]
    grid = torch.zeros(1, 1, 4, 4)
    grid[..., 0, 1], grid[..., 2, 3] = 0.02, -0.02  # about 5 levels, as measured
    with_grid = hr + grid.repeat(1, 1, 32, 32)
    assert float(phase_loss(hr, hr)) == 0.0
    # The grid's two +-0.02 phases of 16, after the high-pass: about 0.0025 of L1.
    assert float(phase_loss(with_grid, hr)) > 0.002
    # Moving the content by whole periods leaves the phase statistics alone.
    assert float(phase_loss(scene[..., 4:132, 8:136], hr)) < 0.0005


def test_perceptual_loss_with_shift_jitter_compares_equal_crops():
    from nstcli.training.srgan import perceptual_loss

    class Identity(torch.nn.Module):
        def forward(self, x):
            return {"x": x}

    hr = torch.rand(1, 3, 20, 20)
    assert float(perceptual_loss(Identity(), hr, hr, ("x",), jitter=4)) == 0.0
    shifted = perceptual_loss(Identity(), hr + 0.1, hr, ("x",), jitter=4)
    assert float(shifted) == pytest.approx(0.1, abs=1e-6)


def test_export_writes_float16_weights_and_a_matching_manifest(hr_folder, tmp_path):
    from nstcli.engine.upscale.weights import load_generator
    from nstcli.engine.weights import sha256_of
    from nstcli.training.export import export_best

    config = TrainConfig(
        data=str(hr_folder), val=None, out="", checkpoint_dir=str(tmp_path / "ckpt"),
        steps=2, batch=2, patch=32, blocks=1, channels=8, res_scale=0.5, threads=1,
    )  # fmt: skip
    train(config, resume=False)
    out = tmp_path / "weights" / "srresnet-x4.pth"
    entry = export_best(tmp_path / "ckpt", out, None)
    manifest = json.loads((out.parent / "manifest.json").read_text())
    assert manifest["srresnet-x4.pth"]["sha256"] == sha256_of(out) == entry["sha256"]
    assert entry["training"]["steps"] == 2
    assert entry["training"]["schedule"] == [
        {"from_step": 0, "total_steps": 2, "lr": 2e-4, "lr_min": 1e-6, "warmup": 200}
    ]
    assert "--res-scale 0.5" in entry["training"]["command"]
    stored = torch.load(out, weights_only=True)
    assert all(v.dtype == torch.float16 for v in stored.values() if v.is_floating_point())
    exported = load_generator(out)
    trained = torch.load(tmp_path / "ckpt" / "latest.pt", weights_only=False)
    from nstcli.engine.upscale.model import GeneratorConfig, SRResNet

    original = SRResNet(GeneratorConfig(blocks=1, channels=8, res_scale=0.5)).eval()
    original.load_state_dict(trained["model"])
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert (exported(x) - original(x)).abs().max() < 5e-3  # res_scale folded, fp16 only


def test_export_takes_the_loss_from_the_checkpoint_and_rebuilds_it_for_old_ones(tmp_path):
    """New checkpoints carry their loss in words; older ones (the shipped weights' runs) get
    the same words rebuilt from their config."""
    from nstcli.engine.upscale.model import GeneratorConfig, SRResNet
    from nstcli.training.export import export_best

    config = {
        "steps": 1000, "batch": 16, "patch": 96, "lr": 1e-4, "seed": 0, "init": "init.pth",
        "pixel_weight": 0.01, "perceptual_weight": 1.0, "adversarial_weight": 0.005,
        "backbone": "lite", "layers": "", "shift_jitter": 4, "phase_weight": 300.0,
        "res_scale": 1.0, "blocks": 1, "channels": 8, "batch_norm": False,
    }  # fmt: skip
    old = {"model": SRResNet(GeneratorConfig(blocks=1, channels=8)).state_dict()}
    old.update(step=1000, config=config)
    for name, checkpoint in (("old", old), ("new", {**old, "loss": "as the trainer said"})):
        (tmp_path / name).mkdir()
        torch.save(checkpoint, tmp_path / name / "latest.pt")
    out = tmp_path / "weights" / "srgan-x4.pth"
    assert export_best(tmp_path / "old", out, None, "srgan", "latest")["training"]["loss"] == (
        "0.01 * L1 + 1.0 * perceptual (lite features stem,block2,block4,block10, shift "
        "jitter 4) + 0.005 * adversarial + 300.0 * sub-pixel phase"
    )
    entry = export_best(tmp_path / "new", out, None, "srgan", "latest")
    assert entry["training"]["loss"] == "as the trainer said"
