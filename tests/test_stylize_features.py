"""Multi-scale, colour preservation, style blends, snapshots, pooling, precision, memory."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nstcli.engine import memory
from nstcli.engine import stylize as stylize_module
from nstcli.engine.backbones import get_spec
from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import InputError, ResourceError
from nstcli.engine.plan import scale_plan
from nstcli.engine.stylize import stylize


def _lite(**overrides) -> StylizeConfig:
    settings = {"backbone": "lite", "size": 48, "steps": 6, "multiscale": False}
    return StylizeConfig(**(settings | overrides))


def test_scale_plan_doubles_up_to_size_and_spends_most_steps_small():
    plan = scale_plan(StylizeConfig(backbone="lite", size=512, steps=300).resolved())
    assert [size for size, _ in plan] == [128, 256, 512]
    assert sum(steps for _, steps in plan) == 300
    assert plan[0][1] > plan[1][1] > plan[2][1]
    steps = get_spec("lite").defaults.steps
    assert scale_plan(StylizeConfig(backbone="lite", size=100).resolved()) == [(100, steps)]
    single = StylizeConfig(backbone="lite", size=512, multiscale=False).resolved()
    assert scale_plan(single) == [(512, steps)]


def test_each_finer_scale_gets_its_share_of_the_previous_ones_steps():
    halving = StylizeConfig(size=512, steps=200, finer_share=0.5).resolved()
    assert scale_plan(halving) == [(128, 114), (256, 57), (512, 29)]
    assert StylizeConfig().resolved().finer_share == 0.5  # vgg's default
    two_thirds = StylizeConfig(backbone="resnet", size=512, steps=300).resolved()
    assert scale_plan(two_thirds) == [(128, 142), (256, 95), (512, 63)]


def test_multiscale_reaches_final_size_with_fewer_full_size_steps(content_image, style_image):
    config = _lite(size=64, start_size=16, steps=12, multiscale=True)
    result = stylize(content_image, style_image, config)
    assert result.image.size == (64, 48)
    assert result.scales == [16, 32, 64]
    sizes = [record.size for record in result.history]
    assert sizes == sorted(sizes) and len(sizes) == 12
    assert sizes.count(64) < 12 / 2  # most steps ran at lower resolution


def _chroma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("YCbCr"), dtype=np.float32)[..., 1:]


def test_preserve_color_keeps_content_chroma(content_image, style_image):
    plain = stylize(content_image, style_image, _lite(steps=8))
    kept = stylize(content_image, style_image, _lite(steps=8, preserve_color=True))
    reference = _chroma(content_image.resize(kept.image.size, Image.Resampling.LANCZOS))
    kept_error = np.abs(_chroma(kept.image) - reference).mean()
    plain_error = np.abs(_chroma(plain.image) - reference).mean()
    assert kept_error < 1.5  # only YCbCr rounding remains
    assert plain_error > 3 * kept_error


def test_blend_weights_one_zero_equal_single_style(content_image, style_image):
    other = Image.new("RGB", (40, 40), (200, 30, 30))
    single = stylize(content_image, style_image, _lite())
    blended = stylize(content_image, [style_image, other], _lite(style_blend=(1.0, 0.0)))
    assert np.array_equal(np.asarray(single.image), np.asarray(blended.image))
    mixed = stylize(content_image, [style_image, other], _lite(style_blend=(0.5, 0.5)))
    assert not np.array_equal(np.asarray(single.image), np.asarray(mixed.image))


def test_blend_count_mismatch_is_input_error(content_image, style_image):
    with pytest.raises(InputError, match="2 weights but 1 style"):
        stylize(content_image, style_image, _lite(style_blend=(0.5, 0.5)))


def test_style_scale_changes_the_result(content_image, style_image):
    base = stylize(content_image, style_image, _lite())
    scaled = stylize(content_image, style_image, _lite(style_scale=0.5))
    assert not np.array_equal(np.asarray(base.image), np.asarray(scaled.image))


def test_snapshots_every_n_steps(content_image, style_image):
    seen = []
    stylize(
        content_image, style_image, _lite(steps=7),
        on_snapshot=lambda record, image: seen.append((record.step, image.size)),
        snapshot_every=3,
    )  # fmt: skip
    assert seen == [(3, (48, 36)), (6, (48, 36))]


def test_vgg_average_pooling_runs_and_differs(content_image, style_image):
    settings = {"backbone": "vgg", "size": 32, "steps": 2, "pretrained": False}
    max_pool = stylize(content_image, style_image, _lite(**settings))
    avg_pool = stylize(content_image, style_image, _lite(**settings, pooling="avg"))
    assert max_pool.final.total != avg_pool.final.total


def test_pooling_is_vgg_only():
    with pytest.raises(InputError, match="vgg backbone only"):
        StylizeConfig(backbone="lite", pooling="avg")


def test_bf16_loss_close_to_fp32(content_image, style_image):
    fp32 = stylize(content_image, style_image, _lite(steps=1, precision="fp32"))
    bf16 = stylize(content_image, style_image, _lite(steps=1, precision="bf16"))
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert bf16.history[0].total == pytest.approx(fp32.history[0].total, rel=0.05)


def test_size_that_cannot_fit_even_tiled_is_refused_up_front(
    content_image, style_image, monkeypatch
):
    monkeypatch.setattr(memory, "available_memory", lambda: 2 * 2**30)
    monkeypatch.setattr(stylize_module, "_optimise", None)  # would crash if reached
    with pytest.raises(ResourceError, match=r"would not fit in memory even in tiles: .* GiB"):
        stylize(content_image, style_image, _lite(size=20000))


def test_budget_below_one_tile_is_refused(content_image, style_image, monkeypatch):
    monkeypatch.setattr(stylize_module, "_optimise", None)
    with pytest.raises(ResourceError, match="not even a 128px tile fits"):
        stylize(content_image, style_image, _lite(size=1024, max_memory=100 * 2**20))


def test_memory_estimate_grows_with_pixels():
    from nstcli.engine.backbones import load_backbone

    extractor, _ = load_backbone("lite", ["stem", "block5"], pretrained=False)
    small = memory.model_for(extractor).peak_bytes(256, 256)
    large = memory.model_for(extractor).peak_bytes(1024, 1024)
    assert large > 4 * (small - memory._BASELINE_BYTES)


def test_smoothing_changes_the_objective_and_still_converges(content_image, style_image):
    plain = stylize(content_image, style_image, _lite(steps=10))
    smooth = stylize(content_image, style_image, _lite(steps=10, smoothing=True))
    assert smooth.config.smoothing and not plain.config.smoothing
    assert smooth.history[-1].style < smooth.history[0].style
    assert smooth.history[0].style != plain.history[0].style
