"""Providers for testing the behaviour kit itself: an honest in-memory one, and copies each
broken in one way a real plugin could be. ``test_conformance_kit.py`` runs this module
with pytest (its name keeps it out of the normal run) and reads which tests failed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

import ftsdk
from ftsdk import Capabilities, ChatChunk, ChatParams, ChatResponse, JobStatus, ModelInfo
from ftsdk.errors import InvalidRequest, NotFound, error_for_status
from ftsdk.jobs import JobEvent, JobState
from ftsdk.provider import TrainingRequest
from ftsdk.testing.behaviour import ERRORS, Harness, ProviderBehaviour
from ftsdk.testing.data import date_to_words_examples, write_jsonl

SECRET = "mem-secret-7"
STATUSES = {  # the memory service's documented words
    "accepted": JobStatus.QUEUED,
    "working": JobStatus.RUNNING,
    "done": JobStatus.SUCCEEDED,
    "stopped": JobStatus.CANCELLED,
}
START = datetime(2026, 1, 1, tzinfo=UTC)
log = logging.getLogger("memory")


class MemoryProvider(ftsdk.Provider):
    """Jobs that move one raw status per ``tick`` and log an event each time."""

    name = "memory"
    capabilities = Capabilities(
        methods=frozenset({"sft"}),
        operations=frozenset(
            {
                ftsdk.Operation.TRAIN,
                ftsdk.Operation.LIST_JOBS,
                ftsdk.Operation.CANCEL,
                ftsdk.Operation.EVENTS,
                ftsdk.Operation.CHAT,
                ftsdk.Operation.STREAM,
            }
        ),
    )
    statuses = STATUSES

    def __init__(self) -> None:
        self.api_key = SecretStr(SECRET)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.fail_with: int | None = None

    def _service(self) -> None:
        """What every request goes through: a scripted failure, once."""
        status, self.fail_with = self.fail_with, None
        if status is not None:
            raise error_for_status(status, "the memory service refused", provider=self.name)

    def tick(self) -> None:
        for job in self.jobs.values():
            following = {"accepted": "working", "working": "done"}.get(job["raw"])
            if following:
                self._event(job, f"now {following}")
                job["raw"] = following

    def _event(self, job: dict[str, Any], message: str) -> None:
        n = len(job["events"])
        job["events"].append(
            JobEvent(id=f"ev-{n:04}", created_at=START + timedelta(seconds=n), message=message)
        )

    def _state(self, job_id: str) -> JobState:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}", provider=self.name)
        raw = job["raw"]
        return JobState(id=job_id, provider=self.name, status=self.statuses[raw], raw_status=raw)

    def create_job(self, request: TrainingRequest) -> JobState:
        self._service()
        for job_id, job in self.jobs.items():
            if job["key"] == request.idempotency_key:
                return self._state(job_id)
        job_id = f"mem-{len(self.jobs)}"
        self.jobs[job_id] = {"raw": "accepted", "events": [], "key": request.idempotency_key}
        self._event(self.jobs[job_id], "created")
        return self._state(job_id)

    def get_job(self, job_id: str) -> JobState:
        self._service()
        return self._state(job_id)

    def list_jobs(self, *, limit: int) -> list[JobState]:
        return [self._state(job_id) for job_id in reversed(self.jobs)][:limit]

    def cancel_job(self, job_id: str) -> JobState:
        state = self._state(job_id)
        if not state.status.is_terminal:
            self.jobs[job_id]["raw"] = "stopped"
        return self._state(job_id)

    def list_events(self, job_id: str, *, after: str | None) -> list[JobEvent]:
        events: list[JobEvent] = self.jobs[job_id]["events"]
        ids = [e.id for e in events]
        return events[ids.index(after) + 1 :] if after in ids else list(events)

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        self._service()
        return ChatResponse(content="march seventh", model=model.id, finish_reason="stop")

    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ChatChunk]:
        self._service()
        yield ChatChunk(content="march")
        yield ChatChunk(content=" seventh", finish_reason="stop")


class NotIdempotent(MemoryProvider):
    def create_job(self, request: TrainingRequest) -> JobState:
        fresh = request.model_copy(update={"idempotency_key": f"{len(self.jobs)}"})
        return super().create_job(fresh)


class EventsIgnoreAfter(MemoryProvider):
    def list_events(self, job_id: str, *, after: str | None) -> list[JobEvent]:
        return super().list_events(job_id, after=None)


class CancelRevives(MemoryProvider):
    def cancel_job(self, job_id: str) -> JobState:
        self.jobs[job_id]["raw"] = "stopped"
        return self._state(job_id)


class StreamsTextSoFar(MemoryProvider):
    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ChatChunk]:
        yield ChatChunk(content="march")
        yield ChatChunk(content="march seventh", finish_reason="stop")


class RunningAsQueued(MemoryProvider):
    statuses = {**STATUSES, "working": JobStatus.QUEUED}


class EverythingInvalid(MemoryProvider):
    def _service(self) -> None:
        status, self.fail_with = self.fail_with, None
        if status is not None:
            raise InvalidRequest(f"HTTP {status}", provider=self.name, status_code=status)


class AsyncDisagrees(MemoryProvider):
    async def achat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        return ChatResponse(content="march 7", model=model.id, finish_reason="stop")


class LogsItsKey(MemoryProvider):
    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        log.debug("calling with key %s", self.api_key.get_secret_value())
        return super().chat(model, messages, params)


def harness_for(cls: type[MemoryProvider], folder: Path) -> Harness:
    provider = cls()

    def failing(status: int) -> Callable[[ftsdk.Client], object]:
        def call(client: ftsdk.Client) -> object:
            provider.fail_with = status
            return client.model("m").chat("hi")

        return call

    return Harness(
        provider,
        training=ftsdk.JobSpec(
            base_model="m",
            training_data=write_jsonl(folder / "train.jsonl", date_to_words_examples(4)),
        ),
        chat_model="m",
        statuses=STATUSES,
        errors={status: failing(status) for status in ERRORS},
        secrets=(SECRET,),
        advance=provider.tick,
        timeout=5.0,
    )


def case(cls: type[MemoryProvider]) -> type[ProviderBehaviour]:
    """The kit, run against ``cls``."""

    class Case(ProviderBehaviour):
        @pytest.fixture
        def harness(self, tmp_path: Path) -> Harness:
            return harness_for(cls, tmp_path)

    return Case


TestMemoryProvider = case(MemoryProvider)
TestNotIdempotent = case(NotIdempotent)
TestEventsIgnoreAfter = case(EventsIgnoreAfter)
TestCancelRevives = case(CancelRevives)
TestStreamsTextSoFar = case(StreamsTextSoFar)
TestRunningAsQueued = case(RunningAsQueued)
TestEverythingInvalid = case(EverythingInvalid)
TestAsyncDisagrees = case(AsyncDisagrees)
TestLogsItsKey = case(LogsItsKey)
