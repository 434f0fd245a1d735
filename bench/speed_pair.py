"""What the speed benches share: their one photo/painting pair and how they write results.

Every speed figure in issue 22 is measured on golden_gate x starry night; the benches load it
here, and write their rows as JSON plus a markdown table beside it, the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

SHARED_IMAGES = Path(__file__).resolve().parents[1] / ".." / "shared" / "images"


def load_speed_pair(images: Path, bench: str) -> tuple[Image.Image, Image.Image] | None:
    """golden_gate and starry night as RGB, or None (said on stdout) without ../shared."""
    content_path = images / "content" / "golden_gate.jpg"
    if not content_path.exists():
        print(f"{bench}: {content_path} not found, skipped")
        return None
    content = Image.open(content_path).convert("RGB")
    style = Image.open(images / "style" / "starry_night.jpg").convert("RGB")
    return content, style


def write_rows(out: Path, stem: str, rows: list[dict], table: list[str]) -> None:
    """`stem`.json (the rows) and `stem`.md (the table's lines) into `out`; the table printed."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(rows, indent=2))
    (out / f"{stem}.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
