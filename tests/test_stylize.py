"""The optimisation loop: loss goes down, seeded runs repeat, spikes lower the step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import Cancelled, InputError
from nstcli.engine.spike_guard import SpikeGuard
from nstcli.engine.stylize import stylize
from tests.conftest import differs_from_content


def _lite(**overrides) -> StylizeConfig:
    settings = {"backbone": "lite", "size": 48, "steps": 20}
    return StylizeConfig(**(settings | overrides))


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_loss_goes_down_over_20_steps(content_image, style_image, optimizer):
    result = stylize(content_image, style_image, _lite(optimizer=optimizer))
    totals = [record.total for record in result.history]
    assert len(totals) == 20
    assert totals[-1] < 0.7 * totals[0]
    assert result.image.size == (48, 36)


def test_each_backbone_runs_with_random_init(content_image, style_image):
    for backbone in ("vgg", "resnet"):
        config = StylizeConfig(backbone=backbone, size=32, steps=3, pretrained=False)
        result = stylize(content_image, style_image, config)
        assert result.steps == 3 and result.weights_source == "random init"
        assert result.image.size == (32, 24) and result.config.backbone == backbone
        assert all(math.isfinite(record.total) for record in result.history)
        differs_from_content(result.image, content_image)


def test_seeded_runs_are_identical(content_image, style_image):
    config = _lite(steps=5, init="noise", seed=7)
    first = stylize(content_image, style_image, config)
    second = stylize(content_image, style_image, config)
    assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
    other = stylize(content_image, style_image, _lite(steps=5, init="noise", seed=8))
    assert not np.array_equal(np.asarray(first.image), np.asarray(other.image))


def test_result_records_history_timing_and_resolved_settings(content_image, style_image):
    result = stylize(content_image, style_image, _lite(steps=4))
    assert [r.step for r in result.history] == [1, 2, 3, 4]
    assert [r.work_done for r in result.history] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert result.config.optimizer == "lbfgs" and result.config.lr == 1.0  # lite's defaults
    assert result.seconds_per_step == pytest.approx(result.wall_time / 4)
    summary = result.summary()
    assert summary["backbone"] == "lite" and summary["steps"] == 4
    assert summary["final_loss"]["total"] == result.history[-1].total


def test_progress_callback_sees_every_step(content_image, style_image):
    seen = []
    stylize(
        content_image, style_image, _lite(steps=3), on_step=lambda r, n: seen.append((r.step, n))
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_should_stop_cancels(content_image, style_image):
    calls = []

    def stop_after_two():
        calls.append(1)
        return len(calls) > 2

    steps = []
    with pytest.raises(Cancelled):
        stylize(content_image, style_image, _lite(steps=10), should_stop=stop_after_two,
                on_step=lambda record, total: steps.append(record.step))  # fmt: skip
    # asked at every step, and the run ends at the first "stop": not at the end of the loop
    assert len(calls) == 3
    assert steps == [1, 2]


def test_spike_guard_lowers_step_and_restores_best_pixels():
    image = torch.zeros(1, 3, 2, 2, requires_grad=True)
    optimizer = torch.optim.Adam([image], lr=0.1)
    guard = SpikeGuard(optimizer, ratio=1.5, decay=0.5)
    best = torch.full_like(image, 0.25)
    assert not guard.observe(10.0, best, image)
    assert not guard.observe(12.0, torch.ones_like(image), image)  # within tolerance
    with torch.no_grad():
        image.fill_(0.9)
    assert guard.observe(30.0, image.detach().clone(), image)  # injected spike
    assert guard.lr == pytest.approx(0.05)
    assert torch.equal(image.detach(), best)
    assert guard.observe(math.nan, image.detach().clone(), image)  # NaN is a spike too
    assert guard.lr == pytest.approx(0.025) and guard.spikes == 2


def test_runaway_learning_rate_triggers_spike_handling(content_image, style_image):
    result = stylize(content_image, style_image, _lite(steps=15, optimizer="adam", lr=50.0))
    assert result.spikes >= 1
    lrs = [record.lr for record in result.history]
    assert lrs[-1] < lrs[0]
    assert any(record.spike for record in result.history)


@pytest.mark.parametrize(
    "bad",
    [
        {"size": 4},
        {"steps": 0},
        {"optimizer": "sgd"},
        {"init": "zeros"},
        {"lr": -1.0},
        {"style_weight": -1.0},
        {"threads": 0},
    ],
)
def test_invalid_config_is_input_error(bad):
    with pytest.raises(InputError):
        StylizeConfig(**bad)


def test_switching_optimizer_picks_its_own_learning_rate():
    assert StylizeConfig(backbone="vgg", optimizer="adam").resolved().lr == 0.02
    assert StylizeConfig(backbone="lite", optimizer="adam").resolved().lr == 0.02
    assert StylizeConfig(backbone="lite").resolved().lr == 1.0
