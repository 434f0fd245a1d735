"""`nstcli.engine.compare` (planning, running, skipping) and `nstcli.render` (sheet, chart,
heat maps), on synthetic images with random-init or lite backbones."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from nstcli import samples
from nstcli.engine import compare as compare_module
from nstcli.engine.compare import (
    CompareObserver,
    Comparison,
    Entry,
    Job,
    Sweep,
    format_value,
    plan,
    run_comparison,
)
from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import InputError
from nstcli.engine.result import StepRecord, StylizeResult
from nstcli.render import heatmap, render_sheet
from nstcli.render.sheet import GAP, SKIPPED_INK

# -- planning ------------------------------------------------------------------------------


def test_plan_gives_every_backbone_the_same_options_and_seed_with_its_own_defaults():
    base = StylizeConfig(size=40, steps=3, seed=7, style_weight=1e5)
    planned = plan(base, ["vgg", "resnet", "lite"])
    configs = {job.backbone: job.config for job in planned.jobs}
    assert list(configs) == ["vgg", "resnet", "lite"]
    for name, config in configs.items():
        assert config is not None and config.backbone == name
        assert (config.size, config.steps, config.seed, config.style_weight) == (40, 3, 7, 1e5)
    # Unset options take each backbone's own measured defaults.
    assert configs["vgg"].content_weight == 10.0 and configs["lite"].content_weight == 1.5e4
    assert configs["vgg"].init == "palette" and configs["resnet"].init == "content"
    assert configs["vgg"].style_layers != configs["resnet"].style_layers


def test_plan_with_sweep_has_backbones_times_values_jobs():
    planned = plan(StylizeConfig(size=32), ["lite", "vgg"], sweep=Sweep.parse("steps=2,4,6"))
    cells = [(job.backbone, job.sweep_value, job.config.steps) for job in planned.jobs]
    assert cells == [
        ("lite", 2, 2),
        ("lite", 4, 4),
        ("lite", 6, 6),
        ("vgg", 2, 2),
        ("vgg", 4, 4),
        ("vgg", 6, 6),
    ]


@pytest.mark.parametrize(
    ("backbones", "weights", "sweep", "fragment"),
    [
        (["alexnet"], {}, None, "unknown backbone"),
        ([], {}, None, "at least one"),
        (["lite"], {"vgg": "x.pth"}, None, "not among --backbones"),
        (["lite"], {}, "style-weight=1e4,-1", "must be between 0 and"),
    ],
)
def test_plan_rejects_settings_that_concern_every_job(backbones, weights, sweep, fragment):
    with pytest.raises(InputError, match=fragment):
        plan(StylizeConfig(), backbones, weights, Sweep.parse(sweep) if sweep else None)


@pytest.mark.parametrize(
    ("text", "option", "values"),
    [
        ("style-weight=1e4,1e5,1e6", "style_weight", (1e4, 1e5, 1e6)),
        ("--steps=10, 20", "steps", (10, 20)),
        ("content_weight=0.5", "content_weight", (0.5,)),
        ("size=1e2,2e2", "size", (100, 200)),
    ],
)
def test_sweep_parse(text, option, values):
    sweep = Sweep.parse(text)
    assert sweep.option == option and sweep.values == values
    assert all(type(v) is type(values[0]) for v in sweep.values)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("style-weight", "expected OPTION=V1,V2"),
        ("init=1,2", "not a numeric option"),
        ("optimizer=1", "not a numeric option"),
        ("steps=1.5", "whole number"),
        ("lr=fast", "not a number"),
        ("lr=", "at least one value"),
        ("lr=0.1,0.1", "repeat"),
    ],
)
def test_sweep_parse_errors(text, fragment):
    with pytest.raises(InputError, match=fragment):
        Sweep.parse(text)


def test_sweep_parse_respects_allowed_options():
    with pytest.raises(InputError, match="choose from steps"):
        Sweep.parse("spike-ratio=2,3", allowed={"steps"})


def test_format_value_is_short_and_exact():
    assert [format_value(v) for v in (1e4, 1e5, 0.02, 2.5e-5, 300, 1.0)] == [
        "1e4",
        "1e5",
        "0.02",
        "2.5e-5",
        "300",
        "1",
    ]


# -- running -------------------------------------------------------------------------------


class Recorder(CompareObserver):
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def loading(self, job: Job) -> None:
        self.events.append(("loading", job.backbone))

    def step(self, job: Job, record: StepRecord, total: int) -> None:
        self.events.append(("step", job.backbone))

    def finished(self, entry: Entry) -> None:
        self.events.append(("finished", entry.backbone))


def test_missing_weights_skip_that_backbone_and_the_others_still_run(content_image, style_image):
    planned = plan(StylizeConfig(size=32, steps=2, offline=True), ["resnet", "lite"])
    recorder = Recorder()
    comparison = run_comparison(content_image, style_image, planned, recorder)
    resnet, lite = comparison.entries
    assert not resnet.ran
    assert resnet.skip_reason == "weights missing — run `nst weights download resnet`"
    assert "resnet50-0676ba61.pth not found" in (resnet.skip_message or "")
    assert lite.ran and lite.result is not None and lite.result.steps == 2
    assert [e.backbone for e in comparison.ran] == ["lite"]
    assert recorder.events.count(("step", "lite")) == 2
    assert ("finished", "resnet") in recorder.events and ("step", "resnet") not in recorder.events
    summary = comparison.summary()
    assert summary["ran"] == 1 and summary["skipped"] == 1
    assert summary["results"][0]["status"] == "skipped"
    assert summary["results"][1]["status"] == "ok" and summary["results"][1]["steps"] == 2


def test_random_init_backbones_run_with_identical_settings(content_image, style_image):
    # resnet runs in the CLI test (random-init ResNet50 is slow on CPU: denormal floats).
    base = StylizeConfig(size=32, steps=2, seed=3, pretrained=False)
    planned = plan(base, ["vgg", "lite"])
    comparison = run_comparison(content_image, style_image, planned)
    assert [entry.backbone for entry in comparison.ran] == ["vgg", "lite"]
    for entry in comparison.ran:
        result = entry.result
        assert result is not None and result.steps == 2 and result.config.seed == 3
        assert max(result.image.size) == 32 and result.wall_time > 0
        assert result.final is not None and result.final.total > 0


def test_sweep_builds_each_network_once_and_applies_each_value(
    content_image, style_image, monkeypatch
):
    calls: list[str] = []
    real_load_backbone_for = compare_module.load_backbone_for

    def counting_load_backbone_for(config):
        calls.append(config.backbone)
        return real_load_backbone_for(config)

    monkeypatch.setattr(compare_module, "load_backbone_for", counting_load_backbone_for)
    planned = plan(StylizeConfig(size=24), ["lite"], sweep=Sweep.parse("steps=1,3"))
    comparison = run_comparison(content_image, style_image, planned)
    assert calls == ["lite"]
    assert [entry.result.steps for entry in comparison.entries] == [1, 3]


# -- rendering -----------------------------------------------------------------------------


def fake_result(backbone: str, image: Image.Image, seconds: float, steps: int = 6):
    """A StylizeResult without running a model (rendering tests need only its figures)."""
    history = [
        StepRecord(
            i,
            {"content": 10.0 / i, "style": 100.0 / i, "tv": 0.0},
            110.0 / i,
            1.0,
            seconds * i / steps,
        )
        for i in range(1, steps + 1)
    ]
    config = StylizeConfig(backbone=backbone, size=max(image.size), steps=steps).resolved()
    return StylizeResult(image, history, seconds, config, "cpu", "test weights")


def fake_comparison(ran: list[str], skipped: list[str], size: int = 96, sweep=None):
    content = samples.content_scene(size, size * 3 // 4)
    entries = []
    values = sweep.values if sweep else (None,)
    for index, name in enumerate(ran + skipped):
        for value in values:
            config = StylizeConfig(backbone=name, size=size).resolved()
            entry = Entry(Job(name, value, config))
            if name in ran:
                tinted = Image.blend(content, samples.style_picture(*content.size), 0.2 * index)
                entry.result = fake_result(name, tinted, seconds=1.0 + index)
            else:
                entry.skip_reason = f"weights missing — run `nst weights download {name}`"
                entry.skip_message = f"{name}: not found"
            entries.append(entry)
    comparison = Comparison(entries, tuple(ran + skipped), sweep, content.size, (48, 48))
    return comparison, content, samples.style_picture(48, 48)


def _inside(box, image):
    left, top, right, bottom = box
    return 0 <= left < right <= image.width and 0 <= top < bottom <= image.height


def _region(image, box):
    return np.asarray(image.crop(box), dtype=np.float32)


def test_sheet_has_one_panel_per_backbone_in_a_row_plus_inputs_and_differences():
    comparison, content, style = fake_comparison(["vgg", "resnet", "lite"], [], size=240)
    sheet = render_sheet(comparison, content, style, panel=240)
    kinds = [panel.kind for panel in sheet.panels]
    assert kinds.count("content") == 1 and kinds.count("style") == 1
    assert kinds.count("result") == 3 and kinds.count("difference") == 3
    results = sheet.of_kind("result")
    assert [panel.backbone for panel in results] == ["vgg", "resnet", "lite"]
    sizes = {(p.box[2] - p.box[0], p.box[3] - p.box[1]) for p in results}
    assert sizes == {(240, 180)}  # every result at the same size, the content's aspect
    assert all(_inside(panel.box, sheet.image) for panel in sheet.panels)
    lefts = [panel.box[0] for panel in results]
    assert all(b - a == 240 + GAP for a, b in itertools.pairwise(lefts))
    differences = sheet.of_kind("difference")
    assert all(d.box[1] > r.box[3] for d, r in zip(differences, results, strict=True))
    assert sheet.chart_box[1] > max(d.box[3] for d in differences)
    # What is drawn in a result panel is that result.
    shown = _region(sheet.image, results[2].box)
    expected = np.asarray(comparison.entries[2].result.image.resize((240, 180)), np.float32)
    assert np.abs(shown - expected).mean() < 3


def test_sheet_grows_by_one_panel_width_per_backbone():
    two = render_sheet(*fake_comparison(["vgg", "lite"], [], 240), panel=240)
    three = render_sheet(*fake_comparison(["vgg", "resnet", "lite"], [], 240), panel=240)
    assert three.image.width - two.image.width == 240 + GAP
    tops = {panel.box[1] for sheet in (two, three) for panel in sheet.of_kind("result")}
    assert len(tops) == 1  # one row, at the same height in both


def test_chart_is_drawn_and_not_blank():
    comparison, content, style = fake_comparison(["vgg", "lite"], [])
    sheet = render_sheet(comparison, content, style)
    chart = _region(sheet.image, sheet.chart_box)
    assert chart.shape[0] >= 300 and chart.shape[1] >= 900
    assert chart.std() > 20
    # vgg's line colour (#1f77b4) and lite's (#2ca02c) are both present.
    for colour in ((31, 119, 180), (44, 160, 44)):
        close = np.abs(chart - np.array(colour, np.float32)).sum(axis=2) < 30
        assert close.sum() > 200


def test_skipped_backbone_gets_a_captioned_placeholder_and_no_difference_map():
    comparison, content, style = fake_comparison(["lite"], ["vgg", "resnet"])
    sheet = render_sheet(comparison, content, style)
    skipped = sheet.of_kind("skipped")
    assert [panel.backbone for panel in skipped] == ["vgg", "resnet"]
    assert [panel.backbone for panel in sheet.of_kind("difference")] == ["lite"]
    region = _region(sheet.image, skipped[0].box)
    red_text = np.abs(region - np.array(SKIPPED_INK, np.float32)).sum(axis=2) < 60
    assert red_text.sum() > 50  # the "skipped: weights missing …" text is drawn


def test_no_diff_leaves_out_the_difference_row():
    comparison, content, style = fake_comparison(["vgg", "lite"], [])
    with_diff = render_sheet(comparison, content, style, difference=True)
    without = render_sheet(comparison, content, style, difference=False)
    assert not without.of_kind("difference", "scale")
    assert without.image.height < with_diff.image.height


def test_sweep_grid_has_rows_times_columns_panels():
    sweep = Sweep.parse("style-weight=1e4,1e5,1e6")
    comparison, content, style = fake_comparison(["resnet", "lite"], ["vgg"], sweep=sweep)
    sheet = render_sheet(comparison, content, style)
    cells = sheet.of_kind("result", "skipped")
    assert len(cells) == 3 * 3
    assert len({panel.box[1] for panel in cells}) == 3  # rows: backbones
    assert len({panel.box[0] for panel in cells}) == 3  # columns: values
    assert {(p.backbone, p.sweep_value) for p in cells} == {
        (b, v) for b in ("resnet", "lite", "vgg") for v in sweep.values
    }
    assert not sheet.of_kind("difference")
    assert _region(sheet.image, sheet.chart_box).std() > 20


def test_change_map_is_zero_for_an_unchanged_image_and_follows_where_it_changed():
    content = samples.content_scene(120, 90)
    assert heatmap.change_map(content, content).max() < 1e-6
    moved = np.asarray(content).copy()
    moved[:, :60] = 255 - moved[:, :60]  # change only the left half
    change = heatmap.change_map(content, Image.fromarray(moved))
    assert change.shape == (90, 120)
    assert change[:, :50].mean() > 10 * change[:, 70:].mean()


def test_change_map_compares_at_the_result_size():
    content = samples.content_scene(200, 150)
    result = content.resize((80, 60), Image.Resampling.LANCZOS)
    assert heatmap.change_map(content, result).mean() < 0.01


def test_entry_summary_for_ran_and_skipped_entries():
    comparison, _, _ = fake_comparison(["lite"], ["vgg"])
    lite, vgg = (entry.summary() for entry in comparison.entries)
    assert lite["status"] == "ok" and lite["backbone"] == "lite" and lite["steps"] == 6
    assert vgg == {
        "backbone": "vgg",
        "sweep_value": None,
        "status": "skipped",
        "reason": "weights missing — run `nst weights download vgg`",
        "message": "vgg: not found",
    }
