"""x4 upscaler: generator shapes, weights loading and manifest, tiling, limits, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from nstcli import samples
from nstcli.cli.app import app
from nstcli.engine import weights as weights_module
from nstcli.engine.errors import ResourceError, WeightsError
from nstcli.engine.upscale.model import GeneratorConfig, SRResNet, fold_res_scale, infer_config
from nstcli.engine.upscale.pipeline import UpscaleConfig, upscale_image
from nstcli.engine.upscale.tiling import plan_tiles
from nstcli.engine.upscale.weights import (
    MANIFEST_NAME,
    UPSCALERS,
    load_generator,
    load_upscaler,
    resolve_upscaler,
)
from tests.conftest import SHIPPED_UPSCALERS, one_line_error

REPO_WEIGHTS = SHIPPED_UPSCALERS  # package data, hidden from other tests by conftest
runner = CliRunner()


def tiny_generator(seed: int = 0, res_scale: float = 1.0) -> SRResNet:
    """A small SRResNet whose residual branch is not silent (the real init zeroes the tail)."""
    torch.manual_seed(seed)
    model = SRResNet(GeneratorConfig(blocks=2, channels=8, res_scale=res_scale))
    torch.nn.init.normal_(model.tail.weight, std=0.02)
    return model.eval()


@pytest.fixture
def tiny_weights(tmp_path) -> Path:
    path = tmp_path / "tiny-srresnet.pth"
    state = {k: v.half() for k, v in tiny_generator().state_dict().items()}
    torch.save(state, path)
    return path


@pytest.mark.parametrize(("height", "width"), [(13, 17), (1, 1), (24, 7)])
def test_generator_output_is_four_times_input_for_odd_sizes(height, width):
    with torch.inference_mode():
        out = tiny_generator()(torch.rand(1, 3, height, width))
    assert out.shape == (1, 3, 4 * height, 4 * width)


def test_fresh_generator_is_exactly_bicubic():
    """The zero-initialised tail makes an untrained generator a bicubic upsampler."""
    x = torch.rand(1, 3, 10, 12)
    with torch.inference_mode():
        out = SRResNet(GeneratorConfig(blocks=1, channels=8))(x)
    bicubic = torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic")
    assert torch.allclose(out, bicubic, atol=1e-6)


def test_architecture_is_inferred_and_res_scale_folds_into_weights():
    model = tiny_generator(res_scale=0.2)
    config = infer_config(model.state_dict())
    assert config == GeneratorConfig(blocks=2, channels=8, batch_norm=False, res_scale=1.0)
    plain = SRResNet(config).eval()
    plain.load_state_dict(fold_res_scale(model.state_dict(), 0.2))
    x = torch.rand(1, 3, 9, 11)
    with torch.inference_mode():
        assert torch.allclose(plain(x), model(x), atol=1e-5)


def test_float16_weights_load_strictly_into_float32(tiny_weights):
    model = load_generator(tiny_weights)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    reference = tiny_generator()
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert (model(x) - reference(x)).abs().max() < 2e-3  # float16 rounding only


def test_weights_with_a_missing_key_are_refused(tmp_path):
    state = tiny_generator().state_dict()
    del state["body.1.body.0.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError, match="missing keys"):
        load_generator(path)


def test_truncated_weights_file_gives_a_clear_error(tiny_weights, tmp_path):
    data = tiny_weights.read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_upscaler(cut, "--weights")


def test_unknown_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / "mystery.pth"
    torch.save({"encoder.weight": torch.zeros(5, 5), "decoder.bias": torch.zeros(5)}, path)
    with pytest.raises(WeightsError, match="unknown checkpoint"):
        load_upscaler(path, "--weights")


def test_spandrel_recognises_a_real_esrgan_compact_checkpoint(tmp_path):
    """A Real-ESRGAN SRVGGNetCompact file (random weights) loads through spandrel and upscales."""
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    network = Compact(num_feat=8, num_conv=2, upscale=4)
    path = tmp_path / "realesr-compact.pth"
    torch.save({"params": network.state_dict()}, path)
    loaded = load_upscaler(path, "--weights")
    assert loaded.scale == 4
    assert "Compact" in loaded.architecture or "SRVGG" in loaded.architecture
    image = samples.content_scene(20, 14)
    result = upscale_image(image, UpscaleConfig(weights=str(path)), upscaler=loaded)
    assert result.output_size == (80, 56)


def test_shipped_weights_match_their_manifest():
    """Every file the repository's manifest lists is present with the recorded sha256."""
    manifest_file = REPO_WEIGHTS / MANIFEST_NAME
    if not manifest_file.is_file():
        pytest.skip("no shipped upscaler weights yet")
    manifest = json.loads(manifest_file.read_text())
    assert manifest, "manifest is empty"
    for filename, entry in manifest.items():
        path = REPO_WEIGHTS / filename
        assert path.is_file(), f"{filename} listed in the manifest but missing"
        assert weights_module.sha256_of(path) == entry["sha256"]
        assert path.stat().st_size <= 10 * 2**20
        model = load_generator(path)  # strict load of the real file
        assert model.config.blocks == entry["architecture"]["blocks"]


