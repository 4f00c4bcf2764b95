"""The one error taxonomy of ftsdk.

Every failure a user can meet is one of these. Plugins translate their SDK's exceptions
into them and chain the original (``raise NotFound(...) from err``)::

    FtsdkError                      base: .provider, .code, .status_code, .request_id
    ├── ConfigurationError          ftsdk is set up wrongly (unknown provider, bad env var)
    │   ├── MissingCredentials      no API key / credential found
    │   └── PluginError             a plugin could not be loaded or registered
    ├── UnsupportedOperation        the provider does not declare this operation
    ├── InvalidRequest              a request (or JobSpec) the provider would refuse; .field
    │   ├── InvalidDataset          training data with problems; .problems
    │   └── BudgetExceeded          the run's estimate is over the limit; .estimate, .limit
    ├── AuthenticationError         401: credentials refused
    ├── PermissionDenied            403: credentials valid, action not allowed
    │   └── TrainingNotAvailable    403 training_not_available (OpenAI's wind-down)
    ├── NotFound                    404: no such file, job or model
    ├── Conflict                    409: the object is busy (retried)
    ├── RateLimited                 429: slow down (retried, honours .retry_after)
    ├── ProviderUnavailable         5xx, dropped connections (retried)
    ├── Timeout                     408, or an operation ran out of time (retried)
    └── JobFailed                   a training job ended in failure; .job, .reason

Errors whose class has ``retryable = True`` are transient: the core retry policy
(:mod:`ftsdk.retry`) tries them again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ftsdk.jobs import AsyncJob, Job

__all__ = [
    "AuthenticationError",
    "BudgetExceeded",
    "ConfigurationError",
    "Conflict",
    "FtsdkError",
    "InvalidDataset",
    "InvalidRequest",
    "JobFailed",
    "MissingCredentials",
    "NotFound",
    "PermissionDenied",
    "PluginError",
    "ProviderUnavailable",
    "RateLimited",
    "Timeout",
    "TrainingNotAvailable",
    "UnsupportedOperation",
    "error_for_status",
]


class FtsdkError(Exception):
    """Base of every ftsdk error.

    :param message: what went wrong, in words a person understands.
    :param provider: the provider's registered name, when one is involved.
    :param code: the provider's machine-readable error code, verbatim (e.g.
        ``"training_not_available"``).
    :param status_code: the HTTP status the provider answered, when there was one.
    :param request_id: the provider's request id, for support tickets.
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.code = code
        self.status_code = status_code
        self.request_id = request_id

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (
                ("provider", self.provider),
                ("status", self.status_code),
                ("code", self.code),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(details)})" if details else self.message


class ConfigurationError(FtsdkError):
    """ftsdk or a provider is set up wrongly: fix the configuration, not the request."""


class MissingCredentials(ConfigurationError):
    """No credential was given or found in the environment."""


class PluginError(ConfigurationError):
    """A plugin could not be imported, or registered a provider the registry refused."""


class UnsupportedOperation(FtsdkError):
    """The provider does not declare the operation (checked before any call).

    :param operation: the operation asked for, e.g. ``"pause"``.
    :param supported: the operations the provider does declare.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        supported: Sequence[str] = (),
        provider: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, code="unsupported_operation")
        self.operation = operation
        self.supported = tuple(supported)


class InvalidRequest(FtsdkError):
    """A request the provider refuses, or would refuse: a bad field, a wrong value.

    :param field: dotted path of the offending field, e.g. ``"method.epochs"``.
    :param problems: every problem found when there are several (a job spec's), each a
        line a person understands.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        problems: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.field = field
        self.problems = tuple(problems)


class InvalidDataset(InvalidRequest):
    """Training or validation data with problems.

    :param problems: every problem found, each already naming its file, line and field.
    """

    def __init__(self, message: str, *, problems: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.problems = tuple(problems)


class BudgetExceeded(InvalidRequest):
    """A run whose estimated cost is over the spending limit, refused before anything was
    uploaded (see :mod:`ftsdk.budget`).

    :param estimate: the estimated cost, USD.
    :param limit: the limit it was checked against, USD.
    :param drivers: what makes the cost, in words (tokens x epochs x price, or GPU-hours x
        rate).
    """

    def __init__(
        self, message: str, *, estimate: float, limit: float, drivers: str, **kwargs: Any
    ) -> None:
        kwargs.setdefault("field", "max_cost")
        super().__init__(message, **kwargs)
        self.estimate = estimate
        self.limit = limit
        self.drivers = drivers


class AuthenticationError(FtsdkError):
    """The provider refused the credentials (HTTP 401)."""


class PermissionDenied(FtsdkError):
    """The credentials are valid but may not do this (HTTP 403)."""


class TrainingNotAvailable(PermissionDenied):
    """The provider no longer lets this account start training jobs.

    OpenAI answers ``403 training_not_available`` to accounts that may no longer start
    self-serve fine-tuning jobs; inference on existing fine-tuned models continues.

    :param alternatives: registered providers that train: the same ``JobSpec`` runs there
        with a ``base_model`` that provider offers (the message says what to change).
    """

    def __init__(self, message: str, *, alternatives: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.alternatives = tuple(alternatives)


class NotFound(FtsdkError):
    """No such file, job, model or deployment (HTTP 404)."""


class Conflict(FtsdkError):
    """The object is in a state that refuses the request right now (HTTP 409)."""

    retryable = True


class RateLimited(FtsdkError):
    """Too many requests (HTTP 429).

    :param retry_after: seconds the provider asked us to wait, when it said.
    """

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ProviderUnavailable(FtsdkError):
    """The provider failed on its side (HTTP 5xx) or the connection dropped."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Timeout(FtsdkError):
    """A request or a wait ran out of time (HTTP 408 or a client-side timeout)."""

    retryable = True


class JobFailed(FtsdkError):
    """A training job ended as ``failed`` (or ``cancelled`` while waiting for success).

    :param job: the job handle (a :class:`~ftsdk.Job`, or an :class:`~ftsdk.AsyncJob`
        when awaited), in its final state.
    :param reason: the provider's own failure message, verbatim.
    """

    def __init__(
        self,
        message: str,
        *,
        job: Job | AsyncJob | None = None,
        reason: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.job = job
        self.reason = reason


_BY_STATUS: Mapping[int, type[FtsdkError]] = {
    400: InvalidRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    408: Timeout,
    409: Conflict,
    413: InvalidRequest,
    422: InvalidRequest,
    429: RateLimited,
}


def error_for_status(
    status_code: int,
    message: str,
    *,
    provider: str | None = None,
    code: str | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> FtsdkError:
    """Build the ftsdk error for an HTTP failure, so plugins map statuses the same way.

    >>> error_for_status(429, "slow down", retry_after=2.0).retry_after
    2.0
    """
    if status_code >= 500:
        cls: type[FtsdkError] = ProviderUnavailable
    else:
        cls = _BY_STATUS.get(status_code, InvalidRequest if status_code >= 400 else FtsdkError)
    common: dict[str, Any] = {
        "provider": provider,
        "code": code,
        "status_code": status_code,
        "request_id": request_id,
    }
    if cls in (RateLimited, ProviderUnavailable):
        return cls(message, retry_after=retry_after, **common)
    return cls(message, **common)
