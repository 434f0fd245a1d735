"""Getting a run ready: settings resolved once, random-init weights seeded."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

from nstcli.cli.app import app
from nstcli.engine.config import StylizeConfig
from nstcli.engine.job import prepare


def test_a_cli_run_resolves_its_settings_once(content_path, style_path, tmp_path, monkeypatch):
    real = StylizeConfig.resolved
    calls: list[StylizeConfig] = []

    def counted(self: StylizeConfig) -> StylizeConfig:
        calls.append(self)
        return real(self)

    monkeypatch.setattr(StylizeConfig, "resolved", counted)
    args = [content_path, style_path, "--backbone", "lite", "--size", "32", "--steps", "2"]
    result = CliRunner().invoke(app, ["stylize", *map(str, args), "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1


def test_a_resolved_config_resolves_to_itself():
    resolved = StylizeConfig(backbone="lite").resolved()
    assert resolved.steps is not None and resolved.resolved() is resolved


def test_random_init_weights_follow_the_seed(content_image, style_image):
    def first_weights(seed: int) -> torch.Tensor:
        config = StylizeConfig(backbone="lite", size=32, pretrained=False, seed=seed)
        job = prepare(content_image, style_image, config)
        return next(job.backbone.extractor.parameters()).detach().clone()

    torch.manual_seed(12345)  # whatever state came before, prepare seeds first
    first = first_weights(3)
    assert torch.equal(first, first_weights(3))
    assert not torch.equal(first, first_weights(4))
