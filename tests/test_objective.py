"""The objective: named loss terms, reported per step, summing to the total."""

from __future__ import annotations

import pytest
import torch

from nstcli.engine import objective
from nstcli.engine.config import StylizeConfig
from nstcli.engine.stylize import stylize
from nstcli.engine.targets import StyleRegion, Targets


def _targets() -> Targets:
    generator = torch.Generator().manual_seed(0)
    content = {"a": torch.rand(1, 4, 6, 6, generator=generator)}
    gram = torch.rand(1, 4, 4, generator=generator)
    return Targets(content, [StyleRegion({"a": gram})], smoothing=False)


def test_every_term_is_reported_and_the_parts_sum_to_the_total():
    config = StylizeConfig(backbone="lite", tv_weight=2.0, chroma_tv_weight=0.0).resolved()
    image = torch.rand(1, 3, 6, 6)
    features = {"a": torch.rand(1, 4, 6, 6, requires_grad=True)}
    total, parts = objective.evaluate(features, image, _targets(), objective.weighted_terms(config))
    assert list(parts) == [term.name for term in objective.TERMS]
    assert parts["chroma_tv"] == 0.0 and parts["tv"] > 0
    assert float(total.detach()) == pytest.approx(sum(parts.values()), rel=1e-6)
    total.backward()
    assert features["a"].grad is not None


def test_a_term_is_its_function_times_its_weight():
    config = StylizeConfig(backbone="lite", tv_weight=3.0).resolved()
    image = torch.rand(1, 3, 6, 6)
    features = {"a": torch.rand(1, 4, 6, 6)}
    _, parts = objective.evaluate(features, image, _targets(), objective.weighted_terms(config))
    tv = float(objective.tv_term(features, image, _targets()))
    assert parts["tv"] == pytest.approx(3.0 * tv, rel=1e-6)


def test_step_records_carry_the_terms_by_name(content_image, style_image):
    config = StylizeConfig(backbone="lite", size=32, steps=2, multiscale=False)
    record = stylize(content_image, style_image, config).history[-1]
    assert set(record.losses) == {term.name for term in objective.TERMS}
    assert record.total == pytest.approx(sum(record.losses.values()), rel=1e-5)
    assert record.style == record.losses["style"] and record.content == record.losses["content"]
    flat = record.to_dict()
    assert flat["style"] == record.style and flat["total"] == record.total
