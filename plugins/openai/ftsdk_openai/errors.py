"""openai exceptions → ftsdk errors, the original chained."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ftsdk import errors
from ftsdk.retry import parse_retry_after

__all__ = ["WIND_DOWN", "translated"]

WIND_DOWN = (
    "OpenAI no longer lets this account start fine-tuning jobs (403 training_not_available): "
    "self-serve fine-tuning is being wound down, while inference on existing fine-tuned "
    "models continues. The same JobSpec runs unchanged on {alternatives}."
)


def _alternatives(exclude: str) -> list[str]:
    from ftsdk import Operation, providers

    return [
        reg.name
        for reg in providers()
        if reg.name != exclude and reg.provider.capabilities.supports(Operation.TRAIN)
    ]


SERVICES = {"openai": "OpenAI", "azure": "Azure OpenAI"}
"""The service each provider name reaches, as error messages name it."""


@contextmanager
def translated(provider: str) -> Iterator[None]:
    """Turn any ``openai`` exception raised inside into the matching ``ftsdk.errors`` one."""
    import openai

    service = SERVICES.get(provider, provider)

    try:
        yield
    except openai.APIStatusError as err:
        body: Any = err.body if isinstance(err.body, dict) else {}
        code = body.get("code") if isinstance(body.get("code"), str) else None
        message = body.get("message") if isinstance(body.get("message"), str) else str(err)
        request_id = err.response.headers.get("x-request-id")
        if err.status_code == 403 and code == "training_not_available":
            names = _alternatives(provider)
            listed = ", ".join(names) if names else "another provider (pip install ftsdk-trl)"
            raise errors.TrainingNotAvailable(
                WIND_DOWN.format(alternatives=listed) + f" OpenAI said: {message}",
                alternatives=names,
                provider=provider,
                code=code,
                status_code=403,
                request_id=request_id,
            ) from err
        translated_error = errors.error_for_status(
            err.status_code,
            message,
            provider=provider,
            code=code,
            request_id=request_id,
            retry_after=parse_retry_after(dict(err.response.headers)),
        )
        if isinstance(translated_error, errors.InvalidRequest):
            translated_error.field = (
                body.get("param") if isinstance(body.get("param"), str) else None
            )
        raise translated_error from err
    except openai.APITimeoutError as err:
        raise errors.Timeout(f"{service} did not answer in time: {err}", provider=provider) from err
    except openai.APIConnectionError as err:
        cause = err.__cause__ or err
        raise errors.ProviderUnavailable(
            f"connection to {service} failed: {type(cause).__name__}: {cause}", provider=provider
        ) from err
