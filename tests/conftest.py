"""Shared fixtures: synthetic images, isolated weight locations, random-init weight files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nstcli import samples
from nstcli.engine import weights as weights_module
from nstcli.engine.images import resize_longer_side
from nstcli.engine.upscale import weights as upscale_weights

# The CLIs and bots the tests start as subprocesses get one thread too (see single_thread):
# under `make test`'s two test processes, their default of one per core oversubscribes.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _import_consoles_without_columns() -> None:
    """Rich fixes a console's width for good when COLUMNS is set as it is built; the CLI's
    consoles are built here, without it, so each test's COLUMNS counts (else whichever
    test first imported them under `COLUMNS=80` made every later table 80 wide: seen as
    order-dependent failures under pytest-xdist)."""
    columns = os.environ.pop("COLUMNS", None)
    try:
        import nstcli.cli.common  # noqa: F401
    finally:
        if columns is not None:
            os.environ["COLUMNS"] = columns


_import_consoles_without_columns()

#: The upscalers the package ships (package data); tests that use them copy them in.
SHIPPED_UPSCALERS = Path(upscale_weights.shipped_path("manifest.json")).parent

SHARED = Path(__file__).resolve().parents[2] / "shared"


def one_line_error(result, *fragments: str, code: int = 2) -> str:
    """The promise for every bad input: exit `code`, exactly one `error:` line, no traceback.

    `result` is a Typer/Click runner result; returns the line for further checks.
    """
    output = result.output.strip()
    assert result.exit_code == code, output
    assert output.startswith("error:") and "\n" not in output, output
    for fragment in fragments:
        assert fragment in output, output
    return output


def differs_from_content(image: Image.Image, content: Image.Image, at_least: float = 1.0) -> float:
    """Mean |Δ| (0–255) between a result and its content resized as the engine resizes it;
    asserts the run changed the picture (a copy of the content gives 0.0)."""
    made = np.asarray(image.convert("RGB"), np.float32)
    same_size = resize_longer_side(content.convert("RGB"), max(image.size))
    difference = float(np.abs(made - np.asarray(same_size, np.float32)).mean())
    assert difference > at_least, f"the result is the content ({difference:.2f} mean |Δ|)"
    return difference


def assert_stylized(result, out: Path, content: Path, size: tuple[int, int], **expected) -> dict:
    """A `nst stylize … --json` run that really ran: exit 0, the file at `size`, not the
    content, and a JSON report that says what ran (`expected` keys: backbone, steps, weights
    as a fragment of the weights description)."""
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["output"] == str(out)
    assert (summary["width"], summary["height"]) == size
    weights = expected.pop("weights", None)
    if weights is not None:
        assert weights in summary["weights"], summary["weights"]
    assert {key: summary[key] for key in expected} == expected
    assert summary["final_loss"]["step"] == summary["steps"]
    with Image.open(out) as image, Image.open(content) as original:
        assert image.size == size
        differs_from_content(image, original)
    return summary


@pytest.fixture(autouse=True, scope="session")
def single_thread():
    """Tiny test images gain nothing from threads, and with other work on the machine
    OpenMP's spinning threads slow small ops down by orders of magnitude."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def isolated_weights(tmp_path_factory, monkeypatch):
    """No test sees the developer's real weights or touches the network."""
    root = tmp_path_factory.mktemp("weights-env")
    monkeypatch.setenv("TORCH_HOME", str(root / "torch-home"))
    monkeypatch.delenv("NST_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("NST_OFFLINE", "1")
    monkeypatch.setattr(weights_module, "PROJECT_WEIGHTS_DIR", root / "project-weights")
    packaged = root / "packaged-upscalers"
    monkeypatch.setattr(upscale_weights, "shipped_path", lambda filename: packaged / filename)
    return root


@pytest.fixture
def content_path(tmp_path) -> Path:
    path = tmp_path / "content.png"
    samples.content_scene(64, 48).save(path)
    return path


@pytest.fixture
def style_path(tmp_path) -> Path:
    path = tmp_path / "style.jpg"
    samples.style_picture(48, 48).save(path, quality=90)
    return path


@pytest.fixture
def content_image() -> Image.Image:
    return samples.content_scene(64, 48)


@pytest.fixture
def style_image() -> Image.Image:
    return samples.style_picture(48, 48)


@pytest.fixture(scope="session")
def vgg_random_weights(tmp_path_factory) -> Path:
    """A random-init VGG19 state dict with torchvision's keys (the real one can't be fetched)."""
    from torchvision.models import vgg19

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "my-vgg19.pth"
    torch.save(vgg19(weights=None).state_dict(), path)
    return path


@pytest.fixture(scope="session")
def resnet_random_weights(tmp_path_factory) -> Path:
    from torchvision.models import resnet50

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("resnet") / "my-resnet50.pth"
    torch.save(resnet50(weights=None).state_dict(), path)
    return path
