"""One bounded retry layer, honouring Retry-After, that never duplicates a write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest, ProviderUnavailable, RateLimited, error_for_status
from ftsdk.retry import RetryPolicy, parse_retry_after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"RETRY-AFTER": "-4"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after({"Retry-After": header}, now=now.timestamp()) == pytest.approx(7)


def test_waits_at_least_what_the_provider_asked() -> None:
    slept: list[float] = []
    answers: list[object] = [RateLimited("slow", retry_after=4.0), "ok"]

    def flaky() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    policy = RetryPolicy(max_attempts=3, initial_wait=0.1, jitter=0.0)
    assert policy.retrying(sleep=slept.append)(flaky) == "ok"
    assert slept == [4.0]


def test_backoff_doubles_and_is_bounded() -> None:
    policy = RetryPolicy(initial_wait=1.0, max_wait=5.0, jitter=0.0)
    assert [policy.wait_for(n, None) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert policy.wait_for(1, RateLimited("x", retry_after=600)) == 5.0


def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(initial_wait=2.0, jitter=0.5)
    waits = [policy.wait_for(1, None) for _ in range(200)]
    assert min(waits) >= 2.0
    assert max(waits) <= 3.0
    assert len(set(waits)) > 1


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    calls = []

    def down() -> None:
        calls.append(1)
        raise ProviderUnavailable("502 bad gateway", status_code=502)

    with pytest.raises(ProviderUnavailable, match="502"):
        RetryPolicy(max_attempts=3, initial_wait=0).retrying(sleep=lambda _: None)(down)
    assert len(calls) == 3


def test_a_bad_request_is_not_retried() -> None:
    calls = []

    def bad() -> None:
        calls.append(1)
        raise InvalidRequest("bad field")

    with pytest.raises(InvalidRequest):
        RetryPolicy(max_attempts=5, initial_wait=0).call(bad)
    assert calls == [1]


@pytest.mark.parametrize(
    ("status", "cls", "retried"),
    [
        (400, "InvalidRequest", False),
        (401, "AuthenticationError", False),
        (403, "PermissionDenied", False),
        (404, "NotFound", False),
        (408, "Timeout", True),
        (409, "Conflict", True),
        (429, "RateLimited", True),
        (500, "ProviderUnavailable", True),
        (503, "ProviderUnavailable", True),
    ],
)
def test_status_codes_map_to_the_taxonomy(status: int, cls: str, retried: bool) -> None:
    err = error_for_status(status, "m", provider="p", request_id="req-1")
    assert type(err).__name__ == cls
    assert err.retryable is retried
    assert "request_id=req-1" in str(err)


def test_client_retries_transient_failures(client: ftsdk.Client, train_file: Path) -> None:
    client.provider.failures = [RateLimited("429", retry_after=0.0), ProviderUnavailable("503")]
    ref = client.upload(train_file)
    assert client.provider.calls == ["upload_file"] * 3
    assert ref.status == "processed"


def test_max_attempts_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTSDK_MAX_ATTEMPTS", "2")
    assert RetryPolicy.from_env().max_attempts == 2
    monkeypatch.setenv("FTSDK_MAX_ATTEMPTS", "many")
    with pytest.raises(ftsdk.errors.ConfigurationError, match="FTSDK_MAX_ATTEMPTS"):
        RetryPolicy.from_env()
