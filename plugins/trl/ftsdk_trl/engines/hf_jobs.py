"""The TRL runner on Hugging Face Jobs (work in progress: being written this session)."""

from __future__ import annotations

from typing import Any

from ftsdk.jobdir import JobDir
from ftsdk.provider import ProviderOptions
from ftsdk_trl.engines import Engine

__all__ = ["HFJobsEngine", "HFJobsOptions"]


class HFJobsOptions(ProviderOptions):
    """Settings of the hf_jobs engine (``provider_options["hf_jobs"]``)."""


class HFJobsEngine(Engine):
    """The runner on Hugging Face Jobs."""

    name = "hf_jobs"
    label = "Hugging Face Jobs"
    extra = "hf-jobs"

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
