"""The AutoTrain runtime: a venv of its own, built on demand, shared by every job.

``autotrain-advanced`` 0.8.36 pins transformers 4.48, trl 0.13 and pydantic 2.10, which
cannot share ftsdk's venv, so it lives in ``<home>/autotrain/venv-<key>`` (the pipx /
pre-commit pattern), where ``<key>`` hashes the pins, the constraints and the Python
version: changing any of them builds a new venv beside the old one. The build

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

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ftsdk.errors import FtsdkError

__all__ = [
    "AUTOTRAIN_VERSION",
    "CONSTRAINTS",
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
MARKER = ".ftsdk-complete"
STEP_TIMEOUT_S = 3600.0

Progress = Callable[[str], None]


class RuntimeBuildError(FtsdkError):
    """The AutoTrain runtime could not be built or found (not retried: a build is minutes)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, provider="autotrain", code="autotrain_runtime")


def _stderr(message: str) -> None:
    print(f"ftsdk-autotrain: {message}", file=sys.stderr, flush=True)


class Runtime:
    """One runtime venv (or an existing interpreter) and how to build it."""

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
        self.pins = tuple(pins)
        self.constraints = constraints
        self.remove = tuple(remove)
        self.health_check = health_check
        self.base_python = base_python
        self.fixed_python = Path(python) if python else None
        self.root = root
        self.path = root / f"venv-{self.key}"

    @property
    def key(self) -> str:
        """Hash of the pins, constraints, removals and Python version (12 hex digits)."""
        blob = json.dumps(
            {
                "pins": self.pins,
                "constraints": self.constraints,
                "remove": self.remove,
                "python": f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}",
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def python(self) -> Path:
        """The interpreter jobs run with."""
        if self.fixed_python is not None:
            return self.fixed_python
        return self.path / "bin" / "python"

    @property
    def marker(self) -> Path:
        return self.path / MARKER

    @property
    def lock_file(self) -> Path:
        return self.root / f"venv-{self.key}.lock"

    def is_ready(self) -> bool:
        """Whether the runtime can be used without building (the marker is written last)."""
        if self.fixed_python is not None:
            return self.fixed_python.is_file()
        return self.marker.is_file() and self.python.is_file()

    def ensure(self, progress: Progress | None = _stderr) -> Path:
        """The runtime's interpreter, built first when it is not there (idempotent).

        :raises RuntimeBuildError: the build failed (its folder is removed) or the
            interpreter named by ``FTSDK_AUTOTRAIN_PYTHON`` does not exist.
        """
        say = progress or (lambda _message: None)
        if self.fixed_python is not None:
            if not self.fixed_python.is_file():
                raise RuntimeBuildError(
                    f"{PYTHON_ENV_VAR}={self.fixed_python} is not an interpreter"
                )
            return self.fixed_python
        if self.is_ready():
            return self.python
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked(say):
            if self.is_ready():  # built by another process while we waited
                return self.python
            self._build(say)
        return self.python

    @contextlib.contextmanager
    def _locked(self, say: Progress) -> Iterator[None]:
        with self.lock_file.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                say(f"waiting for another process building {self.path} ...")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def steps(self) -> list[tuple[str, list[str]]]:
        """The build's commands after ``python -m venv``: (what, argv)."""
        python = str(self.python)
        constraints = str(self.path / "constraints.txt")
        pip = [python, "-m", "pip", "--disable-pip-version-check"]
        steps: list[tuple[str, list[str]]] = [
            ("upgrading pip", [*pip, "install", "-q", "-U", "pip", "-c", constraints])
        ]
        steps += [
            (f"installing {pin}", [*pip, "install", "-q", "-c", constraints, pin])
            for pin in self.pins
        ]
        if self.remove:
            steps.append(
                (
                    f"removing {', '.join(self.remove)}",
                    [*pip, "uninstall", "-q", "-y", *self.remove],
                )
            )
        steps.append(("checking the runtime", [python, "-c", self.health_check]))
        return steps

    def _build(self, say: Progress) -> None:
        if self.path.exists():
            say(f"removing a half-built runtime left by an interrupted build: {self.path}")
            shutil.rmtree(self.path)
        started = time.monotonic()
        say(
            f"building the AutoTrain runtime in {self.path} (pip; takes minutes and ~3 GB, "
            "once; set FTSDK_AUTOTRAIN_PYTHON to use an existing interpreter instead)"
        )
        try:
            _run(say, "creating the venv", [self.base_python, "-m", "venv", str(self.path)])
            (self.path / "constraints.txt").write_text(self.constraints, encoding="utf-8")
            for what, argv in self.steps():
                _run(say, what, argv)
            self.marker.write_text(
                json.dumps(
                    {"pins": self.pins, "seconds": round(time.monotonic() - started, 1)},
                    sort_keys=True,
                )
                + "\n",
                encoding="utf-8",
            )
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        say(f"AutoTrain runtime ready in {time.monotonic() - started:.0f} s: {self.python}")


def _run(say: Progress, what: str, argv: list[str]) -> None:
    say(f"{what} ...")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # ftsdk's own packages must not leak into the runtime
    env.pop("PYTHONHOME", None)
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RuntimeBuildError(
            f"building the AutoTrain runtime failed while {what}: {err}"
        ) from err
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise RuntimeBuildError(
            f"building the AutoTrain runtime failed while {what} (exit {done.returncode}):\n{tail}"
        )


def runtime_for(home: Path, python: str | None = None) -> Runtime:
    """The runtime of the ftsdk home ``home``: ``python``, ``FTSDK_AUTOTRAIN_PYTHON``, or the
    managed venv under ``<home>/autotrain``."""
    return Runtime(home / "autotrain", python=python or os.environ.get(PYTHON_ENV_VAR) or None)
