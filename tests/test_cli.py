"""The real CLI: help, version, a run, and every bad input → one line, exit 2, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nstcli.cli.app import app
from nstcli.engine import job as job_module
from tests.conftest import SHIPPED_UPSCALERS, assert_stylized, one_line_error

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_help_lists_commands_and_explains_options():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("stylize", "weights", "layers"):
        assert command in result.output
    stylize_help = run("stylize", "--help").output
    for option in (
        "--backbone",
        "--size",
        "--steps",
        "--optimizer",
        "--style-weight",
        "--seed",
        "--device",
        "--offline",
        "--json",
        "default",
    ):
        assert option in stylize_help


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("nst ")


def test_stylize_lite_writes_image_and_json(content_path, style_path, tmp_path):
    out = tmp_path / "result.webp"
    result = run(
        "stylize",
        content_path,
        style_path,
        "--backbone",
        "lite",
        "--size",
        "40",
        "--steps",
        "3",
        "-o",
        out,
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["output"] == str(out) and summary["steps"] == 3
    with Image.open(out) as image:
        assert image.format == "WEBP" and max(image.size) == 40


def test_default_output_name_derives_from_inputs(content_path, style_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(
        "stylize",
        content_path,
        style_path,
        "--backbone",
        "lite",
        "--size",
        "32",
        "--steps",
        "2",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "content_style_lite.png").is_file()


def test_torchvision_vgg_offline_gives_clear_error_suggesting_the_original(
    content_path, style_path, tmp_path
):
    result = run(
        "stylize", content_path, style_path, "-o", tmp_path / "o.png", "--offline",
        "--weights", "torchvision",
    )  # fmt: skip
    one_line_error(
        result,
        "vgg19-dcbb9e9d.pth",
        "--weights original",
        "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    )


def test_vgg_runs_with_a_weights_file(content_path, style_path, tmp_path, vgg_random_weights):
    out = tmp_path / "vgg.png"
    result = run("stylize", content_path, style_path, "--backbone", "vgg", "--size", "32",
                 "--weights", vgg_random_weights, "--steps", "2", "-o", out, "--json")  # fmt: skip
    assert_stylized(result, out, content_path, (32, 24), backbone="vgg", steps=2,
                    weights=str(vgg_random_weights))  # fmt: skip


def test_resnet_runs_with_a_weights_file(content_path, style_path, tmp_path, resnet_random_weights):
    out, weights = tmp_path / "resnet.png", resnet_random_weights
    result = run("stylize", content_path, style_path, "--backbone", "resnet", "--size", "32",
                 "--weights", weights, "--steps", "2", "-o", out, "--json")  # fmt: skip
    assert_stylized(result, out, content_path, (32, 24), backbone="resnet", steps=2,
                    weights=str(resnet_random_weights))  # fmt: skip


def test_wrong_weights_file_is_clear_error(
    content_path, style_path, tmp_path, resnet_random_weights
):
    result = run(
        "stylize",
        content_path,
        style_path,
        "--backbone",
        "vgg",
        "--weights",
        resnet_random_weights,
        "-o",
        tmp_path / "o.png",
    )
    one_line_error(result, "does not fit the vgg")


def _text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.jpg"
    path.write_text("definitely not a jpeg")
    return path


def _empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "empty.png"
    path.touch()
    return path


def _truncated(tmp_path: Path) -> Path:
    source = tmp_path / "full.png"
    Image.effect_noise((64, 64), 40).convert("RGB").save(source)
    path = tmp_path / "truncated.png"
    path.write_bytes(source.read_bytes()[:300])
    return path


def _bomb(tmp_path: Path) -> Path:
    from tests.test_images import _bomb_png

    return _bomb_png(tmp_path / "bomb.png", 40000, 40000)


@pytest.mark.parametrize(
    ("make_bad", "fragment"),
    [
        (lambda t: t / "missing.jpg", "no such file"),
        (_empty_file, "empty"),
        (_text_file, "not an image"),
        (_truncated, "cannot decode"),
        (_bomb, "too large"),
    ],
    ids=["missing", "empty", "not-image", "truncated", "bomb"],
)
def test_bad_content_image(make_bad, fragment, style_path, tmp_path):
    bad = make_bad(tmp_path)
    result = run("stylize", bad, style_path, "--backbone", "lite", "-o", tmp_path / "o.png")
    one_line_error(result, str(bad), fragment)
    assert not (tmp_path / "o.png").exists()


def test_bad_style_image(content_path, tmp_path):
    bad = _text_file(tmp_path)
    result = run("stylize", content_path, bad, "--backbone", "lite", "-o", tmp_path / "o.png")
    one_line_error(result, str(bad))


@pytest.mark.parametrize(
    ("output", "fragment"),
    [
        ("nofolder/o.png", "does not exist"),
        ("o.bmpx", "unsupported output extension"),
        (".", "directory"),
    ],
)
def test_unwritable_output_detected_before_any_computation(
    content_path, style_path, tmp_path, monkeypatch, output, fragment
):
    def must_not_run(*args, **kwargs):
        raise AssertionError("computation started before the output was checked")

    monkeypatch.setattr(job_module, "load_backbone", must_not_run)
    monkeypatch.setattr(job_module, "load_backbone_for", must_not_run)
    monkeypatch.chdir(tmp_path)
    result = run("stylize", content_path, style_path, "--backbone", "lite", "-o", output)
    one_line_error(result, fragment)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--size", "2"], "--size"),
        (["--steps", "0"], "--steps"),
        (["--lr", "-1"], "--lr"),
        (["--style-layers", "conv9_9"], "unknown layer"),
    ],
)
def test_bad_option_values(content_path, style_path, tmp_path, args, fragment):
    result = run(
        "stylize", content_path, style_path, "--backbone", "lite", "-o", tmp_path / "o.png", *args
    )
    one_line_error(result, fragment)


def test_unknown_backbone_is_usage_error(content_path, style_path):
    result = runner.invoke(
        app, ["stylize", str(content_path), str(style_path), "--backbone", "alexnet"]
    )
    assert result.exit_code == 2 and "alexnet" in result.output


def _weights_rows() -> dict[str, tuple[str, str]]:
    """`nst weights` as {model: (status, size)}, read from the table's rows."""
    result = runner.invoke(app, ["weights"], env={"COLUMNS": "250"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) == 8 and cells[1]:  # a row's first line (not a wrapped licence)
            rows[cells[1]] = (cells[3], cells[4])
    return rows


def test_weights_lists_each_model_with_where_it_was_found(isolated_weights):
    rows = _weights_rows()
    assert set(rows) >= {"vgg original", "vgg torchvision", "resnet", "lite",
                         "srresnet (upscale)", "srgan (upscale)"}  # fmt: skip
    # packaged with pip dependencies: found; torchvision's and (isolated here) upscalers: not
    assert rows["vgg original"][0] == rows["lite"][0] == "found (installed package)"
    for model in ("vgg torchvision", "resnet", "srresnet (upscale)", "srgan (upscale)"):
        assert rows[model] == ("missing", "-"), model
    cache = isolated_weights / "torch-home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / "resnet50-0676ba61.pth").write_bytes(bytes(3 * 2**20))
    rows = _weights_rows()
    assert rows["resnet"] == ("found (torch hub cache)", "3.0 MiB")
    assert rows["vgg torchvision"] == ("missing", "-")


def test_weights_verify_passes_on_packaged_lite():
    result = run("weights", "verify")
    assert result.exit_code == 0 and "ok" in result.output and "lite" in result.output


def test_layers_lists_backbones():
    result = run("layers")
    assert result.exit_code == 0 and "conv4_2" in result.output and "layer3_4" in result.output


def test_python_m_and_subprocess_error_has_no_traceback(tmp_path, style_path):
    """The installed entry point, as a user runs it: one line on stderr, exit code 2."""
    env = os.environ | {"NST_OFFLINE": "1", "COLUMNS": "200"}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "nstcli",
            "stylize",
            str(tmp_path / "nope.jpg"),
            str(style_path),
            "-o",
            str(tmp_path / "o.png"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no such file" in lines[0]


def test_several_styles_with_blend_and_gif_and_save_every(content_path, style_path, tmp_path):
    second = tmp_path / "second.png"
    Image.new("RGB", (30, 30), (250, 10, 10)).save(second)
    out = tmp_path / "mix.png"
    gif = tmp_path / "opt.gif"
    result = run("stylize", content_path, style_path, second, "--style-blend", "0.7,0.3",
                 "--backbone", "lite", "--size", "32", "--steps", "4", "--no-multiscale",
                 "--save-every", "2", "--gif", gif, "-o", out, "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.is_file() and (tmp_path / "mix_0002.png").is_file()
    assert (tmp_path / "mix_0004.png").is_file()
    with Image.open(gif) as animation:
        assert animation.n_frames == 2  # steps 2 and 4 (the final image equals step 4's)


def test_blend_count_mismatch_is_one_line_error(content_path, style_path, tmp_path):
    result = run("stylize", content_path, style_path, "--style-blend", "1,2,3", "--backbone",
                 "lite", "-o", tmp_path / "o.png")  # fmt: skip
    one_line_error(result, "3 weights but 1 style")


def test_oversize_is_refused_with_estimate(content_path, style_path, tmp_path, monkeypatch):
    from nstcli.engine import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 2**30)
    result = run("stylize", content_path, style_path, "--backbone", "lite", "--size", "8000",
                 "-o", tmp_path / "o.png")  # fmt: skip
    one_line_error(result, "would not fit in memory", "GiB")
    assert not (tmp_path / "o.png").exists()


def test_mask_that_is_not_an_image_is_one_line_error(content_path, style_path, tmp_path):
    bad = _text_file(tmp_path)
    result = run("stylize", content_path, style_path, "--mask", bad, "--backbone", "lite",
                 "-o", tmp_path / "o.png")  # fmt: skip
    one_line_error(result, str(bad), "not an image")


def test_mask_count_mismatch_is_one_line_error(content_path, style_path, tmp_path):
    mask = tmp_path / "m.png"
    Image.new("L", (8, 8), 255).save(mask)
    result = run("stylize", content_path, style_path, "--mask", mask, "--mask", mask,
                 "--backbone", "lite", "-o", tmp_path / "o.png")  # fmt: skip
    one_line_error(result, "one --mask per style")


def test_tiled_tiff_output_keeps_alpha_and_sixteen_bits(style_path, tmp_path):
    import tifffile

    content = tmp_path / "cutout.png"
    rgba = Image.new("RGBA", (80, 60), (40, 160, 90, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 20, 20))
    rgba.save(content)
    out = tmp_path / "print.tif"
    result = run("stylize", content, style_path, "--backbone", "lite", "--size", "160",
                 "--steps", "4", "--no-multiscale", "--tile", "128", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "tiles of 128px" in result.output  # the plan is printed before work starts
    data = tifffile.imread(out)
    assert data.dtype == np.uint16 and data.shape == (120, 160, 4)
    assert data[5, 5, 3] == 0 and data[100, 100, 3] == 65535
    assert (data[..., :3] % 257 != 0).any()


def test_max_memory_must_be_a_size(content_path, style_path, tmp_path):
    result = run("stylize", content_path, style_path, "--max-memory", "lots", "--backbone",
                 "lite", "-o", tmp_path / "o.png")  # fmt: skip
    one_line_error(result, "--max-memory", "4GiB")


def test_stylize_then_upscale_x4(content_path, style_path, tmp_path, isolated_weights):
    import shutil

    shipped = SHIPPED_UPSCALERS / "srresnet-x4.pth"
    (isolated_weights / "project-weights").mkdir(exist_ok=True)
    shutil.copy(shipped, isolated_weights / "project-weights" / shipped.name)
    out = tmp_path / "big.png"
    result = run("stylize", content_path, style_path, "--backbone", "lite", "--size", "32",
                 "--steps", "2", "--no-multiscale", "--upscale", "-o", out, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["width"] == 128
    with Image.open(out) as image:
        assert image.size == (128, 96)
