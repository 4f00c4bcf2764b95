"""What OpenAI's published API accepts, checked before anything is sent: a value the service
would refuse fails at once, naming its field and the allowed range, instead of after the
training files were uploaded. The bounds are those of ``openai-openapi.yaml`` (the schema
named beside each)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ftsdk import ChatParams, JobSpec
from ftsdk.errors import InvalidRequest

__all__ = [
    "BATCH_SIZE",
    "EPOCHS",
    "MAX_BETA",
    "MAX_SEED",
    "METADATA_PAIRS",
    "STOP_SEQUENCES",
    "check_chat_params",
    "check_job_spec",
    "checked_id",
]

MAX_SEED = 2147483647
"""``CreateFineTuningJobRequest.seed``: integer, minimum 0, maximum 2147483647."""
EPOCHS = (1, 50)
"""``FineTuneSupervisedHyperparameters.n_epochs`` and ``FineTuneDPOHyperparameters.n_epochs``:
integer, minimum 1, maximum 50."""
BATCH_SIZE = (1, 256)
"""``FineTune{Supervised,DPO}Hyperparameters.batch_size``: integer, minimum 1, maximum 256."""
MAX_BETA = 2.0
"""``FineTuneDPOHyperparameters.beta``: number, exclusiveMinimum 0, maximum 2."""
METADATA_PAIRS = 16
"""``Metadata``: "Set of 16 key-value pairs"; keys at most 64 characters, values 512."""
METADATA_KEY_CHARS, METADATA_VALUE_CHARS = 64, 512
STOP_SEQUENCES = (1, 4)
"""``StopConfiguration`` (``CreateChatCompletionRequest.stop``): a string, or an array with
minItems 1 and maxItems 4."""

# Characters that would change what a URL path means (a new segment, a query, a fragment),
# or that no OpenAI id holds. The openai client escapes the rest.
_NOT_IN_IDS = re.compile(r"[/?#\\\s\x00-\x1f\x7f]")


def _refuse(field: str, message: str, provider: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {message}", field=field, provider=provider)


def _whole_in(
    value: Any, bounds: tuple[int, int], field: str, *, provider: str, schema: str
) -> None:
    name = field.rsplit(".", 1)[-1].replace("epochs", "n_epochs")
    low, high = bounds
    if isinstance(value, int) and not low <= value <= high:
        raise _refuse(
            field,
            f"{value} is outside {low}..{high}, the range OpenAI accepts for {name} ({schema})",
            provider,
        )


def check_job_spec(spec: JobSpec, *, provider: str, reserved_metadata: int = 1) -> None:
    """Refuse what OpenAI's job create would refuse, naming the field and its range.

    :param reserved_metadata: metadata pairs ftsdk adds itself (its idempotency key).
    """
    if spec.seed is not None and not 0 <= spec.seed <= MAX_SEED:
        raise _refuse(
            "seed",
            f"{spec.seed} is outside 0..{MAX_SEED}, the range OpenAI accepts "
            "(CreateFineTuningJobRequest.seed)",
            provider,
        )
    method = spec.method
    kind = {"dpo": "DPO", "reinforcement": "Reinforcement"}.get(method.type, "Supervised")
    schema = f"FineTune{kind}Hyperparameters"
    _whole_in(method.epochs, EPOCHS, "method.epochs", provider=provider, schema=schema)
    _whole_in(method.batch_size, BATCH_SIZE, "method.batch_size", provider=provider, schema=schema)
    multiplier = method.learning_rate_multiplier
    if isinstance(multiplier, (int, float)) and not multiplier > 0:
        raise _refuse(
            "method.learning_rate_multiplier",
            f"{multiplier} is not above 0, as OpenAI requires ({schema})",
            provider,
        )
    beta = getattr(method, "beta", "auto")
    if isinstance(beta, (int, float)) and not 0 < beta <= MAX_BETA:
        raise _refuse(
            "method.beta",
            f"{beta} is outside 0 < beta <= {MAX_BETA:g}, the range OpenAI accepts "
            "(FineTuneDPOHyperparameters.beta)",
            provider,
        )
    check_metadata(spec.metadata, provider=provider, reserved=reserved_metadata)


def check_metadata(metadata: Mapping[str, str], *, provider: str, reserved: int) -> None:
    """``Metadata``: at most 16 pairs in all (``reserved`` of them ftsdk's), keys of at most
    64 characters, values of at most 512."""
    room = METADATA_PAIRS - reserved
    if len(metadata) > room:
        raise _refuse(
            "metadata",
            f"{len(metadata)} keys given; OpenAI keeps at most {METADATA_PAIRS} metadata "
            f"pairs on a job (Metadata) and ftsdk uses {reserved} of them for its "
            f"idempotency key, so at most {room} are yours",
            provider,
        )
    for key, value in metadata.items():
        if len(key) > METADATA_KEY_CHARS:
            raise _refuse(
                "metadata",
                f"key {key[:20]!r}... has {len(key)} characters; OpenAI takes keys of at most "
                f"{METADATA_KEY_CHARS} characters (Metadata)",
                provider,
            )
        if len(value) > METADATA_VALUE_CHARS:
            raise _refuse(
                "metadata",
                f"the value of {key!r} has {len(value)} characters; OpenAI takes values of at "
                f"most {METADATA_VALUE_CHARS} characters (Metadata)",
                provider,
            )


def check_chat_params(params: ChatParams, *, provider: str) -> None:
    """Refuse what OpenAI's chat completion would refuse (``CreateChatCompletionRequest``)."""
    stop = params.stop
    low, high = STOP_SEQUENCES
    if stop is not None and not low <= len(stop) <= high:
        raise _refuse(
            "stop",
            f"{len(stop)} stop sequences given; OpenAI takes {low} to {high} "
            "(StopConfiguration), or leave stop out",
            provider,
        )


def checked_id(value: object, *, field: str, provider: str) -> str:
    """``value`` when it can go into a URL path as one id; else :class:`InvalidRequest`
    naming it (empty, ``.``, ``..``, or holding ``/ ? # \\``, spaces or control characters).
    """
    if (
        not isinstance(value, str)
        or value in ("", ".", "..")
        or _NOT_IN_IDS.search(value) is not None
    ):
        raise _refuse(
            field,
            f"{value!r} is not a valid id: an id is not empty, '.' or '..', and holds no "
            "'/', '?', '#', '\\', spaces or control characters",
            provider,
        )
    return value
