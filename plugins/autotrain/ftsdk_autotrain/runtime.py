"""The AutoTrain runtime: a venv of its own, built on demand, shared by every job.

``autotrain-advanced`` 0.8.36 pins transformers 4.48, trl 0.13 and pydantic 2.10, which
cannot share ftsdk's venv, so it lives in ``<home>/autotrain/venv-<key>`` (the pipx /
pre-commit pattern), where ``<key>`` hashes the pins, the constraints and the Python
version: changing any of them builds a new venv beside the old one. It is a
:class:`ftsdk.runtimes.Runtime`, whose build

1. takes an exclusive file lock (``venv-<key>.lock``; a second process waits for it),
2. removes a half-built folder left by an interrupted build (no completion marker),
3. runs pip only (never uv), with ``-c constraints`` on every call so torch stays the
   pinned build: ``pip install -U pip``, ``torch``, then ``autotrain-advanced``,
4. uninstalls torchvision and timm (a CUDA torchvision pulled in by timm breaks
   ``import peft`` and ``accelerate launch``; AutoTrain never imports either),
5. health-checks it by importing autotrain, peft and trl in it, and
6. writes the completion marker last. A build that fails removes its folder.

``FTSDK_AUTOTRAIN_PYTHON`` names an existing interpreter with AutoTrain instead (no build).
Measured here: ~2.5 min and ~3 GB, most of it torch and its dependencies.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ftsdk import runtimes
from ftsdk.errors import FtsdkError
from ftsdk.runtimes import MARKER

__all__ = [
    "AUTOTRAIN_VERSION",
    "CONSTRAINTS",
    "MARKER",
    "PINS",
    "PYTHON_ENV_VAR",
    "Runtime",
    "RuntimeBuildError",
    "runtime_for",
]

AUTOTRAIN_VERSION = "0.8.36"
PINS: tuple[str, ...] = ("torch==2.13.0", f"autotrain-advanced=={AUTOTRAIN_VERSION}")
"""What the runtime installs, in this order (torch first, as the project's set-up does)."""
CONSTRAINTS = "torch==2.13.0\n"
"""Applied to every pip call: torch stays the CPU build this machine's pip serves from
disk (any other version downloads a multi-GB CUDA build). Same pin as the repository's
``constraints.txt``."""
REMOVE: tuple[str, ...] = ("torchvision", "timm")
"""Uninstalled after the install (see the module docstring)."""
HEALTH_CHECK = "import autotrain, peft, trl; print(autotrain.__version__)"
PYTHON_ENV_VAR = "FTSDK_AUTOTRAIN_PYTHON"


class RuntimeBuildError(runtimes.RuntimeBuildError):
    """The AutoTrain runtime could not be built or found (not retried: a build is minutes)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, provider="autotrain", code="autotrain_runtime")


def _stderr(message: str) -> None:
    print(f"ftsdk-autotrain: {message}", file=sys.stderr, flush=True)


def _error(message: str) -> FtsdkError:
    return RuntimeBuildError(message)


class Runtime(runtimes.Runtime):
    """The AutoTrain runtime venv (or an existing interpreter) and how to build it."""

    def __init__(
        self,
        root: Path,
        *,
        pins: Sequence[str] = PINS,
        constraints: str = CONSTRAINTS,
        remove: Sequence[str] = REMOVE,
        health_check: str = HEALTH_CHECK,
        base_python: str = sys.executable,
        python: str | None = None,
    ) -> None:
        super().__init__(
            root,
            pins=pins,
            constraints=constraints,
            remove=remove,
            health_check=health_check,
            base_python=base_python,
            python=python,
            label="the AutoTrain runtime",
            env_var=PYTHON_ENV_VAR,
            error=_error,
            size_hint="takes minutes and ~3 GB",
        )

    def ensure(self, progress: runtimes.Progress | None = _stderr) -> Path:
        """The runtime's interpreter, built first when it is not there (idempotent).

        :raises RuntimeBuildError: the build failed (its folder is removed) or the
            interpreter named by ``FTSDK_AUTOTRAIN_PYTHON`` does not exist.
        """
        return super().ensure(progress)


def runtime_for(home: Path, python: str | None = None) -> Runtime:
    """The runtime of the ftsdk home ``home``: ``python``, ``FTSDK_AUTOTRAIN_PYTHON``, or the
    managed venv under ``<home>/autotrain``."""
    return Runtime(home / "autotrain", python=python or os.environ.get(PYTHON_ENV_VAR) or None)
