"""Y-PSNR, SSIM and detail ratio of an upscaler on benchmark pairs, beside a bicubic baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from nstcli.engine.upscale.metrics import y_detail, y_grid, y_psnr, y_ssim
from nstcli.engine.upscale.model import SCALE
from nstcli.engine.upscale.pairs import Pair

#: Maps an LR PIL image to its x4 PIL upscale.
Upscaler = Callable[[Image.Image], Image.Image]


def bicubic(image: Image.Image) -> Image.Image:
    """The baseline: Pillow bicubic x4 (the MATLAB-bicubic numbers differ by ~0.05 dB)."""
    return image.resize((image.width * SCALE, image.height * SCALE), Image.Resampling.BICUBIC)


#: How `nst eval-upscaler` and the weights manifest describe these figures.
PROTOCOL = (
    "Y (BT.601) PSNR/SSIM, 4-px shave, given *_LR.png inputs; detail_y: mean |Y gradient| of "
    "the output over that of HR; grid_y: period-4 fixed-pattern score (metrics.y_grid)"
)


def _mean(values: dict[str, float]) -> float:
    return sum(values.values()) / max(1, len(values))


@dataclass
class SetScores:
    """Per-image and mean scores of one method on one benchmark set."""

    method: str
    dataset: str
    psnr: dict[str, float] = field(default_factory=dict)
    ssim: dict[str, float] = field(default_factory=dict)
    detail: dict[str, float] = field(default_factory=dict)
    grid: dict[str, float] = field(default_factory=dict)

    @property
    def mean_psnr(self) -> float:
        return _mean(self.psnr)

    @property
    def mean_ssim(self) -> float:
        return _mean(self.ssim)

    @property
    def mean_detail(self) -> float:
        return _mean(self.detail)

    @property
    def mean_grid(self) -> float:
        return _mean(self.grid)

    def _metrics(self) -> list[tuple[str, dict[str, float], int]]:
        """(report key, per-image values, decimals) for every metric."""
        return [
            ("psnr_y", self.psnr, 3),
            ("ssim_y", self.ssim, 4),
            ("detail_y", self.detail, 3),
            ("grid_y", self.grid, 3),
        ]

    def means(self) -> dict[str, float]:
        """The rounded set means, as reported in JSON and in the weights manifest."""
        return {key: round(_mean(values), digits) for key, values, digits in self._metrics()}

    def summary(self) -> dict[str, object]:
        return {
            "method": self.method,
            "dataset": self.dataset,
            "images": len(self.psnr),
            **self.means(),
            "per_image": {
                name: {key: round(values[name], digits) for key, values, digits in self._metrics()}
                for name in self.psnr
            },
        }


def score(
    method: str,
    dataset: str,
    pairs: list[Pair],
    upscale: Upscaler,
    psnr_only: bool = False,
    shave: int = SCALE,
) -> SetScores:
    """Run `upscale` on every pair's given LR image and compare with its HR reference.

    `psnr_only` skips SSIM, detail and grid (training validates often and needs PSNR alone).
    """
    result = SetScores(method, dataset)
    for pair in pairs:
        output = upscale(pair.lr)  # type: ignore[arg-type]
        result.psnr[pair.name] = y_psnr(output, pair.hr, shave)  # type: ignore[arg-type]
        if not psnr_only:
            result.ssim[pair.name] = y_ssim(output, pair.hr, shave)  # type: ignore[arg-type]
            result.detail[pair.name] = y_detail(output, pair.hr, shave)  # type: ignore[arg-type]
            result.grid[pair.name] = y_grid(output)  # type: ignore[arg-type]
    return result


def evaluate(
    upscale: Upscaler,
    method: str,
    val_root: Path,
    sets: tuple[str, ...] = ("Set5", "Set14"),
    on_image: Callable[[str, str], None] | None = None,
) -> list[SetScores]:
    """Scores of `method` and of the bicubic baseline on each set under `val_root`."""
    from nstcli.engine.errors import InputError
    from nstcli.engine.upscale.pairs import load_pairs

    if not val_root.is_dir():
        raise InputError(f"{val_root}: validation folder not found (expected Set5/, Set14/)")
    results: list[SetScores] = []
    for name in sets:
        folder = val_root / name
        if not folder.is_dir():
            raise InputError(f"{folder}: benchmark set not found")
        pairs = load_pairs(folder)

        def traced(image: Image.Image, _name: str = name) -> Image.Image:
            if on_image is not None:
                on_image(_name, method)
            return upscale(image)

        results.append(score("bicubic", name, pairs, bicubic))
        results.append(score(method, name, pairs, traced))
    return results
