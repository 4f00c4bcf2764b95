"""What a request costs: inference prices per provider and model, read from
``ftsdk/dataset/inference.json`` (data, not code: recorded by hand with their source and date,
as published; verify before budgeting)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ftsdk.datarules import base_of_fine_tune
from ftsdk.dataset.tables import read_table
from ftsdk.errors import InvalidRequest

__all__ = ["Price", "inference_price", "inference_table"]


class Price(BaseModel):
    """USD per 1M prompt (input) and completion (output) tokens, and where that comes from.

    >>> Price(input=0.15, output=0.6).per_1k_requests(prompt_tokens=1200, completion_tokens=40)
    0.204
    """

    model_config = ConfigDict(frozen=True)

    input: float = Field(ge=0, allow_inf_nan=False)
    """USD per 1M prompt tokens."""
    output: float = Field(ge=0, allow_inf_nan=False)
    """USD per 1M completion tokens."""
    source: str = "given"
    """Where the figures come from: the table's source and date, ``local`` or ``given``."""

    def per_1k_requests(self, *, prompt_tokens: float, completion_tokens: float) -> float:
        """USD for 1,000 requests of ``prompt_tokens`` and ``completion_tokens`` each (means)."""
        return round((prompt_tokens * self.input + completion_tokens * self.output) / 1000, 10)

    @classmethod
    def of(cls, value: Price | Sequence[float]) -> Price:
        """A :class:`Price`, or one from ``(input, output)``."""
        if isinstance(value, Price):
            return value
        try:
            low, high = (float(v) for v in value)
            return cls(input=low, output=high)
        except (TypeError, ValueError) as err:
            raise InvalidRequest(
                f"a price is (input, output) in USD per 1M tokens, each 0 or more, not {value!r}",
                field="prices",
            ) from err


def inference_table() -> dict[str, Any]:
    """The recorded inference prices of every provider (``inference.json``), as published."""
    return read_table("inference.json")


def inference_price(
    provider: str, model: str, *, fine_tuned: bool, base_model: str | None = None
) -> Price | None:
    """The recorded price of chatting with ``model`` on ``provider``, or ``None`` when the
    table does not know it (the cost is then reported as unknown, never guessed).

    Local providers cost 0 per token. A fine-tuned model is looked up by its base model
    (``base_model``, or the base named in an OpenAI ``ft:`` id).

    >>> price = inference_price("openai", "ft:gpt-4o-mini-2024-07-18:org:x:1", fine_tuned=True)
    >>> price.input, price.output, price.source[:38]
    (0.3, 1.2, 'openai price table recorded 2026-11-25')
    >>> inference_price("trl", "/models/tiny", fine_tuned=False).input
    0.0
    """
    entry = inference_table().get(provider)
    if not isinstance(entry, dict):
        return None
    if entry.get("local"):
        return Price(input=0.0, output=0.0, source=f"local ({provider}): {entry['source']}")
    name = base_of_fine_tune(base_model or model) if fine_tuned else model
    name = entry["aliases"].get(name, name)
    prices = entry["models"].get(name)
    if prices is None:
        return None
    side = prices["fine_tuned" if fine_tuned else "base"]
    return Price(
        input=side["input"],
        output=side["output"],
        source=f"{provider} price table recorded {entry['recorded']}: {entry['source']}",
    )
