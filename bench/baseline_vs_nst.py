"""`nst stylize` defaults against the classic single-scale recipe, on the same inputs.

The baseline is the recipe of the PyTorch neural-style tutorial, implemented here: one
scale (512 px), Gram matrices normalised by a·b·c·d, style weight 1e6, content weight 1,
L-BFGS (lr 1, max_iter 20) until 300 closure evaluations have run, pixels clamped in the
closure, init from the content, float32. By default it optimises the same layers as
`nst stylize` (for vgg: conv1_1 … conv5_1 style, conv4_2 content, the classic Gatys set), so
the two runs share one objective and the comparison isolates the recipe (multi-scale,
precision, optimiser); `--tutorial-layers` uses the tutorial's own choice instead (the first
five convs, pre-ReLU, content at conv_4). For lite, its default layers and weights are used.

Reported: both wall times, both final losses under the baseline's own loss definition at
512 px, and the time our run needs to reach the baseline's final loss (our images are
scored every few steps, upsampled to 512 px where a coarse scale is smaller; scoring time
is excluded from our timeline). Writes JSON + Markdown to --out.

vgg needs torchvision's VGG19 weights for a meaningful comparison; without them it runs
with random-init weights (same cost, different loss landscape) and says so.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F
from torchvision.models import vgg19

from nstcli.engine.backbones import get_spec
from nstcli.engine.backbones.base import IMAGENET_MEAN, IMAGENET_STD
from nstcli.engine.backbones.vgg import build_features, caffe_input
from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import WeightsError
from nstcli.engine.images import (
    image_to_tensor,
    load_image,
    resize_longer_side,
    save_image,
    tensor_to_image,
)
from nstcli.engine.job import load_backbone_for
from nstcli.engine.losses import gram_matrix
from nstcli.engine.stylize import stylize
from nstcli.engine.weights import resolve

_TEXT = {"optimizer", "precision", "init", "pooling"}
SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


class TutorialVGG(nn.Module):
    """The tutorial's truncated VGG19: named conv_i / relu_i / pool_i, losses after convs."""

    style_layers = ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")
    content_layers = ("conv_4",)

    def __init__(self, state_path: Path | None):
        super().__init__()
        # The same weights and input convention as ours (the original set takes Caffe's).
        features, self.caffe = build_features(state_path)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        layers, index = [], 0
        for module in features.children():
            if isinstance(module, nn.Conv2d):
                index += 1
                layers.append((f"conv_{index}", module))
            elif isinstance(module, nn.ReLU):
                layers.append((f"relu_{index}", nn.ReLU(inplace=False)))
            else:
                layers.append((f"pool_{index}", module))
            if index == 5 and isinstance(module, nn.Conv2d):
                break
        self.names = [name for name, _ in layers]
        self.body = nn.ModuleList(module for _, module in layers)
        self.eval().requires_grad_(False)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = caffe_input(image) if self.caffe else (image - self.mean) / self.std
        out = {}
        for name, module in zip(self.names, self.body, strict=True):
            x = module(x)
            if name.startswith("conv_"):
                out[name] = x
        return out


class BaselineLoss:
    """The baseline's objective, used to score both runs."""

    def __init__(self, network, style_layers, content_layers, content, style, weights):
        self.network, self.style_layers, self.content_layers = network, style_layers, content_layers
        self.style_weight, self.content_weight = weights
        with torch.no_grad():
            content_features, style_features = network(content), network(style)
            self.content_targets = {n: content_features[n].clone() for n in content_layers}
            self.style_targets = {n: gram_matrix(style_features[n]).clone() for n in style_layers}

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        features = self.network(image)
        style = sum(F.mse_loss(gram_matrix(features[n]), g) for n, g in self.style_targets.items())
        content = sum(F.mse_loss(features[n], t) for n, t in self.content_targets.items())
        return self.style_weight * style + self.content_weight * content


def run_baseline(loss_fn: BaselineLoss, content: torch.Tensor, evaluations: int = 300):
    """The tutorial's loop: L-BFGS steps until `evaluations` closures have run."""
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image])
    run = [0]
    started = time.perf_counter()
    while run[0] <= evaluations:

        def closure():
            with torch.no_grad():
                image.clamp_(0, 1)
            optimizer.zero_grad()
            loss = loss_fn(image)
            loss.backward()
            run[0] += 1
            return loss

        optimizer.step(closure)
    with torch.no_grad():
        image.clamp_(0, 1)
    wall = time.perf_counter() - started
    with torch.no_grad():
        final = float(loss_fn(image))
    return image.detach(), wall, final, run[0]


