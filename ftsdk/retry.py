"""The one retry layer of ftsdk: a bounded tenacity policy for transient failures.

Providers translate their SDK's exceptions into :mod:`ftsdk.errors`; an error whose class
is ``retryable`` (429, 408, 409, 5xx, dropped connections, timeouts) is tried again with
jittered exponential backoff, waiting at least what the provider asked for in
``Retry-After`` / ``retry-after-ms``. Turn your SDK's own retries off (``max_retries=0``
for openai) so that this is the only layer.

Writes that are not idempotent are retried only because the core hands the provider an
idempotency key that stays the same across attempts (see :meth:`ftsdk.Provider.create_job`).
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from ftsdk.errors import FtsdkError

__all__ = ["RetryPolicy", "is_retryable", "parse_retry_after"]

log = logging.getLogger("ftsdk.retry")
T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a transient failure worth another attempt."""
    return isinstance(exc, FtsdkError) and exc.retryable


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date).

    Header names are matched case-insensitively.

    >>> parse_retry_after({"Retry-After": "3"})
    3.0
    >>> parse_retry_after({"retry-after-ms": "250"})
    0.25
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    if (ms := lowered.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    :param max_attempts: attempts in all, the first included (``FTSDK_MAX_ATTEMPTS``).
    :param initial_wait: seconds before the second attempt, doubled after each failure.
    :param max_wait: cap on one wait, also applied to a provider's ``Retry-After``.
    :param jitter: up to this fraction of each wait is added at random, so that many
        clients do not retry in step.

    >>> RetryPolicy(max_attempts=3).call(lambda: "ok")
    'ok'
    """

    max_attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    jitter: float = 0.25

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """The default policy, with ``FTSDK_MAX_ATTEMPTS`` applied when set."""
        raw = os.environ.get("FTSDK_MAX_ATTEMPTS")
        if raw is None:
            return cls()
        try:
            attempts = int(raw)
        except ValueError:
            from ftsdk.errors import ConfigurationError

            raise ConfigurationError(
                f"FTSDK_MAX_ATTEMPTS must be a whole number, not {raw!r}"
            ) from None
        return cls(max_attempts=max(attempts, 1))

    def wait_for(self, attempt: int, exc: BaseException | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        backoff = min(self.initial_wait * 2.0 ** (attempt - 1), self.max_wait)
        backoff += random.uniform(0, self.jitter * backoff)
        asked = getattr(exc, "retry_after", None)
        if isinstance(asked, (int, float)):
            backoff = max(backoff, min(float(asked), self.max_wait))
        return backoff

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return self.wait_for(state.attempt_number, exc)

    def _log(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "attempt %d/%d failed (%s: %s); retrying in %.2fs",
            state.attempt_number,
            self.max_attempts,
            type(exc).__name__,
            exc,
            wait,
        )

    def retrying(self, sleep: Callable[[float], None] = time.sleep) -> tenacity.Retrying:
        """A ``tenacity.Retrying`` for this policy; re-raises the last error when done."""
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(is_retryable),
            before_sleep=self._log,
            sleep=sleep,
            reraise=True,
        )

    def async_retrying(self) -> tenacity.AsyncRetrying:
        """The async twin of :meth:`retrying`."""
        return tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(is_retryable),
            before_sleep=self._log,
            reraise=True,
        )

    def call(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        """Call ``fn(*args, **kwargs)`` under this policy."""
        return self.retrying()(fn, *args, **kwargs)