def test_resolver_checks_the_manifest_hash(tiny_weights, isolated_weights):
    folder = weights_module.PROJECT_WEIGHTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / UPSCALERS["srresnet"].filename
    target.write_bytes(tiny_weights.read_bytes())
    manifest = {target.name: {"sha256": weights_module.sha256_of(target)}}
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert resolve_upscaler("srresnet", None).source == "project weights/"
    manifest[target.name]["sha256"] = "0" * 64
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="does not match the manifest"):
        resolve_upscaler("srresnet", None)


def test_missing_shipped_weights_say_where_they_were_looked_for():
    with pytest.raises(WeightsError, match=r"srresnet-x4\.pth not found"):
        resolve_upscaler("srresnet", None)


def test_tile_plan_covers_the_image_exactly():
    plan = plan_tiles(50, 33, 16, 4)
    covered = np.zeros((50, 33), dtype=int)
    for top, left, bottom, right in plan.tiles():
        covered[top:bottom, left:right] += 1
    assert (covered == 1).all()
    assert plan_tiles(50, 33, None, 4).count == 1


def test_tiled_output_equals_untiled_output(tiny_weights):
    image = Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (45, 38, 3), dtype=np.uint8), "RGB"
    )
    config = UpscaleConfig(weights=str(tiny_weights))
    whole = upscale_image(image, config)
    tiled = upscale_image(image, UpscaleConfig(weights=str(tiny_weights), tile=16, margin=16))
    assert whole.plan.count == 1
    assert tiled.plan.count == 9
    a = np.asarray(whole.image, dtype=np.float64)
    b = np.asarray(tiled.image, dtype=np.float64)
    assert a.shape == b.shape == (180, 152, 3)
    assert np.abs(a - b).mean() <= 1.0  # within 1/255 on average (in 8-bit levels)
    # Without context margins the seams show: the margin is what makes tiles agree.
    bare = upscale_image(image, UpscaleConfig(weights=str(tiny_weights), tile=16, margin=0))
    assert np.abs(np.asarray(bare.image, dtype=np.float64) - a).mean() > np.abs(a - b).mean()


def test_oversize_output_is_refused_before_computing(tiny_weights, monkeypatch):
    from nstcli.engine.upscale import pipeline

    def must_not_run(*args, **kwargs):
        raise AssertionError("inference ran")

    monkeypatch.setattr(pipeline, "run_tiled", must_not_run)
    image = samples.content_scene(40, 30)
    config = UpscaleConfig(weights=str(tiny_weights), max_pixels=100 * 100)
    with pytest.raises(ResourceError, match="over the limit"):
        upscale_image(image, config)


def test_cli_upscale_writes_a_four_times_larger_image(tiny_weights, content_path, tmp_path):
    out = tmp_path / "big.png"
    result = runner.invoke(
        app,
        ["upscale", str(content_path), "-o", str(out), "--weights", str(tiny_weights), "--json"],
    )
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (256, 192)
    summary = json.loads(result.stdout)
    assert summary["output_size"] == [256, 192]


