"""The TRL runner on a Ray cluster (work in progress: being written this session)."""

from __future__ import annotations

from typing import Any

from ftsdk.jobdir import JobDir
from ftsdk.provider import ProviderOptions
from ftsdk_trl.engines import Engine

__all__ = ["RayEngine", "RayOptions"]


class RayOptions(ProviderOptions):
    """Settings of the ray engine (``provider_options["ray"]``)."""


class RayEngine(Engine):
    """The runner on a Ray cluster."""

    name = "ray"
    label = "a Ray cluster"
    extra = "ray"

    def command(
        self, job: JobDir, options: dict[str, Any], *, resume: bool
    ) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def launch(self, job: JobDir, command: list[str], env: dict[str, str], *, resume: bool) -> None:
        raise NotImplementedError

    def read_status(self, job: JobDir, status: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def stop(self, job: JobDir) -> None:
        raise NotImplementedError
