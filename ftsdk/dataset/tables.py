"""The tables ftsdk keeps as data beside its code, in this package: inference prices
(``inference.json``), GPUs (``gpus.json``), the code points toktok-rs reads differently
(``toktok_guard.json``). Training limits and prices are each provider's own
(:mod:`ftsdk.datarules`)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["read_table"]


@cache
def read_table(name: str) -> dict[str, Any]:
    """The JSON file ``name`` of this package, read once per process."""
    text = resources.files("ftsdk.dataset").joinpath(name).read_text(encoding="utf-8")
    table: dict[str, Any] = json.loads(text)
    return table
