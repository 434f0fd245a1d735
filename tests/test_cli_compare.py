"""`nst compare` as a user runs it: JSON figures, saved files, skipped backbones, exit codes."""

from __future__ import annotations

import inspect
import json

import pytest
from PIL import Image
from typer.testing import CliRunner

import nstcli.cli.compare as cli_compare
import nstcli.cli.stylize as cli_stylize
from nstcli.cli.app import app
from nstcli.cli.options import config_from_options
from nstcli.engine import compare as compare_module
from tests.conftest import one_line_error

runner = CliRunner()

FAST = ("--size", "32", "--steps", "2")


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_json_lists_every_backbone_with_its_figures_and_saves_each_result(
    content_path, style_path, tmp_path, vgg_random_weights, resnet_random_weights
):
    sheet = tmp_path / "sheet.png"
    result = run(
        "compare",
        content_path,
        style_path,
        *FAST,
        "--weights",
        f"vgg={vgg_random_weights}",
        "--weights",
        f"resnet={resnet_random_weights}",
        "-o",
        sheet,
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sheet"] == str(sheet) and summary["ran"] == 3 and summary["skipped"] == 0
    assert [entry["backbone"] for entry in summary["results"]] == ["vgg", "resnet", "lite"]
    for entry in summary["results"]:
        assert entry["status"] == "ok" and entry["steps"] == 2
        assert entry["wall_time_s"] > 0 and entry["seconds_per_step"] > 0
        assert set(entry["final_loss"]) >= {"content", "style", "total"}
        assert entry["config"]["seed"] == 0 and entry["config"]["size"] == 32
        output = tmp_path / f"sheet_{entry['backbone']}.png"
        assert entry["output"] == str(output)
        with Image.open(output) as image:
            assert max(image.size) == 32
    with Image.open(sheet) as image:
        assert image.format == "PNG" and image.width >= 1000
    assert not list(tmp_path.glob(".*part"))  # atomic saves leave no temp files


def test_missing_weights_backbone_is_skipped_with_the_message_and_exit_is_0(
    content_path, style_path, tmp_path
):
    sheet = tmp_path / "sheet.png"
    result = run(
        "compare", content_path, style_path, *FAST, "--backbones", "resnet,lite", "-o", sheet
    )
    assert result.exit_code == 0, result.output
    printed = " ".join(result.stdout.split())
    assert "skipped resnet: resnet weights resnet50-0676ba61.pth not found" in printed
    assert sheet.is_file() and (tmp_path / "sheet_lite.png").is_file()
    assert not (tmp_path / "sheet_resnet.png").exists()

    as_json = run(
        "compare",
        content_path,
        style_path,
        *FAST,
        "--backbones",
        "resnet,lite",
        "-o",
        sheet,
        "--json",
    )
    resnet = json.loads(as_json.stdout)["results"][0]
    assert resnet["status"] == "skipped"
    assert resnet["reason"] == "weights missing — run `nst weights download resnet`"
    assert "resnet50-0676ba61.pth not found" in resnet["message"]


def test_no_backbone_able_to_run_exits_2_without_a_sheet(content_path, style_path, tmp_path):
    sheet = tmp_path / "sheet.png"
    result = run(
        "compare", content_path, style_path, *FAST, "--backbones", "vgg,resnet", "-o", sheet,
        "--weights", "vgg=torchvision",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "no backbone could run" in result.stderr and "resnet50-0676ba61.pth" in result.stderr
    assert "vgg19-dcbb9e9d.pth" in result.stderr
    assert not sheet.exists()


def test_sweep_runs_every_backbone_at_every_value(content_path, style_path, tmp_path):
    sheet = tmp_path / "grid.png"
    result = run(
        "compare",
        content_path,
        style_path,
        "--size",
        "24",
        "--backbones",
        "resnet,lite",
        "--sweep",
        "steps=1,2",
        "-o",
        sheet,
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sweep"] == {"option": "steps", "values": [1, 2]}
    cells = [(e["backbone"], e["sweep_value"], e["status"]) for e in summary["results"]]
    assert cells == [
        ("resnet", 1, "skipped"),
        ("resnet", 2, "skipped"),
        ("lite", 1, "ok"),
        ("lite", 2, "ok"),
    ]
    assert [e["steps"] for e in summary["results"][2:]] == [1, 2]
    assert (tmp_path / "grid_lite_steps-1.png").is_file()
    assert (tmp_path / "grid_lite_steps-2.png").is_file()
    assert sheet.is_file()


def test_compare_and_stylize_turn_the_same_options_into_the_same_settings(
    content_path, style_path, tmp_path
):
    options = ("--size", "24", "--steps", "1", "--style-weight", "3e5", "--seed", "5")
    options += ("--optimizer", "lbfgs", "--tv-weight", "0.5", "--style-layers", "block1,block3")
    stylized = run(
        "stylize",
        content_path,
        style_path,
        "--backbone",
        "lite",
        *options,
        "--json",
        "-o",
        tmp_path / "s.png",
    )
    compared = run(
        "compare",
        content_path,
        style_path,
        "--backbones",
        "lite",
        *options,
        "--json",
        "-o",
        tmp_path / "c.png",
    )
    assert stylized.exit_code == 0 and compared.exit_code == 0, compared.output
    stylize_config = json.loads(stylized.stdout)["config"]
    compare_config = json.loads(compared.stdout)["results"][0]["config"]
    assert compare_config == stylize_config


def test_compare_offers_every_stylize_option_it_does_not_replace():
    help_text = " ".join(run("compare", "--help").output.split())
    stylize_parameters = inspect.signature(cli_stylize.stylize).parameters
    for name in stylize_parameters:
        if name not in cli_compare.REPLACED:
            assert "--" + name.replace("_", "-") in help_text
    for option in ("--backbones", "--weights", "--sweep", "--diff", "--no-diff", "--json"):
        assert option in help_text


def test_every_stylize_option_maps_onto_the_config():
    """A new stylize option without a config field (or converter) fails here, not for users."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(
            cli_stylize.stylize, eval_str=True
        ).parameters.items()
    }
    config = config_from_options(defaults)
    assert config.backbone == "vgg" and config.size == defaults["size"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--sweep", "init=1,2"], "not a numeric option"),
        (["--sweep", "offline=1"], "not a numeric option"),
        (["--weights", "vgg"], "BACKBONE=FILE"),
        (["--weights", "vgg=/nowhere.pth", "--backbones", "lite"], "not among --backbones"),
        (["--backbones", "alexnet"], "unknown backbone"),
        (["--size", "4"], "--size"),
        (["-o", "sheet.bmpx"], "unsupported output extension"),
        (["-o", "nofolder/sheet.png"], "does not exist"),
    ],
)
def test_bad_options_fail_before_any_computation(
    content_path, style_path, tmp_path, monkeypatch, args, fragment
):
    def must_not_run(*a, **k):
        raise AssertionError("computation started before the options were checked")

    monkeypatch.setattr(compare_module, "load_backbone_for", must_not_run)
    monkeypatch.chdir(tmp_path)
    result = run("compare", content_path, style_path, *args)
    one_line_error(result, fragment)


def test_bad_content_image_is_one_line_error(style_path, tmp_path):
    result = run("compare", tmp_path / "missing.jpg", style_path, "-o", tmp_path / "s.png")
    one_line_error(result, "no such file")
