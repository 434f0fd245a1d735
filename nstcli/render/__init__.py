"""Pictures made from engine results: comparison contact sheets, loss charts, heat maps,
and the gallery's numbered sheet.

Presentation only: these modules read `nstcli.engine` result objects and never run models.
The comparison sheet's names load on first use (PEP 562), so drawing the gallery sheet
(`nstcli.render.gallery`) does not import torch through `nstcli.engine.compare`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nstcli.render.sheet import PanelBox, RenderedSheet, render_sheet

__all__ = ["PanelBox", "RenderedSheet", "render_sheet"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("nstcli.render.sheet"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
