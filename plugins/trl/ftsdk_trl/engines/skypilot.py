"""The TRL runner on a SkyPilot cluster (work in progress: being written this session)."""

from __future__ import annotations

from typing import Any

from ftsdk.jobdir import JobDir
from ftsdk.provider import ProviderOptions
from ftsdk_trl.engines import Engine

__all__ = ["SkyPilotEngine", "SkyPilotOptions"]


class SkyPilotOptions(ProviderOptions):
    """Settings of the skypilot engine (``provider_options["skypilot"]``)."""


class SkyPilotEngine(Engine):
    """The runner on a SkyPilot cluster."""

    name = "skypilot"
    label = "a SkyPilot cluster"
    extra = "skypilot"

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
