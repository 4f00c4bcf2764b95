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
    "self-serve fine-tuning is being wound down (no new jobs from 2027-01-06; gpt-4o, "
    "gpt-4o-mini, gpt-4.1, gpt-4.1-mini and their fine-tunes retire on 2027-01-14); "
    "inference on existing fine-tuned models goes on until their base model retires. To "
    "train elsewhere, keep the JobSpec and change its base_model for the provider: {moves}."
)
MOVES = {
    "azure": "on azure, the same base model where Azure offers it for fine-tuning in your "
    "region (Azure names it the same way, e.g. gpt-4o-mini-2024-07-18)",
    "trl": "on trl, a Hugging Face Hub model id or a local model folder "
    "(e.g. Qwen/Qwen2.5-0.5B-Instruct): a local provider cannot train an OpenAI model",
    "autotrain": "on autotrain, a Hugging Face Hub model id (e.g. Qwen/Qwen2.5-0.5B-Instruct)",
}
"""What to change in a JobSpec to move it to each built-in provider."""
OTHER_MOVE = "on {name}, a base model that {name} offers"
NO_ALTERNATIVE = (
    "no other installed provider trains; pip install ftsdk-azure, or ftsdk-trl with a "
    "Hugging Face Hub model id as base_model"
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


def _text(value: object) -> str | None:
    """A code or param as text: OpenAI sends strings, some gateways numbers."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _problems(detail: object) -> list[str]:
    """``detail`` of a validation answer as lines: ``body.seed: ensure this value ...``."""
    if isinstance(detail, str):
        return [detail]
    lines = []
    for item in detail if isinstance(detail, list) else []:
        if isinstance(item, dict):
            where = ".".join(str(p) for p in item.get("loc") or [])
            what = item.get("msg") or item.get("message") or ""
            lines.append(f"{where}: {what}" if where else str(what))
        elif isinstance(item, str):
            lines.append(item)
    return [line for line in lines if line]


def _message(body: dict[str, Any], status: int) -> str:
    """The service's own words for a failure: its ``message``, or the problems a
    validation layer listed (``message`` or ``detail`` as a list), never just the status."""
    for key in ("message", "detail"):
        lines = _problems(body.get(key))
        if lines:
            return "; ".join(lines)
    return f"OpenAI answered HTTP {status} without saying why"


def _detail_param(body: dict[str, Any]) -> str | None:
    """The field of the first problem a validation layer listed (``loc`` without ``body``)."""
    for key in ("message", "detail"):
        items = body.get(key)
        for item in items if isinstance(items, list) else []:
            loc = item.get("loc") if isinstance(item, dict) else None
            if isinstance(loc, list) and loc:
                path = [str(p) for p in loc if p not in ("body", "query", "path")]
                return ".".join(path) or None
    return None


@contextmanager
def translated(provider: str) -> Iterator[None]:
    """Turn any ``openai`` exception raised inside into the matching ``ftsdk.errors`` one."""
    import openai

    service = SERVICES.get(provider, provider)

    try:
        yield
    except openai.APIStatusError as err:
        body: Any = err.body if isinstance(err.body, dict) else {}
        code = _text(body.get("code"))
        param = _text(body.get("param"))
        message = _message(body, err.status_code)
        if param is None:
            param = _detail_param(body)
        request_id = err.response.headers.get("x-request-id")
        if err.status_code == 403 and code == "training_not_available":
            names = _alternatives(provider)
            moves = "; ".join(MOVES.get(n, OTHER_MOVE.format(name=n)) for n in names)
            raise errors.TrainingNotAvailable(
                WIND_DOWN.format(moves=moves or NO_ALTERNATIVE) + f" OpenAI said: {message}",
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
            translated_error.field = param
        raise translated_error from err
    except openai.APITimeoutError as err:
        raise errors.Timeout(f"{service} did not answer in time: {err}", provider=provider) from err
    except openai.APIConnectionError as err:
        cause = err.__cause__ or err
        raise errors.ProviderUnavailable(
            f"connection to {service} failed: {type(cause).__name__}: {cause}", provider=provider
        ) from err
