"""One progress-bar wrapper: tqdm on a terminal, nothing otherwise.

Bars are off when standard error is not a TTY (CI, logs, pipes) or when the environment
variable ``FTSDK_NO_PROGRESS`` is set to anything but ``""``/``0``/``false``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm.auto import tqdm

__all__ = ["progress_bar", "progress_enabled"]


def progress_enabled() -> bool:
    """Whether progress bars are shown in this process."""
    if os.environ.get("FTSDK_NO_PROGRESS", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    return sys.stderr.isatty()


def progress_bar(
    *,
    desc: str,
    total: float | None = None,
    enabled: bool | None = None,
    unit: str = "step",
    **kwargs: Any,
) -> tqdm[Any]:
    """A tqdm bar, disabled (all its methods no-ops) unless progress is enabled.

    :param enabled: force bars on or off; ``None`` follows :func:`progress_enabled`.
    """
    on = progress_enabled() if enabled is None else enabled
    return tqdm(desc=desc, total=total, unit=unit, disable=not on, leave=True, **kwargs)
