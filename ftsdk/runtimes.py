"""Runtime venvs: a tool whose pins cannot share ftsdk's venv gets a venv of its own,
built on demand and shared by every caller (the pipx / pre-commit pattern).

A runtime lives in ``<root>/venv-<key>``, where ``<key>`` hashes the pins, the
constraints, the removals and the Python version: changing any of them builds a new venv
beside the old one. The build

1. takes an exclusive file lock (``venv-<key>.lock``; a second process waits for it),
2. removes a half-built folder left by an interrupted build (no completion marker),
3. runs pip only (never uv), with ``-c constraints`` on every call so torch stays the
   pinned build: ``pip install -U pip``, then each pin in order,
4. uninstalls what the runtime must not have (packages pulled in that break it),
5. health-checks it by running a line of Python in it, and
6. writes the completion marker last. A build that fails removes its folder.

An interpreter the user names (``python=...``, usually from an environment variable) is
used as it is instead: nothing is built. AutoTrain (``ftsdk_autotrain.runtime``) and the
serving engines (:mod:`ftsdk.serving.engines`) are runtimes.
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

__all__ = ["MARKER", "Progress", "Runtime", "RuntimeBuildError", "say_on_stderr"]

MARKER = ".ftsdk-complete"
STEP_TIMEOUT_S = 3600.0

Progress = Callable[[str], None]


class RuntimeBuildError(FtsdkError):
    """A runtime venv could not be built or found (not retried: a build is minutes)."""

    def __init__(self, message: str, *, provider: str | None = None, code: str = "runtime") -> None:
        super().__init__(message, provider=provider, code=code)


def say_on_stderr(prefix: str) -> Progress:
    """A :data:`Progress` that prints ``prefix: message`` lines on stderr."""

    def say(message: str) -> None:
        print(f"{prefix}: {message}", file=sys.stderr, flush=True)

    return say


class Runtime:
    """One runtime venv (or an existing interpreter) and how to build it.

    :param root: the folder its venvs live in (``<root>/venv-<key>``).
    :param label: what it is called in messages (``"the AutoTrain runtime"``).
    :param env_var: the variable that names an existing interpreter instead, for messages.
    :param error: makes the error raised when a build fails (a plugin's own subclass).
    """

    def __init__(
        self,
        root: Path,
        *,
        pins: Sequence[str],
        constraints: str,
        health_check: str,
        label: str,
        env_var: str,
        remove: Sequence[str] = (),
        base_python: str = sys.executable,
        python: str | None = None,
        error: Callable[[str], FtsdkError] = RuntimeBuildError,
        size_hint: str = "takes minutes and a few GB",
    ) -> None:
        self.pins = tuple(pins)
        self.constraints = constraints
        self.remove = tuple(remove)
        self.health_check = health_check
        self.label = label
        self.env_var = env_var
        self.error = error
        self.size_hint = size_hint
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
        """The interpreter the runtime's programs run with."""
        if self.fixed_python is not None:
            return self.fixed_python
        return self.path / "bin" / "python"

    @property
    def marker(self) -> Path:
        """The file written last by a build that succeeded."""
        return self.path / MARKER

    @property
    def lock_file(self) -> Path:
        """The file whose lock one build at a time holds."""
        return self.root / f"venv-{self.key}.lock"

    def is_ready(self) -> bool:
        """Whether the runtime can be used without building (the marker is written last)."""
        if self.fixed_python is not None:
            return self.fixed_python.is_file()
        return self.marker.is_file() and self.python.is_file()

    def ensure(self, progress: Progress | None = None) -> Path:
        """The runtime's interpreter, built first when it is not there (idempotent).

        :raises FtsdkError: (made by ``error``) the build failed (its folder is removed)
            or the interpreter the user named does not exist.
        """
        say = progress or (lambda _message: None)
        if self.fixed_python is not None:
            if not self.fixed_python.is_file():
                raise self.error(f"{self.env_var}={self.fixed_python} is not an interpreter")
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

    def pip(self) -> list[str]:
        """The start of a pip command in the runtime."""
        return [str(self.python), "-m", "pip", "--disable-pip-version-check"]

    def steps(self) -> list[tuple[str, list[str]]]:
        """The build's commands after ``python -m venv``: (what, argv)."""
        constraints = str(self.path / "constraints.txt")
        pip = self.pip()
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
        steps.append(("checking the runtime", [str(self.python), "-c", self.health_check]))
        return steps

    def _build(self, say: Progress) -> None:
        if self.path.exists():
            say(f"removing a half-built runtime left by an interrupted build: {self.path}")
            shutil.rmtree(self.path)
        started = time.monotonic()
        say(
            f"building {self.label} in {self.path} (pip; {self.size_hint}, once; "
            f"set {self.env_var} to use an existing interpreter instead)"
        )
        try:
            self._run(say, "creating the venv", [self.base_python, "-m", "venv", str(self.path)])
            (self.path / "constraints.txt").write_text(self.constraints, encoding="utf-8")
            for what, argv in self.steps():
                self._run(say, what, argv)
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
        say(f"{self.label} ready in {time.monotonic() - started:.0f} s: {self.python}")

    def _run(self, say: Progress, what: str, argv: list[str]) -> None:
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
                cwd=self.path if self.path.is_dir() else None,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise self.error(f"building {self.label} failed while {what}: {err}") from err
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise self.error(
                f"building {self.label} failed while {what} (exit {done.returncode}):\n{tail}"
            )
