"""Where ftsdk keeps its files: ``FTSDK_HOME``, else ``~/.cache/ftsdk``."""

from __future__ import annotations

import os
from pathlib import Path

from ftsdk.errors import ConfigurationError

__all__ = ["ftsdk_home", "make_folder"]


def ftsdk_home(explicit: str | Path | None = None) -> Path:
    """The ftsdk home: ``explicit`` if given, else ``FTSDK_HOME``, else ``~/.cache/ftsdk``."""
    chosen = explicit or os.environ.get("FTSDK_HOME") or "~/.cache/ftsdk"
    return Path(chosen).expanduser()


def make_folder(path: Path, *, exist_ok: bool = True) -> Path:
    """Create ``path`` (and its parents) under the ftsdk home, or say why it cannot be.

    :raises ftsdk.errors.ConfigurationError: the home (or a folder in it) is read-only, is
        a file, or cannot be created; the message names the path and ``FTSDK_HOME``.
    :raises FileExistsError: ``path`` exists and ``exist_ok`` is false (a name taken).
    """
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except FileExistsError:
        if not exist_ok and path.is_dir():
            raise
        raise ConfigurationError(_unusable(path, "a file is in the way")) from None
    except (PermissionError, NotADirectoryError, OSError) as err:
        raise ConfigurationError(_unusable(path, err.strerror or str(err))) from err
    return path


def _unusable(path: Path, why: str) -> str:
    return (
        f"cannot create the folder {path} in the ftsdk home ({why}); make it writable, or "
        "point FTSDK_HOME (or the provider's home=...) at a writable folder"
    )
