"""Stored defaults: the provider to use when none is named, and provider settings, in one
JSON file under the user's config directory (``ftsdk config set provider openai``).

Where a value comes from, strongest first: the ``-p``/``--set`` flag (or the argument),
then the environment (``FTSDK_PROVIDER``), then this file. Secrets are not stored unless
asked for explicitly, and then the file is readable by its owner only (0600).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from ftsdk.errors import ConfigurationError

__all__ = [
    "check_key",
    "config_dir",
    "config_path",
    "default_provider",
    "is_secret",
    "load_config",
    "provider_settings",
    "save_config",
]

_SECRET = re.compile(r"key|secret|token|password|credential", re.I)
_KEY = re.compile(r"provider|[a-z][a-z0-9-]*\.[A-Za-z_][A-Za-z0-9_]*")


def config_dir() -> Path:
    """``FTSDK_CONFIG_DIR``, else the platform's config folder for ftsdk (as platformdirs
    places it: ``$XDG_CONFIG_HOME/ftsdk`` or ``~/.config/ftsdk`` on Linux,
    ``~/Library/Application Support/ftsdk`` on macOS, ``%APPDATA%\\ftsdk`` on Windows)."""
    explicit = os.environ.get("FTSDK_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "ftsdk"


def config_path() -> Path:
    """The stored settings: ``config.json`` in :func:`config_dir`."""
    return config_dir() / "config.json"


def is_secret(key: str) -> bool:
    """Whether a setting holds a credential (``openai.api_key``, ``azure.client_secret``)."""
    return bool(_SECRET.search(key.rpartition(".")[2]))


def check_key(key: str) -> str:
    """``key`` if it is ``provider`` or ``PROVIDER.SETTING``; else a ConfigurationError."""
    if not _KEY.fullmatch(key):
        raise ConfigurationError(
            f"{key!r} is not a setting: use `provider` (the default provider) or "
            "PROVIDER.SETTING, e.g. azure.endpoint"
        )
    return key


def load_config() -> dict[str, Any]:
    """The stored settings (empty when there is no file)."""
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise ConfigurationError(
            f"{path}: cannot read ftsdk's settings ({err}); fix or delete the file"
        ) from err
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: not a JSON object; fix or delete the file")
    return data


def save_config(data: dict[str, Any]) -> Path:
    """Write the settings; the file is 0600 when it holds a secret (0644 otherwise)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o600 if any(is_secret(key) for key in data) else 0o644
    temporary = path.with_suffix(".tmp")
    # Created with its final mode, so a secret is never readable by others, even briefly.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(dict(sorted(data.items())), file, indent=2)
        file.write("\n")
    os.chmod(temporary, mode)
    temporary.replace(path)
    return path


def default_provider() -> str | None:
    """``FTSDK_PROVIDER``, else the stored ``provider``, else ``None``."""
    chosen = os.environ.get("FTSDK_PROVIDER") or load_config().get("provider")
    return str(chosen) if chosen else None


def provider_settings(provider: str) -> dict[str, Any]:
    """The stored settings of ``provider`` (``azure.endpoint`` gives ``endpoint``)."""
    prefix = f"{provider}."
    return {
        key.removeprefix(prefix): value
        for key, value in load_config().items()
        if key.startswith(prefix)
    }
