"""Print-size runs: memory planner, tiles without seams, masks and regional styles."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from nstcli.engine import memory
from nstcli.engine.backbones import load_backbone
from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import InputError
from nstcli.engine.plan import plan_run
from nstcli.engine.stylize import stylize
from nstcli.engine.tiling import Canvas, feather, tile_boxes


def _lite(**overrides) -> StylizeConfig:
    settings = {
        "backbone": "lite",
        "size": 64,
        "steps": 8,
        "multiscale": False,
        "optimizer": "adam",
        "lr": 0.05,
    }
    return StylizeConfig(**(settings | overrides))


def test_tile_boxes_cover_the_image_with_overlap():
    boxes = tile_boxes(1000, 700, tile=300, overlap=50)
    covered = np.zeros((700, 1000), dtype=bool)
    for box in boxes:
        assert box.width <= 300 and box.height <= 300
        covered[box.top : box.bottom, box.left : box.right] = True
    assert covered.all()
    lefts = sorted({box.left for box in boxes})
    rights = sorted({box.right for box in boxes})
    assert all(r - l >= 50 for l, r in zip(lefts[1:], rights[:-1], strict=False))  # noqa: E741


def test_feathered_canvas_reproduces_a_constant_image_exactly():
    canvas = Canvas(50, 70)
    for box in tile_boxes(70, 50, tile=32, overlap=8):
        canvas.add(box, torch.full((1, 3, box.height, box.width), 0.3), overlap=8)
    assert torch.allclose(canvas.result(), torch.full((1, 3, 50, 70), 0.3), atol=1e-6)
    weights = feather(tile_boxes(70, 50, 32, 8)[0], 70, 50, 8)
    assert weights[0, 0, 0, 0] == 1 and weights[0, 0, 0, -1] < 0.2  # ramps only inside


def test_planner_tiles_when_the_budget_is_small(content_image, monkeypatch):
    extractor, _ = load_backbone("lite", ["stem", "block5"], pretrained=False)
    config = StylizeConfig(backbone="lite", size=1024, style_layers=("stem",),
                           content_layers=("block5",)).resolved()  # fmt: skip
    whole_step = memory.model_for(extractor).peak_bytes(1024, 768)
    # No --max-memory: the budget is a share of what the machine has. Plenty: one pass.
    monkeypatch.setattr(memory, "available_memory", lambda: 100 * whole_step)
    roomy = plan_run(content_image, config, extractor)
    assert not roomy.tiled
    # Short of memory (a whole-image step would not fit the default share): tiles.
    monkeypatch.setattr(memory, "available_memory", lambda: whole_step)
    short = plan_run(content_image, config, extractor)
    assert short.tiled and len(short.tiles) > 1
    tight_budget = memory.model_for(extractor).peak_bytes(400, 400)
    tight_config = dataclasses.replace(config, max_memory=tight_budget)
    tight = plan_run(content_image, tight_config, extractor)
    assert tight.tiled and len(tight.tiles) > 1
    assert max(size for size, _ in tight.scales) < 1024
    assert memory.model_for(extractor).peak_bytes(tight.tile_size, tight.tile_size) <= tight_budget
    assert "tiles of" in tight.describe()


def _border_and_inside_differences(image: np.ndarray, boxes) -> tuple[float, float]:
    """Mean |Δ| between horizontally adjacent pixels on tile edges vs everywhere else."""
    diffs = np.abs(np.diff(image.astype(np.float32), axis=1)).mean(axis=(0, 2))  # per column
    edges = {box.left - 1 for box in boxes if box.left > 0} | {
        box.right - 1 for box in boxes if box.right < image.shape[1]
    }
    border = float(np.mean([diffs[x] for x in edges]))
    inside = float(np.mean([diffs[x] for x in range(len(diffs)) if x not in edges]))
    return border, inside


def test_tiled_run_shows_no_seams_and_matches_untiled(content_image, style_image):
    # --steps is the whole budget: 12 whole-image steps, then 12 for each of the 2 tiles.
    settings = {"size": 160, "steps": 36, "tile_steps": 12, "tile_overlap": 32}
    tiled = stylize(content_image, style_image, _lite(**settings, tile=128))
    assert tiled.tiles > 1 and tiled.image.size == (160, 120)
    boxes = tile_boxes(160, 120, 128, 32)
    border, inside = _border_and_inside_differences(np.asarray(tiled.image), boxes)
    assert border <= inside * 1.1, (border, inside)
    # Close to the untiled run: textures differ pixel by pixel (two optimisations of a
    # non-convex loss), so compare at low frequency, where structure and colour live: the
    # two results must agree better than either agrees with the content photo.
    untiled = stylize(content_image, style_image, _lite(size=160, steps=24))
    content = content_image.resize(untiled.image.size, Image.Resampling.LANCZOS)
    apart = _blurred_mad(tiled.image, untiled.image)
    assert apart < 0.5 * _blurred_mad(untiled.image, content), apart


def _blurred_mad(first: Image.Image, second: Image.Image, radius: float = 4) -> float:
    a = np.asarray(first.filter(ImageFilter.GaussianBlur(radius)), np.float32)
    b = np.asarray(second.filter(ImageFilter.GaussianBlur(radius)), np.float32)
    return float(np.abs(a - b).mean() / 255)


def test_all_black_mask_returns_the_content(content_image, style_image):
    black = Image.new("L", (10, 10), 0)  # another size: resized to the image
    result = stylize(content_image, style_image, _lite(), masks=[black])
    content = np.asarray(content_image.resize(result.image.size, Image.Resampling.LANCZOS))
    assert np.abs(np.asarray(result.image, np.int16) - content).max() <= 1


def test_regional_styles_follow_their_masks(content_image):
    red, blue = Image.new("RGB", (48, 48), (230, 20, 20)), Image.new("RGB", (48, 48), (20, 20, 230))
    left = Image.new("L", (64, 48), 0)
    left.paste(255, (0, 0, 32, 48))
    right = Image.eval(left, lambda value: 255 - value)
    result = stylize(content_image, [red, blue], _lite(steps=15, content_weight=1.0),
                     masks=[left, right])  # fmt: skip
    pixels = np.asarray(result.image, np.float32)
    left_half, right_half = pixels[:, :28], pixels[:, 36:]
    assert left_half[..., 0].mean() - left_half[..., 2].mean() > (
        right_half[..., 0].mean() - right_half[..., 2].mean()
    )


def test_mask_count_must_match_styles(content_image, style_image):
    with pytest.raises(InputError, match="one --mask per style"):
        stylize(
            content_image,
            style_image,
            _lite(),
            masks=[Image.new("L", (4, 4)), Image.new("L", (4, 4))],
        )


def test_work_fractions_weight_steps_by_pixels():
    from nstcli.engine.plan import RunPlan

    plan = RunPlan(512, 384, [(128, 10), (256, 10), (512, 10)], None, 0)
    fractions = plan.work_fractions()
    assert len(fractions) == plan.total_steps == 30
    assert fractions[-1] == pytest.approx(1.0)
    # 10 steps at 128 px cost 10/16 of one 512 px step's 10: 1/21 of the whole run.
    assert fractions[9] == pytest.approx(1 / 21)
    assert fractions[19] == pytest.approx(5 / 21)
    assert fractions == sorted(set(fractions))


def test_a_grey_mask_blends_the_stylised_image_with_the_content(
    content_image, style_image, monkeypatch
):
    """README: white = stylised, black = the content, grey = blended by its level."""
    from nstcli.engine import stylize as stylize_module

    mask = Image.new("L", (64, 48), 0)
    mask.paste(128, (22, 0, 43, 48))
    mask.paste(255, (43, 0, 64, 48))
    optimised: list[Image.Image] = []
    real = stylize_module.keep_content_outside

    def spy(result, content, masks):  # type: ignore[no-untyped-def]
        optimised.append(result)
        return real(result, content, masks)

    monkeypatch.setattr(stylize_module, "keep_content_outside", spy)
    result = stylize(content_image, style_image, _lite(steps=10), masks=[mask])
    (styled,) = optimised
    out, made, photo = (np.asarray(i, np.float32) for i in (result.image, styled, content_image))
    bands = {"black": np.s_[:, :20], "grey": np.s_[:, 24:41], "white": np.s_[:, 45:]}
    assert np.abs(out[bands["black"]] - photo[bands["black"]]).max() <= 1
    assert np.abs(out[bands["white"]] - made[bands["white"]]).max() <= 1
    level = 128 / 255
    blend = level * made[bands["grey"]] + (1 - level) * photo[bands["grey"]]
    assert np.abs(out[bands["grey"]] - blend).max() <= 1
    # and the blend is visible: the grey band is neither the photo nor the optimised image
    assert np.abs(made[bands["grey"]] - photo[bands["grey"]]).mean() > 5


def test_complementary_grey_masks_blend_two_styles_with_no_photo_showing(
    content_image, monkeypatch
):
    """Two styles whose masks fade into each other (left a, right 1 - a): every pixel is
    covered in full, so the result is the optimised image everywhere, the photo nowhere
    (as the start image treats coverage: the masks' sum, capped at 1)."""
    from nstcli.engine import stylize as stylize_module

    red, blue = Image.new("RGB", (48, 48), (230, 20, 20)), Image.new("RGB", (48, 48), (20, 20, 230))
    fade = Image.linear_gradient("L").rotate(90).resize((64, 48))  # 0 on the left, 255 right
    left = Image.eval(fade, lambda value: 255 - value)
    optimised: list[Image.Image] = []
    real = stylize_module.keep_content_outside

    def spy(result, content, masks):  # type: ignore[no-untyped-def]
        optimised.append(result)
        return real(result, content, masks)

    monkeypatch.setattr(stylize_module, "keep_content_outside", spy)
    result = stylize(content_image, [red, blue], _lite(steps=10), masks=[left, fade])
    (styled,) = optimised
    out, made, photo = (np.asarray(i, np.float32) for i in (result.image, styled, content_image))
    assert np.abs(out - made).max() <= 1
    middle = np.s_[:, 24:40]  # where both masks are about half
    assert np.abs(made[middle] - photo[middle]).mean() > 5  # (so the check above can fail)
    redness = out[..., 0] - out[..., 2]
    assert redness[:, :12].mean() > redness[:, 26:38].mean() > redness[:, -12:].mean()