def test_cli_upscale_refuses_oversize_with_one_line(tiny_weights, content_path, tmp_path):
    out = tmp_path / "big.png"
    result = runner.invoke(
        app,
        [
            *("upscale", str(content_path), "-o", str(out)),
            *("--weights", str(tiny_weights), "--max-pixels", "1000"),
        ],
    )
    one_line_error(result, "over the limit")
    assert not out.exists()


def test_cli_upscale_unknown_checkpoint_exits_2(content_path, tmp_path):
    bogus = tmp_path / "bogus.pth"
    torch.save({"x": torch.zeros(2)}, bogus)
    result = runner.invoke(app, ["upscale", str(content_path), "--weights", str(bogus)])
    one_line_error(result, "unknown checkpoint")


def test_upscale_image_keeps_colours_of_a_flat_image(tiny_weights):
    """A flat grey input stays close to the same grey (sanity of value ranges)."""
    image = Image.new("RGB", (12, 10), (120, 120, 120))
    out = np.asarray(upscale_image(image, UpscaleConfig(weights=str(tiny_weights))).image)
    assert out.shape == (40, 48, 3)
    # every channel, not just the overall mean (a colour cast would pass a mean check)
    assert np.abs(out.reshape(-1, 3).mean(axis=0) - 120).max() < 12
    assert np.percentile(np.abs(out.astype(np.float32) - 120), 95) < 24  # flat stays flat


def test_automatic_tile_size_follows_the_memory_budget(tiny_weights):
    from nstcli.engine.upscale.pipeline import auto_tile

    loaded = load_upscaler(tiny_weights, "--weights")
    assert auto_tile(loaded, 1536, 256, 256) is None  # fits: one pass
    small = auto_tile(loaded, 1, 400, 400)
    assert small is not None and small < 400
    assert auto_tile(loaded, 16, 400, 400) > small


def test_weights_command_lists_the_upscalers():
    result = runner.invoke(app, ["weights"])
    assert result.exit_code == 0
    assert "srresnet" in result.output
    assert "srgan" in result.output


def test_cli_eval_upscaler_prints_a_table_and_writes_json(tiny_weights, tmp_path):
    for name in ("Set5", "Set14"):
        folder = tmp_path / "val" / name
        folder.mkdir(parents=True)
        hr = samples.content_scene(48, 40)
        hr.save(folder / "img_001_HR.png")
        hr.resize((12, 10), Image.Resampling.BICUBIC).save(folder / "img_001_LR.png")
    out = tmp_path / "eval.json"
    result = runner.invoke(
        app,
        [
            *("eval-upscaler", "--val", str(tmp_path / "val")),
            *("--weights", str(tiny_weights), "--json-out", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "bicubic" in result.output
    report = json.loads(out.read_text())
    methods = [(r["dataset"], r["method"]) for r in report["results"]]
    assert methods == [
        ("Set5", "bicubic"), ("Set5", "srresnet"), ("Set14", "bicubic"), ("Set14", "srresnet"),
    ]  # fmt: skip
    assert all(r["psnr_y"] > 10 for r in report["results"])


def test_cli_eval_upscaler_without_data_is_one_clear_line(tiny_weights, tmp_path):
    result = runner.invoke(
        app, ["eval-upscaler", "--val", str(tmp_path / "nope"), "--weights", str(tiny_weights)]
    )
    one_line_error(result, "validation folder not found")


@pytest.mark.parametrize("model", ["srresnet", "srgan"])
def test_shipped_models_resolve_and_say_which_ran(model, monkeypatch):
    """`--model srgan` runs the shipped SRGAN file (same shape as SRResNet) and says so."""
    if not (REPO_WEIGHTS / UPSCALERS[model].filename).is_file():
        pytest.skip(f"no shipped {model} weights")
    monkeypatch.setattr(weights_module, "PROJECT_WEIGHTS_DIR", REPO_WEIGHTS)
    loaded = resolve_upscaler(model, None)
    assert loaded.path.name == UPSCALERS[model].filename
    assert loaded.architecture.startswith(model)
