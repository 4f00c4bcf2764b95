"""Azure's answers read as the specs allow them to be: every field optional that the spec
does not require, Azure's own status words, nulls where OpenAI has values.

Every status word the copied specs list for a job is mapped (``FineTuningState`` of
2024-10-21: created, pending, running, succeeded, cancelled, failed; the v1 job's status:
validating_files, queued, running, succeeded, failed, cancelled; and paused, which the v1
API's pause leads to). A word neither lists is kept raw beside a normalized status read
from its meaning, and is never taken for "running".
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from ftsdk import Checkpoint, JobError, JobEvent, JobState, JobStatus, errors
from ftsdk_openai.paging import item_field
from ftsdk_openai.provider import METRIC_NAMES

__all__ = [
    "FILE_STATES",
    "JOB_STATUSES",
    "checkpoint_of",
    "event_of",
    "field",
    "normalized",
    "state_of",
]

log = logging.getLogger("ftsdk.azure")

JOB_STATUSES: dict[str, JobStatus] = {
    # 2024-10-21 FineTuningState ("created" is listed as "not returned by Azure OpenAI")
    "created": JobStatus.QUEUED,
    "pending": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "succeeded": JobStatus.SUCCEEDED,
    "cancelled": JobStatus.CANCELLED,
    "failed": JobStatus.FAILED,
    # v1 (OpenAI.FineTuningJob.status) and its pause endpoint
    "validating_files": JobStatus.VALIDATING,
    "queued": JobStatus.QUEUED,
    "paused": JobStatus.PAUSED,
}
FILE_STATES = {
    # 2024-10-21 FileState and the v1 AzureOpenAIFile.status: the same seven words
    "uploaded": "waiting",
    "pending": "waiting",
    "running": "waiting",
    "processed": "ready",
    "error": "failed",
    "deleting": "gone",
    "deleted": "gone",
}
"""File status words → what waiting for a file does with them."""
_warned: set[str] = set()


field = item_field
"""``obj.name`` when the answer has it, else ``None``."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _when(value: Any) -> datetime | None:
    seconds = _whole(value)
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def normalized(raw: str) -> JobStatus:
    """The status for Azure's word ``raw``; an unknown word by its meaning, never
    "running" (a job reported running forever would be waited on forever)."""
    known = JOB_STATUSES.get(raw)
    if known is not None:
        return known
    word = raw.lower()
    guess = JobStatus.QUEUED
    for needle, status in (
        ("fail", JobStatus.FAILED),
        ("error", JobStatus.FAILED),
        ("cancel", JobStatus.CANCELLED),
        ("succe", JobStatus.SUCCEEDED),
        ("complete", JobStatus.SUCCEEDED),
        ("paus", JobStatus.PAUSED),
        ("validat", JobStatus.VALIDATING),
    ):
        if needle in word:
            guess = status
            break
    if raw not in _warned:
        _warned.add(raw)
        log.warning(
            "Azure OpenAI reported the job status %r, which its API descriptions do not "
            "list: reported as %s (the raw word is kept in raw_status)",
            raw,
            guess.value,
        )
    return guess


def state_of(
    job: Any,
    *,
    provider: str,
    known_id: str | None = None,
    has_method: bool,
    has_metadata: bool,
    hidden_metadata: frozenset[str] = frozenset(),
) -> JobState:
    """A :class:`JobState` from a job answer of either API version.

    :param known_id: the id asked for, when the answer may leave it out (2024-10-21 does
        not require ``id``).
    :param has_method: the version's job says its ``method``; without it the method is
        unknown (``None``), never guessed as SFT.
    """
    job_id = _text(field(job, "id")) or known_id
    if job_id is None:
        raise errors.ProviderUnavailable(
            "Azure OpenAI answered with a fine-tuning job that has no id (the 2024-10-21 API "
            "does not require one): the job cannot be followed; list your jobs with "
            "client.jobs() to find it",
            provider=provider,
        )
    raw = _text(field(job, "status")) or "unknown"
    error = None
    err = field(job, "error")
    message, code = _text(field(err, "message")), _text(field(err, "code"))
    if err is not None and (message or code):
        error = JobError(message=message or "", code=code, param=_text(field(err, "param")))
    method = None
    if has_method:
        kind = _text(field(field(job, "method"), "type"))
        method = {"supervised": "sft", "dpo": "dpo", "reinforcement": "reinforcement"}.get(
            kind or "", kind
        )
    metadata: dict[str, str] = {}
    found = field(job, "metadata") if has_metadata else None
    if isinstance(found, dict):
        metadata = {
            str(k): str(v) for k, v in found.items() if k not in hidden_metadata and v is not None
        }
    return JobState(
        id=job_id,
        provider=provider,
        status=normalized(raw),
        raw_status=raw,
        base_model=_text(field(job, "model")),
        method=method,
        created_at=_when(field(job, "created_at")),
        finished_at=_when(field(job, "finished_at")),
        estimated_finish=_when(field(job, "estimated_finish")),
        trained_tokens=_whole(field(job, "trained_tokens")),
        error=error,
        result_model=_text(field(job, "fine_tuned_model")),
        metadata=metadata,
    )


def _metrics(data: Any) -> dict[str, float]:
    if not isinstance(data, dict):
        dump = getattr(data, "model_dump", None)
        data = dump() if callable(dump) else {}
    return {
        ours: float(data[theirs])
        for theirs, ours in METRIC_NAMES.items()
        if isinstance(data.get(theirs), (int, float)) and not isinstance(data.get(theirs), bool)
    }


def _stand_in_id(prefix: str, *parts: Any) -> str:
    """A stable id for an item the answer gave without one (not required there)."""
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
    return f"{prefix}{digest}"


def event_of(event: Any) -> JobEvent:
    """A :class:`JobEvent`; an event without ``id`` gets a stable stand-in one."""
    created = _when(field(event, "created_at"))
    message = field(event, "message")
    data = field(event, "data")
    event_id = _text(field(event, "id")) or _stand_in_id(
        "ftsdk-event-", field(event, "created_at"), message, repr(data)
    )
    level = field(event, "level")
    return JobEvent(
        id=event_id,
        created_at=created or datetime.now(UTC),
        level={"warn": "warning", "warning": "warning", "error": "error"}.get(str(level), "info"),
        message=message if isinstance(message, str) else "",
        type="metrics" if field(event, "type") == "metrics" else "message",
        step=_whole(field(data, "step")),
        metrics=_metrics(data),
        total_steps=_whole(field(data, "total_steps")),
    )


def checkpoint_of(checkpoint: Any, job_id: str) -> Checkpoint | None:
    """A :class:`Checkpoint`, or ``None`` for one without the model to chat with."""
    model = _text(field(checkpoint, "fine_tuned_model_checkpoint"))
    step = _whole(field(checkpoint, "step_number"))
    if model is None:
        return None
    return Checkpoint(
        id=_text(field(checkpoint, "id")) or _stand_in_id("ftsdk-checkpoint-", model, step),
        job_id=_text(field(checkpoint, "fine_tuning_job_id")) or job_id,
        step=step or 0,
        model=model,
        metrics=_metrics(field(checkpoint, "metrics")),
        created_at=_when(field(checkpoint, "created_at")),
    )
