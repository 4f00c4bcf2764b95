"""Shared fixtures: a provider implemented in memory, the way a plugin author would write one."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr

import ftsdk
from ftsdk import (
    Capabilities,
    FileRef,
    JobEvent,
    JobState,
    JobStatus,
    Operation,
    Provider,
    ProviderOptions,
    ProviderRegistry,
    TrainingRequest,
)
from ftsdk.credentials import resolve_secret
from ftsdk.errors import FtsdkError
from ftsdk.models import ChatParams, ChatResponse, ModelInfo, Usage


class MemoryOptions(ProviderOptions):
    region: str = "local"
    priority: int = 0


class MemoryProvider(Provider):
    """Trains nothing, but walks each job through a scripted list of statuses.

    ``script``: the statuses successive ``get_job`` calls report for a new job.
    ``failures``: errors the next calls raise, one per call, before answering.
    """

    name = "memory"
    display_name = "In-memory test provider"
    capabilities = Capabilities(
        methods=frozenset({"sft"}),
        data_formats=frozenset({ftsdk.DataFormat.CHAT}),
        hyperparameters={"sft": frozenset({"epochs", "batch_size"})},
        operations=frozenset(
            {
                Operation.TRAIN,
                Operation.UPLOAD,
                Operation.LIST_JOBS,
                Operation.CANCEL,
                Operation.EVENTS,
                Operation.CHAT,
            }
        ),
    )
    Options = MemoryOptions
    credential_env_vars = ("MEMORY_API_KEY",)

    script: ClassVar[list[tuple[JobStatus, str]]] = [
        (JobStatus.VALIDATING, "validating_files"),
        (JobStatus.QUEUED, "queued"),
        (JobStatus.RUNNING, "running"),
        (JobStatus.SUCCEEDED, "succeeded"),
    ]

    def __init__(self, *, api_key: str | SecretStr | None = None) -> None:
        self.api_key = resolve_secret(
            api_key, ["MEMORY_API_KEY"], provider="memory", argument="api_key"
        )
        self.calls: list[str] = []
        self.failures: list[FtsdkError] = []
        self.files: dict[str, FileRef] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def _maybe_fail(self, call: str) -> None:
        self.calls.append(call)
        if self.failures:
            raise self.failures.pop(0)

    def upload_file(self, path: Path, *, purpose: str, content_hash: str) -> FileRef:
        self._maybe_fail("upload_file")
        for ref in self.files.values():
            if ref.content_hash == content_hash:
                return ref
        ref = FileRef(
            id=f"file-{next(self._ids)}",
            provider=self.name,
            filename=path.name,
            bytes=path.stat().st_size,
            content_hash=content_hash,
            status="processed",
        )
        self.files[ref.id] = ref
        return ref

    def create_job(self, request: TrainingRequest) -> JobState:
        for job in self.jobs.values():  # idempotent on the key, as the contract asks
            if job["key"] == request.idempotency_key:
                return self._state(job)
        self._maybe_fail("create_job")
        job_id = f"job-{next(self._ids)}"
        self.jobs[job_id] = {
            "id": job_id,
            "key": request.idempotency_key,
            "polls": 0,
            "request": request,
            "cancelled": False,
        }
        return self._state(self.jobs[job_id])

    def _state(self, job: Mapping[str, Any]) -> JobState:
        status, raw = self.script[min(job["polls"], len(self.script) - 1)]
        if job["cancelled"]:
            status, raw = JobStatus.CANCELLED, "cancelled"
        error = None
        if status == JobStatus.FAILED:
            error = ftsdk.JobError(
                message="training file has 3 examples; needs 10",
                code="invalid_training_file",
                param="training_file",
            )
        spec = job["request"].spec
        return JobState(
            id=job["id"],
            provider=self.name,
            status=status,
            raw_status=raw,
            base_model=spec.base_model,
            method="sft",
            step=min(job["polls"] * 10, 30),
            total_steps=30,
            error=error,
            result_model=f"{spec.base_model}:ft-{job['id']}"
            if status == JobStatus.SUCCEEDED
            else None,
        )

    def get_job(self, job_id: str) -> JobState:
        self._maybe_fail("get_job")
        if job_id not in self.jobs:
            raise ftsdk.errors.NotFound(f"no job {job_id}", provider=self.name, status_code=404)
        job = self.jobs[job_id]
        job["polls"] += 1
        return self._state(job)

    def list_jobs(self, *, limit: int) -> list[JobState]:
        return [self._state(job) for job in reversed(self.jobs.values())][:limit]

    def cancel_job(self, job_id: str) -> JobState:
        self.jobs[job_id]["cancelled"] = True
        return self._state(self.jobs[job_id])

    def list_events(self, job_id: str, *, after: str | None) -> list[JobEvent]:
        self._maybe_fail("list_events")
        polls = self.jobs[job_id]["polls"]
        events = [
            JobEvent(
                id=f"ev-{i}",
                created_at=datetime(2026, 1, 1, 0, 0, i, tzinfo=UTC),
                message=f"step {i}",
                type="metrics",
                step=i,
                metrics={"train_loss": 2.0 / (i + 1)},
            )
            for i in range(polls)
        ]
        ids = [e.id for e in events]
        return events[ids.index(after) + 1 :] if after in ids else events

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        self._maybe_fail("chat")
        return ChatResponse(
            content=f"{model.id} heard: {messages[-1]['content']}",
            model=model.id,
            usage=Usage(prompt_tokens=3, completion_tokens=4),
        )


SECRET = "mem-secret-key-0123456789"
ROOT = Path(__file__).resolve().parents[1]
OPENAI_SPEC = ROOT.parent / "shared" / "specs" / "openai-openapi.yaml"


def openai_schema_errors(name: str) -> Callable[[Any], list[str]]:
    """A check of a JSON object against the schema ``name`` of OpenAI's published API
    description (``../shared/specs``): what is wrong with it, ``[]`` when nothing."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from extract_openai_subset import load_spec
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    spec, _ = load_spec(OPENAI_SPEC)
    return schema_errors(spec, name)


def schema_errors(spec: dict[str, Any], name: str) -> Callable[[Any], list[str]]:
    """A check of a JSON object against ``components/schemas/name`` of the OpenAPI 3
    description ``spec``, with jsonschema: what is wrong with it, ``[]`` when nothing."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from ftsdk_emulator.openapi import normalize_schema

    schemas = {n: normalize_schema(s) for n, s in spec["components"]["schemas"].items()}
    uri = "urn:openapi"
    registry: Registry[Any] = Registry().with_resource(
        uri,
        Resource.from_contents(
            {"components": {"schemas": schemas}}, default_specification=DRAFT202012
        ),
    )
    validator = Draft202012Validator(
        {"$ref": f"{uri}#/components/schemas/{name}"}, registry=registry
    )
    return lambda body: [e.message for e in validator.iter_errors(body)]


@pytest.fixture
def registry() -> ProviderRegistry:
    reg = ProviderRegistry()
    reg.register(MemoryProvider, distribution="tests")
    return reg


@pytest.fixture
def client(registry: ProviderRegistry) -> ftsdk.Client:
    policy = ftsdk.RetryPolicy(max_attempts=4, initial_wait=0.0, jitter=0.0)
    return ftsdk.client("memory", registry=registry, api_key=SECRET, retry=policy)


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, '
        '{"role": "assistant", "content": "hello"}]}\n'
    )
    return path


@pytest.fixture
def secret() -> str:
    """The API key the ``client`` fixture was built with."""
    return SECRET