def _parse(key: str, value: str, current: object) -> object:
    if key in _TEXT:
        return value
    if isinstance(current, bool):
        return value.lower() in ("1", "true", "yes")
    if isinstance(current, int) and not isinstance(current, bool):
        return int(value)
    return float(value) if "." in value or "e" in value else int(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="vgg", choices=["vgg", "lite"])
    parser.add_argument("--content", type=Path, default=SHARED / "content" / "tubingen.jpg")
    parser.add_argument("--style", type=Path, default=SHARED / "style" / "starry_night.jpg")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--score-every", type=int, default=5)
    parser.add_argument("--tutorial-layers", action="store_true")
    parser.add_argument(
        "--ours", default="", help="extra StylizeConfig fields for our run, e.g. optimizer=lbfgs"
    )
    parser.add_argument("--skip-baseline", type=Path, help="reuse the baseline from this JSON")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    if not args.content.exists():
        raise SystemExit(f"skipped: {args.content} not found (needs ../shared/images)")

    content_image, style_image = load_image(args.content), load_image(args.style)
    content = image_to_tensor(resize_longer_side(content_image, args.size))
    style = image_to_tensor(resize_longer_side(style_image, args.size))

    spec = get_spec(args.backbone)
    try:
        weights_path: Path | None = resolve(spec.weights, offline=True).path
        weights_note = str(weights_path)
    except WeightsError:  # vgg without real weights: one random-init file for both runs
        torch.manual_seed(0)
        args.out.mkdir(parents=True, exist_ok=True)
        weights_path = args.out / "random-vgg19.pth"
        torch.save(vgg19(weights=None).state_dict(), weights_path)
        weights_note = "RANDOM INIT (real VGG19 weights not found): timings valid, art not"

    if args.backbone == "vgg":
        ours_config = StylizeConfig(
            backbone="vgg", size=args.size, weights=str(weights_path) if weights_path else None
        )
    else:
        ours_config = StylizeConfig(backbone="lite", size=args.size)
    for item in filter(None, args.ours.split(",")):
        key, value = item.split("=")
        ours_config = replace(ours_config, **{key: _parse(key, value, getattr(ours_config, key))})
    resolved = ours_config.resolved()
    if args.tutorial_layers and args.backbone == "vgg":
        network = TutorialVGG(weights_path)
        style_layers, content_layers = TutorialVGG.style_layers, TutorialVGG.content_layers
    else:  # the same feature extractor (fp32) and layers as our run
        network = load_backbone_for(resolved).extractor
        style_layers, content_layers = resolved.style_layers, resolved.content_layers
    weights = (
        (1e6, 1.0) if args.backbone == "vgg" else (resolved.style_weight, resolved.content_weight)
    )
    loss_fn = BaselineLoss(network, style_layers, content_layers, content, style, weights)

    if args.skip_baseline:
        previous = json.loads(args.skip_baseline.read_text())["baseline"]
        baseline_image = content
        baseline_wall, baseline_final = previous["wall_s"], previous["final_loss"]
        evaluations = previous["evaluations"]
    else:
        baseline_image, baseline_wall, baseline_final, evaluations = run_baseline(loss_fn, content)
    print(f"baseline: {baseline_wall:.1f}s, {evaluations} evaluations, loss {baseline_final:.4g}")

    curve: list[tuple[float, int, float]] = []  # (our seconds, step, baseline loss)
    scoring = [0.0]

    def score(record, image: Image.Image) -> None:
        began = time.perf_counter()
        full = image.resize((content.shape[-1], content.shape[-2]), Image.Resampling.BICUBIC)
        with torch.no_grad():
            value = float(loss_fn(image_to_tensor(full)))
        curve.append((record.elapsed - scoring[0], record.step, value))
        scoring[0] += time.perf_counter() - began

    ours = stylize(
        content_image, style_image, ours_config, on_snapshot=score, snapshot_every=args.score_every
    )
    score(ours.history[-1], ours.image)
    ours_wall = ours.wall_time - scoring[0]
    reached = next((t for t, _, value in curve if value <= baseline_final), None)
    report = {
        "backbone": args.backbone,
        "weights": weights_note,
        "inputs": [str(args.content), str(args.style)],
        "objective": "tutorial layers" if args.tutorial_layers else "nst default layers",
        "loss_weights": {"style": weights[0], "content": weights[1]},
        "size": args.size,
        "baseline": {
            "wall_s": round(baseline_wall, 1),
            "evaluations": evaluations,
            "final_loss": baseline_final,
        },
        "nst_defaults": {
            "wall_s": round(ours_wall, 1),
            "steps": ours.steps,
            "scales": ours.scales,
            "precision": ours.precision,
            "optimizer": ours.config.optimizer,
            "overrides": args.ours,
            "final_baseline_loss": curve[-1][2],
            "time_to_reach_baseline_loss_s": round(reached, 1) if reached is not None else None,
        },
        "target": "time to reach <= 0.25 x baseline wall time",
        "ratio_reach_over_baseline": round(reached / baseline_wall, 3) if reached else None,
        "curve": [(round(t, 2), step, value) for t, step, value in curve],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"baseline_vs_nst_{args.backbone}" + ("_tutorial" if args.tutorial_layers else "")
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    save_image(tensor_to_image(baseline_image), args.out / f"{stem}_baseline.png")
    save_image(ours.image, args.out / f"{stem}_nst.png")
    summary = {k: v for k, v in report.items() if k != "curve"}
    (args.out / f"{stem}.md").write_text("```json\n" + json.dumps(summary, indent=2) + "\n```\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
