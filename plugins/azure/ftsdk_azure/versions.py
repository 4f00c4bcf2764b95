"""What each Azure OpenAI data-plane API version defines, read from its published description.

One small record per version decides every request the provider makes: which fields a job
create carries, which methods train, whether lists page, whether a file upload needs
``expires_after``. Nothing is sent that the version does not define, and nothing is trusted
that it does not promise (a filter, a ``has_more``, an ``id``).

Sources, copied into the repository under ``specs/azure/`` (see ``specs/SOURCES.md``):

* ``2024-10-21``: ``dataplane-authoring-2024-10-21/azureopenai.json`` (Swagger 2.0):
  ``FineTuningJobCreation`` has ``model``, ``training_file``, ``validation_file``,
  ``hyperparameters``, ``suffix``, ``seed`` and nothing else (no ``method``, no
  ``metadata``); ``FineTuningJob`` has no ``method`` and no ``metadata``; ``GET /files``
  takes only ``purpose`` and its ``FileList`` has no ``has_more``; ``id`` is not required
  on a job, an event or a checkpoint; ``/uploads`` exists; no pause or resume.
* ``v1``: ``dataplane-v1/azure-v1-v1-generated.yaml`` (OpenAPI 3.0):
  ``OpenAI.CreateFineTuningJobRequest`` adds ``method`` (supervised, dpo, reinforcement),
  ``metadata`` and ``integrations``; ``GET /fine_tuning/jobs`` takes ``after`` and ``limit``
  only (no ``metadata[...]`` filter); ``GET /files`` takes ``purpose`` only (no ``after``);
  ``POST /files`` requires ``expires_after`` (``seconds`` and ``anchor: created_at``);
  no ``/uploads``; pause and resume exist.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DATED", "V1", "ApiVersion", "describe"]


@dataclass(frozen=True)
class ApiVersion:
    """What one data-plane API version defines (only what ftsdk uses of it)."""

    name: str
    job_fields: frozenset[str]
    """Fields a job create may carry (``FineTuningJobCreation``, ``CreateFineTuningJobRequest``)."""
    methods: frozenset[str]
    """ftsdk's method names this version can ask for."""
    job_metadata: bool
    """Whether a job carries ``metadata`` (sent on create, read back)."""
    job_method: bool
    """Whether a job read back says its ``method``."""
    pause: bool
    """Whether ``/pause`` and ``/resume`` exist."""
    uploads: bool
    """Whether the multipart ``/uploads`` API exists."""
    file_expiry: bool
    """Whether ``POST /files`` requires ``expires_after``."""
    stream_usage: bool
    """Whether chat takes ``stream_options: {include_usage}``."""
    training_type: bool
    """Whether a job create carries Azure's ``trainingType`` (see ``docs/providers/azure.md``)."""

    @property
    def is_v1(self) -> bool:
        """The v1 API (``/openai/v1``, no ``api-version``) rather than a dated one."""
        return self.name == "v1"


DATED = ApiVersion(
    name="2024-10-21",
    job_fields=frozenset(
        {"model", "training_file", "validation_file", "hyperparameters", "suffix", "seed"}
    ),
    methods=frozenset({"sft"}),
    job_metadata=False,
    job_method=False,
    pause=False,
    uploads=True,
    file_expiry=False,
    stream_usage=False,  # inference 2024-10-21's chat request has no stream_options
    training_type=False,
)
V1 = ApiVersion(
    name="v1",
    job_fields=frozenset(
        {
            "model",
            "training_file",
            "validation_file",
            "hyperparameters",
            "suffix",
            "seed",
            "method",
            "metadata",
            "integrations",
            "trainingType",
        }
    ),
    methods=frozenset({"sft", "dpo", "reinforcement"}),
    job_metadata=True,
    job_method=True,
    pause=True,
    uploads=False,
    file_expiry=True,
    stream_usage=True,
    training_type=True,
)


def describe(api_version: str) -> ApiVersion:
    """The description for ``api_version``: ``"v1"``, or a dated version.

    A dated version other than 2024-10-21 gets 2024-10-21's description, the newest
    stable one copied here: it sends only what every dated version since defines.
    """
    if api_version == "v1":
        return V1
    if api_version == DATED.name:
        return DATED
    return ApiVersion(**{**DATED.__dict__, "name": api_version})
