"""The weights resolver: each location in order, hash checks, offline errors, downloads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from torch import nn

from nstcli.engine import weights
from nstcli.engine.errors import WeightsError


def _tiny_state(path: Path) -> Path:
    torch.manual_seed(0)
    torch.save(nn.Linear(3, 2).state_dict(), path)
    return path


@pytest.fixture
def checkpoint(tmp_path) -> tuple[bytes, str]:
    """Bytes of a small checkpoint and the torchvision-style file name they hash to."""
    path = _tiny_state(tmp_path / "raw.pth")
    data = path.read_bytes()
    return data, f"tinynet-{hashlib.sha256(data).hexdigest()[:8]}.pth"


def _spec(filename: str, url: str | None = None) -> weights.WeightSpec:
    return weights.WeightSpec(model="tinynet", filename=filename, url=url)


def test_hash_prefix_parsed_from_torchvision_names():
    assert _spec("vgg19-dcbb9e9d.pth").hash_prefix == "dcbb9e9d"
    assert _spec("efficientnet-lite0-57934424.pth").hash_prefix == "57934424"
    assert _spec("plain.pth").hash_prefix is None


def test_explicit_file_wins_and_is_not_hash_checked(tmp_path, checkpoint):
    own = tmp_path / "fine-tuned.pth"
    own.write_bytes(checkpoint[0])
    resolved = weights.resolve(_spec("tinynet-00000000.pth"), explicit=own)
    assert resolved.path == own and resolved.source == "--weights" and not resolved.verified


def test_explicit_missing_file_is_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        weights.resolve(_spec("x.pth"), explicit=tmp_path / "nope.pth")


def _place(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def test_env_dir(tmp_path, monkeypatch, checkpoint):
    monkeypatch.setenv("NST_WEIGHTS_DIR", str(tmp_path / "env"))
    placed = _place(tmp_path / "env", checkpoint[1], checkpoint[0])
    resolved = weights.resolve(_spec(checkpoint[1]))
    assert (resolved.path, resolved.source, resolved.verified) == (placed, "$NST_WEIGHTS_DIR", True)


def test_project_dir(checkpoint):
    placed = _place(weights.PROJECT_WEIGHTS_DIR, checkpoint[1], checkpoint[0])
    resolved = weights.resolve(_spec(checkpoint[1]))
    assert (resolved.path, resolved.source) == (placed, "project weights/")


def test_hub_cache(checkpoint):
    placed = _place(weights.hub_checkpoint_dir(), checkpoint[1], checkpoint[0])
    resolved = weights.resolve(_spec(checkpoint[1]))
    assert (resolved.path, resolved.source) == (placed, "torch hub cache")


def test_order_env_before_project_before_hub(tmp_path, monkeypatch, checkpoint):
    monkeypatch.setenv("NST_WEIGHTS_DIR", str(tmp_path / "env"))
    for folder in (tmp_path / "env", weights.PROJECT_WEIGHTS_DIR, weights.hub_checkpoint_dir()):
        _place(folder, checkpoint[1], checkpoint[0])
    assert weights.resolve(_spec(checkpoint[1])).source == "$NST_WEIGHTS_DIR"
    (tmp_path / "env" / checkpoint[1]).unlink()
    assert weights.resolve(_spec(checkpoint[1])).source == "project weights/"


def test_packaged_file_is_found(tmp_path, checkpoint):
    packaged = _place(tmp_path / "pkg", checkpoint[1], checkpoint[0])
    spec = weights.WeightSpec("tinynet", checkpoint[1], packaged=lambda: packaged)
    assert weights.resolve(spec).source == "installed package"


def test_wrong_hash_is_rejected(checkpoint):
    name = "tinynet-deadbeef.pth"
    _place(weights.PROJECT_WEIGHTS_DIR, name, checkpoint[0])
    with pytest.raises(WeightsError, match="does not match the expected prefix deadbeef"):
        weights.resolve(_spec(name))


def test_offline_missing_names_file_url_and_folders():
    spec = _spec("tinynet-12345678.pth", url="https://example.invalid/tinynet-12345678.pth")
    with pytest.raises(WeightsError) as caught:
        weights.resolve(spec, offline=True)
    message = str(caught.value)
    assert "tinynet-12345678.pth" in message and "offline" in message
    assert spec.url in message
    assert (
        str(weights.PROJECT_WEIGHTS_DIR) in message and str(weights.hub_checkpoint_dir()) in message
    )


def test_download_uses_url_into_hub_cache_and_checks_hash(tmp_path, monkeypatch, checkpoint):
    monkeypatch.delenv("NST_OFFLINE")
    served = _place(tmp_path / "server", checkpoint[1], checkpoint[0])
    resolved = weights.resolve(_spec(checkpoint[1], url=served.as_uri()), progress=False)
    assert resolved.source == "downloaded"
    assert resolved.path == weights.hub_checkpoint_dir() / checkpoint[1]
    assert resolved.path.read_bytes() == checkpoint[0]


def test_download_with_wrong_hash_leaves_nothing(tmp_path, monkeypatch, checkpoint):
    monkeypatch.delenv("NST_OFFLINE")
    served = _place(tmp_path / "server", "tinynet-deadbeef.pth", checkpoint[0])
    with pytest.raises(WeightsError, match="could not download"):
        weights.resolve(_spec("tinynet-deadbeef.pth", url=served.as_uri()), progress=False)
    assert not (weights.hub_checkpoint_dir() / "tinynet-deadbeef.pth").exists()


def test_unreachable_download_is_clear_error(monkeypatch):
    monkeypatch.delenv("NST_OFFLINE")
    spec = _spec("tinynet-12345678.pth", url="file:///nonexistent/tinynet-12345678.pth")
    with pytest.raises(WeightsError, match="could not download tinynet"):
        weights.resolve(spec, progress=False)


def test_load_into_reports_key_and_shape_mismatch(tmp_path):
    path = _tiny_state(tmp_path / "linear.pth")
    with pytest.raises(WeightsError, match="shape mismatches"):
        weights.load_into(nn.Linear(4, 2), path, "tinynet")
    with pytest.raises(WeightsError, match="missing keys"):
        weights.load_into(nn.Sequential(nn.Linear(3, 2)), path, "tinynet")


def test_truncated_or_foreign_file_is_clear_error(tmp_path):
    path = _tiny_state(tmp_path / "linear.pth")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(WeightsError, match="not a readable PyTorch weights file"):
        weights.load_state_dict(path)
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(WeightsError, match="not a readable"):
        weights.load_state_dict(text)


def test_state_dict_wrapped_in_checkpoint_is_unwrapped(tmp_path):
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": nn.Linear(3, 2).state_dict(), "epoch": 3}, path)
    assert set(weights.load_state_dict(path)) == {"weight", "bias"}


def test_shipped_upscalers_are_package_data_found_through_importlib_resources():
    """The resolver finds the shipped upscalers inside the package, wherever it is installed."""
    import importlib.resources

    from nstcli.engine.upscale import UPSCALER_MODELS
    from nstcli.engine.upscale.weights import UPSCALERS

    data = importlib.resources.files("nstcli.engine.upscale").joinpath("data")
    assert tuple(UPSCALERS) == UPSCALER_MODELS
    for spec in UPSCALERS.values():
        assert data.joinpath(spec.filename).is_file()
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    package_data = config["tool"]["setuptools"]["package-data"]
    assert "data-files" not in config["tool"]["setuptools"]
    for package, files in package_data.items():
        folder = root.joinpath(*package.split("."))
        assert all((folder / name).is_file() for name in files), (package, files)
