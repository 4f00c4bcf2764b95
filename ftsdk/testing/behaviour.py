"""The behaviour half of the conformance kit: what a provider does, run against its service.

Subclass :class:`ProviderBehaviour` in your plugin's tests and supply a ``harness``
fixture that builds your provider against something that answers (an emulator, a local
stand-in, a sandbox account)::

    from ftsdk.testing.behaviour import Harness, ProviderBehaviour

    class TestEchoBehaviour(ProviderBehaviour):
        @pytest.fixture
        def harness(self) -> Harness:
            return Harness(EchoProvider(api_key="echo-test-secret"), chat_model="echo-1",
                           secrets=("echo-test-secret",))

Each test skips, saying why, when the provider does not declare what it needs or the
harness does not say how to reach it. Each docstring ends with what to do when it fails.
Needs pytest.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest

from ftsdk._client import Client
from ftsdk.capabilities import Operation
from ftsdk.errors import (
    AuthenticationError,
    Conflict,
    FtsdkError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProviderUnavailable,
    RateLimited,
)
from ftsdk.jobs import Job, JobState, JobStatus
from ftsdk.models import Model, ModelInfo
from ftsdk.provider import Provider, TrainingRequest
from ftsdk.retry import RetryPolicy
from ftsdk.spec import JobSpec

__all__ = ["ERRORS", "QUESTION", "Harness", "ProviderBehaviour"]

ERRORS: Mapping[int, type[FtsdkError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    429: RateLimited,
    500: ProviderUnavailable,
    503: ProviderUnavailable,
}
"""The HTTP statuses the kit provokes, and the ftsdk error each must become."""

QUESTION = "Convert 2024-03-07 to words."
"""What the kit asks ``Harness.chat_model``: it must answer something (a model taught it,
for a local one that would otherwise answer nothing)."""


def _pause() -> None:
    time.sleep(0.2)


@dataclass
class Harness:
    """How the behaviour tests reach your provider's service; your ``harness`` fixture
    returns one. Leave a field at its default and the tests that need it skip.

    :param provider: your provider, built against the service the tests may use.
    :param training: a small job that ends by itself soon (``ends`` says how).
    :param chat_model: a model (id, or :class:`~ftsdk.ModelInfo` for a deployment or a
        local folder) that answers :data:`QUESTION` with some text.
    :param statuses: the service's raw job statuses and the normalized status each must
        become, from the service's documentation, not from your code.
    :param errors: for each HTTP status in :data:`ERRORS`, a call that meets it: given the
        kit's client, it arranges the failure (a scripted fault, a stand-in server) and
        makes the request.
    :param secrets: the secret values ``provider`` holds.
    :param advance: moves the service's time along a little (an emulator's clock; a
        short sleep for a real process).
    :param ends: the status the ``training`` job ends in.
    :param timeout: seconds a job may take to end.
    """

    provider: Provider
    training: JobSpec | None = None
    chat_model: str | ModelInfo | None = None
    statuses: Mapping[str, JobStatus] = field(default_factory=dict)
    errors: Mapping[int, Callable[[Client], object]] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    advance: Callable[[], None] = _pause
    ends: JobStatus = JobStatus.SUCCEEDED
    timeout: float = 180.0


class ProviderBehaviour:
    """Checks what the provider does: idempotent create, incremental events, streams that
    add up to the chat answer, async answers equal to sync ones, status and error mapping,
    cancel on an ended job, secrets kept out of reprs and logs. Supply the ``harness``
    fixture."""

    @pytest.fixture
    def kit_client(self, harness: Harness) -> Client:
        """A client around ``harness.provider`` that does not retry (so each provoked error
        reaches the test as it is)."""
        return Client(harness.provider, retry=RetryPolicy(max_attempts=1))

    # -- jobs ----------------------------------------------------------------------------
    def test_create_is_idempotent(self, harness: Harness, kit_client: Client) -> None:
        """``create_job`` called twice with one idempotency key makes one job.

        Troubleshooting: before creating, look for a job carrying
        ``request.idempotency_key`` (OpenAI-like services: a metadata field or an
        ``Idempotency-Key`` header; local ones: a file in the job folder) and return it.
        """
        spec = _training(harness, kit_client)
        before = _job_ids(kit_client)
        request = TrainingRequest(
            spec=spec,
            training_file=kit_client.upload(spec.training_data),
            validation_file=None
            if spec.validation_data is None
            else kit_client.upload(spec.validation_data),
            options=kit_client.check(spec),
            idempotency_key=f"ftsdk-conformance-{uuid.uuid4().hex}",
        )
        first = harness.provider.create_job(request)
        try:
            second = harness.provider.create_job(request)
            assert second.id == first.id, "the same idempotency key made a second job"
            after = _job_ids(kit_client)
            if before is not None and after is not None:
                assert after.count(first.id) == 1, "the job is listed twice"
                assert len(set(after) - set(before)) == 1, "more than one job was made"
        finally:
            _stop(kit_client, first)

    def test_statuses_are_mapped(self, harness: Harness, kit_client: Client) -> None:
        """A job watched from start to end reports a normalized status that agrees with
        the service's raw one at every step, and ends as ``harness.ends``.

        Troubleshooting: map every raw status the service documents (a table beside the
        provider, as ``ftsdk_openai.provider.STATUSES``); keep the raw word in
        ``JobState.raw_status``; a failed job carries the service's reason in ``error``.
        """
        spec = _training(harness, kit_client)
        job = kit_client.train(spec)
        seen = _watch(job, harness)
        for raw, status in seen:
            if harness.statuses:
                assert raw in harness.statuses, f"raw status {raw!r} is not in the table"
                assert status == harness.statuses[raw], f"{raw!r} became {status.value!r}"
        by_raw: dict[str, set[JobStatus]] = {}
        for raw, status in seen:
            by_raw.setdefault(raw, set()).add(status)
        assert all(len(v) == 1 for v in by_raw.values()), f"one raw status, two: {by_raw}"
        assert job.status == harness.ends, f"ended {job.status.value} ({job.raw_status})"
        if job.status == JobStatus.FAILED:
            assert job.error is not None, "a failed job says why"
            assert job.error.message, "a failed job says why"

    def test_events_are_incremental(self, harness: Harness, kit_client: Client) -> None:
        """``list_events(after=id)`` returns only the events after ``id``, oldest first, and
        ``Job.events()`` hands each event out once.

        Troubleshooting: an event's ``id`` must be stable and ordered (a line number, the
        service's id); pass ``after`` to the service as its cursor, or drop the events up
        to and including it.
        """
        spec = _training(harness, kit_client)
        _needs(kit_client, Operation.EVENTS)
        job = kit_client.train(spec)
        try:
            provider = harness.provider
            deadline = time.monotonic() + harness.timeout
            events = provider.list_events(job.id, after=None)
            while len(events) < 2 and time.monotonic() < deadline:
                harness.advance()
                events = provider.list_events(job.id, after=None)
            assert len(events) >= 2, f"{len(events)} event(s) after {harness.timeout}s"
            ids = [e.id for e in events]
            assert len(set(ids)) == len(ids), f"event ids repeat: {ids}"
            stamps = [e.created_at for e in events]
            assert stamps == sorted(stamps), "events are not oldest first"
            for k in (0, len(ids) - 1):
                later = [e.id for e in provider.list_events(job.id, after=ids[k])]
                assert later[: len(ids) - k - 1] == ids[k + 1 :], f"after {ids[k]!r}: {later}"
                assert not set(later) & set(ids[: k + 1]), f"after {ids[k]!r}: {later}"
            first = [e.id for e in job.events()]
            harness.advance()
            second = [e.id for e in job.events()]
            assert not set(first) & set(second), "Job.events() returned an event twice"
            whole = [e.id for e in job.events(all=True)]
            assert whole[: len(first) + len(second)] == first + second
        finally:
            _stop(kit_client, job.state)

    def test_cancel_on_an_ended_job_changes_nothing(
        self, harness: Harness, kit_client: Client
    ) -> None:
        """Cancelling a job that has ended by itself either returns its state unchanged or
        raises :class:`~ftsdk.errors.InvalidRequest` (or ``Conflict``) naming the
        provider; it never turns a finished job into ``cancelled``.

        Troubleshooting: translate the service's "already finished" answer (often a 400)
        with ``ftsdk.errors.error_for_status``; a local provider checks
        ``state.status.is_terminal`` under the job's lock and returns the state.
        """
        spec = _training(harness, kit_client)
        _needs(kit_client, Operation.CANCEL)
        job = kit_client.train(spec)
        _watch(job, harness)
        ended = job.status
        refused: FtsdkError | None = None
        try:
            job.cancel()
        except (InvalidRequest, Conflict) as err:
            refused = err
        if refused is not None:
            assert refused.provider == kit_client.name, "the refusal names no provider"
        else:
            assert job.status == ended, f"cancel turned {ended.value} into {job.status.value}"
        assert job.refresh().status == ended, f"{ended.value} became {job.status.value}"

    # -- chat ----------------------------------------------------------------------------
    def test_streamed_pieces_join_to_the_chat_answer(
        self, harness: Harness, kit_client: Client
    ) -> None:
        """With greedy sampling, the pieces of ``Model.stream`` join to the text
        ``Model.chat`` answers, and the stream's last chunk carries the same finish reason
        (and usage, when the stream reports it).

        Troubleshooting: yield only the new text in each ``ChatChunk`` (not the text so
        far); put ``finish_reason`` and ``usage`` on the last chunk; send the same
        sampling settings (``temperature``, ``max_tokens``, ``seed``) both ways.
        """
        model = _chat_model(harness, kit_client)
        params = {"temperature": 0.0, "max_tokens": 8, "seed": 0}
        answer = model.chat(QUESTION, **params)
        assert answer.content, "chat answered nothing"
        stream = model.stream(QUESTION, **params)
        pieces = list(stream)
        assert "".join(pieces) == answer.content
        whole = stream.response
        assert whole.content == answer.content
        assert whole.finish_reason == answer.finish_reason, "the last chunk has no finish_reason"
        assert whole.model == answer.model
        if whole.usage.total_tokens:  # a stream that reports usage reports chat's
            assert whole.usage == answer.usage
        assert stream.streamed == kit_client.capabilities.supports(Operation.STREAM)

    def test_async_answers_as_sync(self, harness: Harness, kit_client: Client) -> None:
        """``AsyncClient`` over the same provider answers as the sync client does, whole
        and streamed: through your native async methods where you define them, through
        the sync ones in a worker thread where you do not.

        Troubleshooting: a native async method takes the same arguments, returns the
        same values and raises the same errors as its sync twin; build its async SDK
        client per event loop, and release it in ``close``.
        """
        from ftsdk.aio import AsyncClient, AsyncModel

        model = _chat_model(harness, kit_client)
        params = {"temperature": 0.0, "max_tokens": 8, "seed": 0}
        answer = model.chat(QUESTION, **params)

        async def both() -> tuple[str, str]:
            twin = AsyncModel(AsyncClient(harness.provider), model.info)
            whole = await twin.chat(QUESTION, **params)
            pieces = [piece async for piece in twin.stream(QUESTION, **params)]
            return whole.content, "".join(pieces)

        assert asyncio.run(both()) == (answer.content, answer.content)

    # -- errors and secrets ----------------------------------------------------------------
    @pytest.mark.parametrize("status", sorted(ERRORS))
    def test_errors_are_mapped(self, harness: Harness, kit_client: Client, status: int) -> None:
        """Each HTTP failure becomes its ftsdk error (:data:`ERRORS`), naming the provider,
        with the status when there was one, and no secret in its text.

        Troubleshooting: wrap every call to the service in one translation
        (``ftsdk.errors.error_for_status``) and chain the original; turn your SDK's own
        retries off (the core retries 429 and 5xx).
        """
        provoke = harness.errors.get(status)
        if provoke is None:
            pytest.skip(f"the harness cannot provoke HTTP {status} (set errors[{status}])")
        with pytest.raises(FtsdkError) as caught:
            provoke(kit_client)
        err = caught.value
        assert isinstance(err, ERRORS[status]), f"HTTP {status} became {type(err).__name__}"
        assert err.provider == kit_client.name
        assert err.status_code in (status, None)
        for secret in harness.secrets:
            assert secret not in str(err)
            assert secret not in repr(err.args)

    def test_secrets_never_in_reprs_or_logs(
        self, harness: Harness, kit_client: Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        """No secret shows in the provider's or client's repr, in any log line written at
        DEBUG while calls succeed and fail, and the provider lists each in ``secrets()``.

        Troubleshooting: hold secrets as ``pydantic.SecretStr``; never log headers or
        settings whole; pass tokens per call rather than through the environment.
        """
        if not harness.secrets:
            pytest.skip("the harness names no secrets")
        caplog.set_level(logging.DEBUG)
        for _, provoke in sorted(harness.errors.items())[:2]:
            with pytest.raises(FtsdkError):
                provoke(kit_client)
        if harness.chat_model is not None and kit_client.capabilities.supports(Operation.CHAT):
            _chat_model(harness, kit_client).chat(QUESTION, max_tokens=2)
        shown = " ".join(
            [repr(harness.provider), str(harness.provider), repr(kit_client), caplog.text]
        )
        for secret in harness.secrets:
            assert secret not in shown
            assert secret in harness.provider.secrets()


def _needs(client: Client, operation: Operation) -> None:
    if not client.capabilities.supports(operation):
        pytest.skip(f"{client.name} does not declare {operation.value!r}")


def _training(harness: Harness, client: Client) -> JobSpec:
    _needs(client, Operation.TRAIN)
    if harness.training is None:
        pytest.skip("the harness gives no training job (set Harness.training)")
    return harness.training


def _chat_model(harness: Harness, client: Client) -> Model:
    _needs(client, Operation.CHAT)
    if harness.chat_model is None:
        pytest.skip("the harness gives no model to chat with (set Harness.chat_model)")
    info = harness.chat_model
    if isinstance(info, str):
        info = ModelInfo(id=info, provider=client.name, kind="base")
    return Model(client, info)


def _job_ids(client: Client) -> list[str] | None:
    if not client.capabilities.supports(Operation.LIST_JOBS):
        return None
    return [job.id for job in client.jobs(limit=100)]


def _watch(job: Job, harness: Harness) -> list[tuple[str, JobStatus]]:
    """Every (raw, normalized) status seen while the job runs to its end."""
    seen = [(job.raw_status, job.status)]
    deadline = time.monotonic() + harness.timeout
    while not job.status.is_terminal:
        assert time.monotonic() < deadline, f"still {job.status.value} after {harness.timeout}s"
        harness.advance()
        seen.append((job.refresh().raw_status, job.status))
    return seen


def _stop(client: Client, state: JobState) -> None:
    """Cancel a job a test left running, so it stops using the machine."""
    if client.capabilities.supports(Operation.CANCEL):
        job = client.job(state.id)
        if not job.status.is_terminal:
            job.cancel()
