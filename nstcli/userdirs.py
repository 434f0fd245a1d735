"""Per-user folders, from `platformdirs`: right on macOS and Windows, honours `XDG_*`.

One place for them, so the bot's data and the training caches land where each platform
expects (`~/Library/Application Support/nst` on macOS, `$XDG_DATA_HOME/nst` on Linux).
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP = "nst"


def data_dir(*parts: str) -> Path:
    """A folder for data that must survive restarts (the bot's job store and queue)."""
    return platformdirs.user_data_path(APP, appauthor=False).joinpath(*parts)


def cache_dir(*parts: str) -> Path:
    """A folder for data that can be rebuilt (training checkpoints)."""
    return platformdirs.user_cache_path(APP, appauthor=False).joinpath(*parts)
