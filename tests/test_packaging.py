"""The built wheel: package data found through importlib.resources wherever it is installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nstcli import samples

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installed_with_target_upscales_with_its_packaged_weights(tmp_path):
    """`pip install --target` used to miss the upscalers (data-files went to a prefix)."""
    source, dist = tmp_path / "source", tmp_path / "dist"  # a copy: builds write build/ beside
    skip = (".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", "out", "bench")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*skip))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(source)],
        check=True, timeout=600,
    )  # fmt: skip
    (wheel,) = dist.glob("nst-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("srresnet-x4.pth", "srgan-x4.pth", "manifest.json"):
        assert f"nstcli/engine/upscale/data/{shipped}" in names
    assert "nstcli/engine/data/srgb.icc" in names
    from nstcli import gallery

    assert "nstcli/gallery/data/manifest.json" in names
    for painting in gallery.paintings():
        assert f"nstcli/gallery/data/{painting.file}" in names
    assert any(name.endswith("licenses/LICENSE") for name in names)
    target = tmp_path / "target"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True, timeout=600,
    )  # fmt: skip
    image = tmp_path / "small.png"
    samples.content_scene(24, 16).save(image)
    env = os.environ | {"PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-m", "nstcli", "upscale", str(image), "-o", str(tmp_path / "x4.png"),
         "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["weights_source"] == "installed package"
    assert summary["weights"].startswith(str(target))
    assert summary["output_size"] == [96, 64]
    listing = subprocess.run(
        [sys.executable, "-c", "from nstcli import gallery; "
         "print(gallery.find('great').open().size, gallery.find('great').__module__)"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith("(928, 514)")
