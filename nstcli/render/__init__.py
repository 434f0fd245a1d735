"""Pictures made from engine results: comparison contact sheets, loss charts, heat maps.

Presentation only: these modules read `nstcli.engine` result objects and never run models.
"""

from nstcli.render.sheet import PanelBox, RenderedSheet, render_sheet

__all__ = ["PanelBox", "RenderedSheet", "render_sheet"]
