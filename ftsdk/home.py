"""Where ftsdk keeps its files: ``FTSDK_HOME``, else ``~/.cache/ftsdk``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ftsdk_home"]


def ftsdk_home(explicit: str | Path | None = None) -> Path:
    """The ftsdk home: ``explicit`` if given, else ``FTSDK_HOME``, else ``~/.cache/ftsdk``."""
    chosen = explicit or os.environ.get("FTSDK_HOME") or "~/.cache/ftsdk"
    return Path(chosen).expanduser()
