"""The built-in gallery: package data, lookup rules, the contact sheet and `nst styles`."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from PIL import Image

from nstcli import gallery, samples
from nstcli.engine.errors import InputError
from nstcli.render.gallery import gallery_sheet
from tests.test_careful_cli import RUN_AND_REPORT_TORCH, nst_subprocess, one_line_error, run

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = (
    "starry-night", "the-scream", "shipwreck", "woman-with-a-hat", "great-wave", "udnie",
    "composition-vii", "contrast-of-forms", "mondrian-1913",
)  # fmt: skip


def test_nine_paintings_with_complete_manifest_entries():
    paintings = gallery.paintings()
    assert gallery.slugs() == EXPECTED
    for painting in paintings:
        for field in ("title", "artist", "year", "title_ru", "artist_ru", "provenance", "rights"):
            assert getattr(painting, field).strip(), (painting.slug, field)
        assert painting.title_in("ru") == painting.title_ru != painting.title_in("en")
        assert "c." not in painting.year_in("ru")
        assert "@" in painting.provenance  # repository path @commit
        assert painting.artist_died <= 1955  # public domain at life + 70 (checked in 2026)


def test_package_data_is_small_and_every_image_opens():
    data = resources.files("nstcli.gallery").joinpath("data")
    total = 0
    for painting in gallery.paintings():
        total += len(data.joinpath(painting.file).read_bytes())
        image = painting.open()
        assert image.mode == "RGB" and 500 <= max(image.size) <= 1024, painting.slug
    assert total < 3 * 2**20
    listed = {entry["file"] for entry in json.loads(data.joinpath("manifest.json").read_text())[
        "paintings"
    ]}  # fmt: skip
    shipped = {item.name for item in data.iterdir() if item.name.endswith(".jpg")}
    assert listed == shipped  # nothing shipped without attribution, nothing listed missing


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("starry-night", "starry-night"),
        ("Starry_Night", "starry-night"),
        ("star", "starry-night"),
        ("gr", "great-wave"),
        ("udnie", "udnie"),
        ("mondrian", "mondrian-1913"),
        ("the", "the-scream"),
    ],
)
def test_find_by_slug_or_unique_prefix(name, slug):
    assert gallery.find(name).slug == slug


def test_ambiguous_prefix_lists_the_candidates():
    with pytest.raises(InputError) as caught:
        gallery.find("s")
    message = str(caught.value)
    assert "shipwreck" in message and "starry-night" in message and "udnie" not in message
    with pytest.raises(InputError, match="composition-vii, contrast-of-forms"):
        gallery.find("co")


@pytest.mark.parametrize("name", ["picasso", "", "starry-night-x"])
def test_unknown_name_lists_every_painting(name):
    with pytest.raises(InputError) as caught:
        gallery.find(name)
    message = str(caught.value)
    assert "\n" not in message and all(slug in message for slug in EXPECTED)


def test_existing_file_wins_over_a_slug(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    samples.style_picture(20, 10).save(tmp_path / "udnie", format="PNG")
    source = gallery.style_source("udnie")
    assert source.painting is None and source.path is not None
    assert source.open().size == (20, 10)
    assert source.name == "udnie"
    (tmp_path / "udnie").unlink()
    source = gallery.style_source("udnie")
    assert source.painting is not None and source.open().size == gallery.find("udnie").open().size
    assert source.label == "Udnie (Young American Girl, The Dance)"


def test_a_missing_file_name_stays_a_file(tmp_path):
    source = gallery.style_source(tmp_path / "starry-night.jpg")
    assert source.painting is None
    with pytest.raises(InputError, match=r"starry-night\.jpg"):
        source.open()
    with pytest.raises(InputError, match="no file or gallery painting called 'sunflowers'"):
        gallery.style_source("sunflowers")


def test_contact_sheet_numbers_every_painting_in_a_grid():
    paintings = gallery.paintings()
    sheet = gallery_sheet(paintings[:4], columns=3, cell=120, heading="")
    assert sheet.mode == "RGB"
    assert sheet.width == 2 * 24 + 3 * 120 + 2 * 20
    two_rows = gallery_sheet(paintings[:3], columns=3, cell=120, heading="")
    assert sheet.height > two_rows.height
    # Each cell's bottom-left holds its picture, its top-left corner a dark number badge.
    assert sheet.getpixel((24 + 60, 24 + 119)) != (255, 255, 255)
    russian = gallery_sheet(paintings[:1], language="ru", cell=120)
    english = gallery_sheet(paintings[:1], language="en", cell=120)
    assert russian.size == english.size and russian.tobytes() != english.tobytes()


def test_nst_styles_lists_the_gallery_within_80_columns_without_torch():
    result = nst_subprocess(RUN_AND_REPORT_TORCH, "styles", env={"COLUMNS": "80"})
    assert "NO-TORCH 0" in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for painting in gallery.paintings():
        assert painting.slug in result.stdout
        assert painting.year in result.stdout
    assert "Hokusai" in result.stdout


def test_nst_styles_draws_the_sheet(tmp_path):
    path = tmp_path / "gallery.png"
    result = run("styles", "--sheet", path)
    assert result.exit_code == 0, result.output
    with Image.open(path) as sheet:
        assert sheet.width > 900 and sheet.height > 900
    one_line_error(run("styles", "--sheet", tmp_path / "gallery.txt"), "unsupported")


@pytest.mark.parametrize("command", ["stylize", "compare"])
def test_unknown_style_name_is_one_line_listing_the_names(command, content_path, tmp_path):
    output = one_line_error(
        run(command, content_path, "sunflowers", "-o", tmp_path / "out.png"), "sunflowers"
    )
    assert all(slug in output for slug in EXPECTED)
    one_line_error(run(command, content_path, "s", "-o", tmp_path / "out.png"), "shipwreck")


def test_stylize_with_slugs_blends_gallery_paintings(content_path, tmp_path, monkeypatch):
    """`nst stylize photo starry-night great-wave --style-blend 0.7,0.3` hands the packaged
    paintings to the engine (the run itself is the tested engine's)."""
    from nstcli.engine import job as job_module

    seen = {}

    def fake_prepare(content, styles, config, masks=None):
        seen["sizes"] = [style.size for style in styles]
        seen["blend"] = config.style_blend
        raise InputError("stop here")

    monkeypatch.setattr(job_module, "prepare", fake_prepare)
    result = run(
        "stylize", content_path, "starry", "great-wave", "--style-blend", "0.7,0.3",
        "-o", tmp_path / "out.png",
    )  # fmt: skip
    one_line_error(result, "stop here")
    expected = [gallery.find("starry-night").open().size, gallery.find("great-wave").open().size]
    assert seen == {"sizes": expected, "blend": (0.7, 0.3)}


def test_pyproject_ships_exactly_the_manifests_files():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(config["tool"]["setuptools"]["package-data"]["nstcli.gallery"])
    assert declared == {"data/manifest.json"} | {f"data/{p.file}" for p in gallery.paintings()}
