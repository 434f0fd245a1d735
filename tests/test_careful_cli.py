"""Issue 14: the command line as a careful user meets it.

Never destroy or fake a result, start without torch, read well at 80 columns, and
packaging a user can trust — each checked through the real CLI (Typer's runner, or a
subprocess where start-up, the environment or the terminal width matter).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from rich.progress import Progress
from typer.testing import CliRunner

from nstcli import samples
from nstcli.cli.app import app
from nstcli.cli.progress import bar_columns, step_fields
from nstcli.engine import job as job_module
from nstcli.engine import stylize as stylize_module
from nstcli.engine.images import encode_png16
from nstcli.engine.plan import RunPlan
from nstcli.engine.result import StepRecord
from tests.conftest import SHIPPED_UPSCALERS, one_line_error

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
LITE = ("--backbone", "lite")


def run(*args: object, env: dict[str, str] | None = None):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env=env)


def nst_subprocess(code: str, *args: str, env: dict[str, str] | None = None):
    """Run `code` in a fresh interpreter with `sys.argv = ['nst', *args]` (no test imports)."""
    environment = os.environ | {"PYTHONPATH": str(ROOT)} | (env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


#: Runs the CLI like the console script, then reports whether torch got imported.
RUN_AND_REPORT_TORCH = """
import sys
sys.argv = ["nst", *sys.argv[1:]]
from nstcli.cli.app import main
try:
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print("TORCH-IMPORTED" if "torch" in sys.modules else "NO-TORCH", code, file=sys.stderr)
"""


# -- never destroy ---------------------------------------------------------------------------


@pytest.fixture
def must_not_compute(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("work started before the output path was checked")

    monkeypatch.setattr(job_module, "load_backbone_for", refuse)
    monkeypatch.setattr(job_module, "prepare", refuse)
    monkeypatch.setattr(stylize_module, "run", refuse)


@pytest.mark.parametrize("which", ["content", "style", "content via a symlink"])
def test_stylize_refuses_to_overwrite_an_input(
    which, content_path, style_path, tmp_path, must_not_compute
):
    before = {path: path.read_bytes() for path in (content_path, style_path)}
    target = style_path if which == "style" else content_path
    if which.endswith("symlink"):
        link = tmp_path / "link.png"
        link.symlink_to(content_path)
        result = run("stylize", link, style_path, *LITE, "-o", content_path)
    else:
        result = run("stylize", content_path, style_path, *LITE, "-o", target)
    one_line_error(result, "is the input", "would destroy it")
    assert {path: path.read_bytes() for path in before} == before


def test_stylize_refuses_a_gif_over_an_input(content_path, style_path, tmp_path):
    gif = tmp_path / "style.gif"
    samples.style_picture(32, 32).save(gif)
    result = run("stylize", content_path, gif, *LITE, "-o", tmp_path / "o.png", "--gif", gif)
    one_line_error(result, "is the input")


def test_upscale_and_compare_refuse_to_overwrite_an_input(content_path, style_path, tmp_path):
    before = content_path.read_bytes()
    one_line_error(run("upscale", content_path, "-o", content_path), "is the input")
    result = run("compare", content_path, style_path, "--backbones", "lite", "-o", content_path)
    one_line_error(result, "is the input")
    assert content_path.read_bytes() == before


def test_gif_in_a_missing_folder_names_the_gif(content_path, style_path, tmp_path):
    gif = tmp_path / "nodir" / "x.gif"
    output = one_line_error(
        run("stylize", content_path, style_path, *LITE, "-o", tmp_path / "o.png", "--gif", gif),
        "x.gif",
        "does not exist",
    )
    assert "x.png" not in output


# -- sizes decided by arithmetic, before anything is allocated or torch is imported ----------


def test_huge_size_is_refused_before_torch_loads(content_path, style_path, tmp_path):
    result = nst_subprocess(
        RUN_AND_REPORT_TORCH,
        *("stylize", str(content_path), str(style_path), "--size", "100000"),
        *("-o", str(tmp_path / "big.png")),
    )
    assert "would not fit in memory" in result.stderr and "100000×75000" in result.stderr
    assert "NO-TORCH 2" in result.stderr
    assert not (tmp_path / "big.png").exists()


def test_size_over_the_budget_is_refused_from_arithmetic(content_path, style_path, tmp_path):
    result = run("stylize", content_path, style_path, *LITE, "--size", "20000",
                 "--max-memory", "1GiB", "-o", tmp_path / "o.png")  # fmt: skip
    one_line_error(result, "--size 20000 (20000×15000)", "1.0 GiB budget")


@pytest.mark.parametrize(
    ("size", "fragment"),
    [((4000, 2), "4000×2"), ((1, 1), "1×1")],  # were optimised as 128×1 and a flat 128×128
)
def test_degenerate_content_is_refused(size, fragment, style_path, tmp_path):
    content = tmp_path / "odd.png"
    Image.new("RGB", size, (90, 120, 150)).save(content)
    result = run("stylize", content, style_path, *LITE, "-o", tmp_path / "o.png")
    one_line_error(result, fragment, "shorter side")
    assert not (tmp_path / "o.png").exists()


def test_thin_content_is_refused_at_its_first_scale(style_path, tmp_path):
    content = tmp_path / "thin.png"
    Image.new("RGB", (1600, 60), (90, 120, 150)).save(content)  # 128 px wide → 5 px high
    result = run("stylize", content, style_path, *LITE, "--size", "512", "-o", tmp_path / "o.png")
    one_line_error(result, "at 128 px its shorter side would be 5 px")


def test_one_pixel_style_and_upscale_input_are_refused(content_path, tmp_path):
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (9, 9, 9)).save(dot)
    one_line_error(run("stylize", content_path, dot, *LITE, "-o", tmp_path / "o.png"), "1×1")
    one_line_error(run("upscale", dot, "-o", tmp_path / "x4.png"), "1×1")


@pytest.mark.parametrize("value", ["inf", "1e40", "nan", "-1"])
def test_non_finite_or_absurd_weights_are_refused(value, content_path, style_path, tmp_path):
    result = run("stylize", content_path, style_path, *LITE, "--style-weight", value,
                 "-o", tmp_path / "o.png")  # fmt: skip
    one_line_error(result, "--style-weight must be between 0 and 1e+12")


def _poison_losses(monkeypatch, bad_calls: set[int]) -> None:
    """Make chosen loss evaluations NaN, as an overflowing run would produce."""
    real = stylize_module.evaluate
    calls = {"n": 0}

    def evaluate(*args):
        calls["n"] += 1
        total, parts = real(*args)
        if calls["n"] in bad_calls:
            nan = torch.full_like(total, float("nan"))
            return total * nan, {name: float("nan") for name in parts}
        return total, parts

    monkeypatch.setattr(stylize_module, "evaluate", evaluate)


def test_a_run_that_diverges_stops_with_one_line_and_no_file(
    content_path, style_path, tmp_path, monkeypatch
):
    _poison_losses(monkeypatch, set(range(3, 100)))
    out = tmp_path / "o.png"
    result = run("stylize", content_path, style_path, *LITE, "--size", "32", "--steps", "8",
                 "--optimizer", "adam", "-o", out, "--quiet")  # fmt: skip
    one_line_error(result, "the loss became nan", "rolling back did not help")
    assert not out.exists()


def test_one_nan_step_is_rolled_back_and_the_run_finishes(
    content_path, style_path, tmp_path, monkeypatch
):
    _poison_losses(monkeypatch, {4})
    out = tmp_path / "o.png"
    result = run("stylize", content_path, style_path, *LITE, "--size", "32", "--steps", "8",
                 "--optimizer", "adam", "-o", out, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["spikes"] >= 1
    with Image.open(out) as image:
        assert np.asarray(image).std() > 5  # a real picture, not a flat black one


# -- colour depth, alpha, reproducibility ----------------------------------------------------


def _png16_depth(path: Path) -> int:
    data = path.read_bytes()
    return data[24]  # IHDR bit depth


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_rgb_inputs_give_sixteen_bit_png(suffix, style_path, tmp_path):
    pixels = (samples_array(40, 30) * 65535).astype(np.uint16)
    content = tmp_path / f"deep{suffix}"
    if suffix == ".png":
        content.write_bytes(encode_png16(pixels))
    else:
        tifffile.imwrite(content, pixels, photometric="rgb")
    out = tmp_path / "o.png"
    result = run("stylize", content, style_path, *LITE, "--size", "40", "--steps", "2",
                 "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _png16_depth(out) == 16


def samples_array(width: int, height: int) -> np.ndarray:
    return np.asarray(samples.content_scene(width, height), np.float32) / 255


def test_half_transparent_pixels_keep_their_colour(style_path, tmp_path):
    """An all-black mask returns the content: its half-transparent colour must survive."""
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., :3] = 112
    rgba[..., 3] = 128
    content, mask = tmp_path / "ghost.png", tmp_path / "black.png"
    Image.fromarray(rgba, "RGBA").save(content)
    Image.new("L", (32, 32), 0).save(mask)
    out = tmp_path / "o.png"
    result = run("stylize", content, style_path, *LITE, "--size", "32", "--steps", "1",
                 "--mask", mask, "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    with Image.open(out) as saved:
        array = np.asarray(saved.convert("RGBA"), np.float32)
    assert abs(array[..., :3].mean() - 112) <= 2, array[..., :3].mean()  # was 183: whitened
    assert abs(array[..., 3].mean() - 128) <= 1


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_same_seed_gives_byte_identical_files(suffix, content_path, style_path, tmp_path):
    outputs = [tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"]
    for out in outputs:
        result = run("stylize", content_path, style_path, *LITE, "--size", "32", "--steps", "2",
                     "--seed", "3", "-o", out)  # fmt: skip
        assert result.exit_code == 0, result.output
    assert outputs[0].read_bytes() == outputs[1].read_bytes()


# -- start-up without torch ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--help",), {}),
        (("--version",), {}),
        (("stylize", "--help"), {}),
        (("upscale", "--help"), {}),
        (("compare", "--help"), {}),
        ((), {"_NST_COMPLETE": "complete_bash", "COMP_WORDS": "nst stylize --ba",
              "COMP_CWORD": "2"}),
    ],
)  # fmt: skip
def test_help_version_and_completion_do_not_import_torch(args, env):
    result = nst_subprocess(RUN_AND_REPORT_TORCH, *args, env=env)
    assert "NO-TORCH 0" in result.stderr, result.stderr
    if env:
        assert "--backbone" in result.stdout


def test_version_comes_from_the_installed_metadata():
    from importlib.metadata import version

    assert run("--version").output.strip() == f"nst {version('nst')}"


# -- 80 columns ------------------------------------------------------------------------------

COMMANDS = ["", "stylize", "upscale", "compare", "layers", "weights", "eval-upscaler",
            "serve-bot", "worker"]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_help_fits_80_columns_without_cutting(command):
    result = run(*([command] if command else []), "--help", env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in result.output


def test_help_shows_the_environment_variables():
    assert "NST_OFFLINE" in run("stylize", "--help").output
    assert "NST_WEIGHTS_DIR" in run("stylize", "--help").output
    assert "TELEGRAM_BOT_TOKEN" in run("serve-bot", "--help").output


def test_seed_help_says_the_content_init_is_not_random():
    text = " ".join(run("stylize", "--help", env={"COLUMNS": "80"}).output.split())
    assert "every seed gives the same image" in text


def test_progress_line_fits_80_columns_with_steps_stage_loss_and_eta(
    content_path, style_path, tmp_path
):
    result = nst_subprocess(
        RUN_AND_REPORT_TORCH,
        *("stylize", str(content_path), str(style_path), "--backbone", "lite"),
        *("--size", "64", "--start-size", "32", "--steps", "6", "-o", str(tmp_path / "o.png")),
        env={"COLUMNS": "80", "NST_OFFLINE": "1"},
    )
    assert "TORCH-IMPORTED 0" in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    bar = next(line for line in lines if line.startswith("lite 64px"))
    for part in ("6/6", "64px", "loss ", "ETA"):
        assert part in bar, bar
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)


def test_eta_weights_steps_by_pixels():
    """After the cheap 128 px scale of a 512 px run the ETA must be the real remaining time.

    Simulated clock: each step takes time proportional to its pixel count, as on a CPU.
    Counting steps instead would show 300 s − 142 cheap steps ≈ 60% too little.
    """
    plan = RunPlan(512, 384, [(128, 142), (256, 95), (512, 63)], None, 0)
    costs = plan.step_costs()
    seconds_per_pixel = 1e-5
    now = [0.0]
    progress = Progress(*bar_columns(), get_time=lambda: now[0], speed_estimate_period=1e9)
    task = progress.add_task("vgg 512px", total=1.0, steps="", stage="", loss="")
    fractions = plan.work_fractions()
    for index in range(142 + 95):  # through the 256 px scale
        now[0] += costs[index] * seconds_per_pixel
        losses = {"content": 0.0, "style": 0.0, "tv": 0.0}
        record = StepRecord(index + 1, losses, 1.0, 1.0, now[0], work_done=fractions[index],
                            stage="256px" if index >= 142 else "128px")  # fmt: skip
        progress.update(task, **step_fields(record, plan.total_steps))
    real_remaining = sum(costs[142 + 95 :]) * seconds_per_pixel
    shown = progress.tasks[0].time_remaining
    assert shown == pytest.approx(real_remaining, rel=0.02)


def test_tiled_run_keeps_to_the_steps_budget_and_says_so(content_path, style_path, tmp_path):
    out = tmp_path / "o.png"
    result = run("stylize", content_path, style_path, *LITE, "--size", "160", "--tile", "128",
                 "--steps", "12", "--no-multiscale", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    plan_line = next(line for line in result.output.splitlines() if line.startswith("plan:"))
    assert "= 12 steps" in " ".join(result.output.split())
    assert "tiles" in plan_line
    summary = run("stylize", content_path, style_path, *LITE, "--size", "160", "--tile", "128",
                  "--steps", "12", "--no-multiscale", "-o", out, "--json")  # fmt: skip
    assert json.loads(summary.stdout)["steps"] == 12


# -- small things ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["truncated", "jpeg"])
def test_unreadable_weights_file_is_one_line_in_our_words(kind, content_path, style_path, tmp_path):
    weights = tmp_path / "vgg.pth"
    if kind == "truncated":
        buffer = tmp_path / "whole.pth"
        torch.save({"w": torch.zeros(64, 64)}, buffer)
        weights.write_bytes(buffer.read_bytes()[:300])
        expected = "truncated or corrupt"
    else:
        samples.style_picture(16, 16).save(weights, format="JPEG")
        expected = "it is a JPEG image"
    result = run(
        "stylize", content_path, style_path, "--weights", weights, "-o", tmp_path / "o.png"
    )
    output = one_line_error(result, "not a readable PyTorch weights file", expected)
    assert "zip" not in output.lower() and "pickle" not in output.lower()
    result = run("upscale", content_path, "--weights", weights, "-o", tmp_path / "x4.png")
    output = one_line_error(result, "not a readable PyTorch weights file", expected)
    assert "zip" not in output.lower() and "pickle" not in output.lower()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_absent_cuda_is_refused_before_the_plan(content_path, style_path, tmp_path):
    result = run("stylize", content_path, style_path, *LITE, "--device", "cuda",
                 "-o", tmp_path / "o.png")  # fmt: skip
    one_line_error(result, "--device cuda")
    assert "plan" not in result.output
    one_line_error(run("upscale", content_path, "--device", "cuda", "-o", tmp_path / "x.png"))


def test_upscale_threads_zero_is_refused(content_path, tmp_path):
    one_line_error(run("upscale", content_path, "--threads", "0", "-o", tmp_path / "x4.png"),
                   "--threads must be at least 1")  # fmt: skip


# -- packaging -------------------------------------------------------------------------------


def test_license_file_and_redis_extra():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert project["license"] == "MIT" and "version" in project
    assert not any(dep.startswith("redis") for dep in project["dependencies"])
    assert any(dep.startswith("redis") for dep in project["optional-dependencies"]["redis"])
    assert any(dep.startswith(("requests", "platformdirs")) for dep in project["dependencies"])


def test_weights_dir_option_and_env_var_are_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("NST_WEIGHTS_DIR", str(tmp_path / "elsewhere"))  # restored afterwards
    folder = tmp_path / "my-weights"
    folder.mkdir()
    (folder / "srresnet-x4.pth").write_bytes((SHIPPED_UPSCALERS / "srresnet-x4.pth").read_bytes())
    by_env = run("weights", env={"NST_WEIGHTS_DIR": str(folder), "COLUMNS": "200"})
    assert "found ($NST_WEIGHTS_DIR)" in by_env.output
    monkeypatch.setenv("NST_WEIGHTS_DIR", str(tmp_path / "elsewhere"))
    by_option = run("weights", "--weights-dir", folder, env={"COLUMNS": "200"})
    assert "found ($NST_WEIGHTS_DIR)" in by_option.output


def test_bot_data_folder_follows_xdg(monkeypatch, tmp_path):
    from nstcli.bot.config import default_data_dir

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "nst" / "bot"


def test_eval_upscaler_needs_val_outside_a_checkout(monkeypatch, tmp_path):
    import nstcli.cli.eval_upscaler as eval_upscaler

    monkeypatch.setattr(eval_upscaler, "CHECKOUT_VAL", tmp_path / "absent")
    one_line_error(run("eval-upscaler"), "--val FOLDER is required")


def test_torch_free_choice_lists_match_the_engine_registries():
    """The CLI offers these names without importing torch; they must stay the engine's."""
    from nstcli.engine.backbone_facts import BACKBONE_FACTS
    from nstcli.engine.backbones import BACKBONES
    from nstcli.engine.upscale import UPSCALER_MODELS
    from nstcli.engine.upscale.weights import UPSCALERS

    assert list(BACKBONES) == list(BACKBONE_FACTS)
    assert all(spec.facts is BACKBONE_FACTS[name] for name, spec in BACKBONES.items())
    assert tuple(UPSCALERS) == UPSCALER_MODELS
