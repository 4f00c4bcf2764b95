"""Colour and headers for people, plain lines for programs: colour only on a terminal with
``NO_COLOR`` unset (https://no-color.org), table headers only on a terminal."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

__all__ = ["colour", "paint", "status_colour", "to_terminal"]


def to_terminal(err: bool = False) -> bool:
    """Whether standard output (or error) is a terminal."""
    stream = sys.stderr if err else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def colour(err: bool = False) -> bool:
    """Whether to colour output: a terminal, and ``NO_COLOR`` unset or empty."""
    return not os.environ.get("NO_COLOR") and to_terminal(err)


def paint(text: str, *, err: bool = False, **style: Any) -> str:
    """``text`` styled with :func:`click.style` when :func:`colour` says so."""
    return click.style(text, **style) if colour(err) else text


def status_colour(status: str) -> str | None:
    """The colour of a job status: green when it succeeded, red when it failed..."""
    return {
        "succeeded": "green",
        "failed": "red",
        "cancelled": "red",
        "running": "yellow",
        "paused": "magenta",
    }.get(status)
