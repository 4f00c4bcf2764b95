"""Where data will be trained: a :class:`Target` is a provider and a base model, with the
rules its data must follow and its price, read from ``targets.json`` (data, not code: the
limits and prices are recorded there with their sources and dates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ftsdk._vocab import DataFormat
from ftsdk.dataset.tables import read_table
from ftsdk.errors import InvalidRequest

__all__ = ["Target", "price_table"]


def price_table() -> dict[str, Any]:
    """The recorded limits and prices of every provider (``targets.json``), as published."""
    return read_table("targets.json")


def base_of_fine_tune(model: str) -> str:
    """The base model of an OpenAI fine-tune's id, or ``model`` itself: a fine-tune
    ("ft:gpt-4o-mini-2024-07-18:org:suffix:id") trains further, and is billed, on its base's
    rules and prices."""
    return model.split(":")[1] if model.startswith("ft:") and model.count(":") >= 2 else model


@dataclass(frozen=True)
class Target:
    """A provider and a base model, with the rules training data must follow there.

    Build one with :meth:`for_model`; every field can be overridden for what the table
    does not know (a new model, a local model's context)::

    >>> t = Target.for_model("openai", "gpt-4o-mini")
    >>> t.model, t.encoding, t.context_tokens, t.min_examples
    ('gpt-4o-mini-2024-07-18', 'o200k_base', 65536, 10)
    """

    provider: str
    """The provider's registered name: ``openai``, ``azure``, ``trl``, ..."""
    model: str
    """The base model, as the provider names it (aliases resolved)."""
    formats: frozenset[DataFormat]
    """Formats the model trains on."""
    encoding: str | None = None
    """The tiktoken encoding (``o200k_base``, ``cl100k_base``) for OpenAI models."""
    hf_tokenizer: str | None = None
    """A Hugging Face model id or local folder whose tokenizer counts tokens (local models)."""
    context_tokens: int | None = None
    """Most tokens one training example may have."""
    over_context: Literal["error", "truncate"] = "error"
    """What a longer example is: an error, or a warning that the trainer will cut it."""
    min_examples: int | None = None
    """Fewest examples the provider accepts."""
    recommended_examples: int | None = None
    """Fewest examples the provider recommends (fewer is a warning)."""
    max_file_bytes: int | None = None
    """Largest training file accepted."""
    max_billed_tokens: int | None = None
    """Most tokens x epochs one job may train (Azure: 2 billion)."""
    price_per_million: float | None = None
    """USD per 1M training tokens, as published; ``None`` when not recorded."""
    epochs_rule: Literal["openai"] | None = None
    """How ``epochs="auto"`` is resolved: OpenAI's rule, or unknown."""
    default_epochs: int | None = None
    """What ``epochs="auto"`` trains where there is no rule: a local trainer's default
    (TRL 3 as ftsdk-trl sets it, AutoTrain 1); ``None``: unknown (counted as 1)."""
    recorded: str | None = None
    """When the limits and price were recorded from the provider's pages."""
    sources: tuple[tuple[str, str], ...] = ()
    """Where the limits and prices come from."""

    @classmethod
    def for_model(cls, provider: str, model: str, **overrides: Any) -> Target:
        """The target for ``model`` on ``provider``, from the recorded table.

        Local providers (``trl``) take any Hugging Face model id or folder: its tokenizer
        counts the tokens and its ``model_max_length`` is the context unless
        ``context_tokens=`` is given.

        :raises ftsdk.errors.InvalidRequest: unknown provider, or a model the table does not
            know (the message lists the known ones).
        """
        table = price_table()
        entry = table.get(provider)
        if not isinstance(entry, dict):
            known = ", ".join(name for name in table if not name.startswith("_"))
            raise InvalidRequest(
                f"no data rules recorded for provider {provider!r} (known: {known})",
                field="provider",
            )
        common: dict[str, Any] = {
            "provider": provider,
            "over_context": entry["over_context"],
            "min_examples": entry["min_examples"],
            "recommended_examples": entry["recommended_examples"],
            "max_file_bytes": entry["max_file_bytes"],
            "max_billed_tokens": entry["max_billed_tokens"],
            "epochs_rule": entry["epochs_rule"],
            "default_epochs": entry.get("default_epochs"),
            "recorded": entry["recorded"],
            "sources": tuple(sorted(entry["sources"].items())),
        }
        name = base_of_fine_tune(model)
        name = entry["aliases"].get(name, name)
        models: dict[str, Any] = entry["models"]
        if name in models:
            spec = models[name]
            common |= {
                "model": name,
                "formats": frozenset(DataFormat(f) for f in spec["formats"]),
                "encoding": spec["encoding"],
                "context_tokens": spec["context_tokens"],
                "price_per_million": spec["price_per_million"],
            }
        elif not models:  # local: any model, its own tokenizer
            common |= {"model": model, "formats": frozenset(DataFormat), "hf_tokenizer": model}
        else:
            raise InvalidRequest(
                f"{provider} has no recorded rules for model {model!r}; known: "
                f"{', '.join(sorted(models))} (or pass the fields yourself: Target(...))",
                field="base_model",
                provider=provider,
            )
        return cls(**(common | overrides))

    @property
    def label(self) -> str:
        """``provider/model``, for reports."""
        return f"{self.provider}/{self.model}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "provider": self.provider,
            "model": self.model,
            "formats": sorted(self.formats),
            "tokenizer": self.encoding or self.hf_tokenizer,
            "context_tokens": self.context_tokens,
            "min_examples": self.min_examples,
            "max_file_bytes": self.max_file_bytes,
            "price_per_million": self.price_per_million,
            "recorded": self.recorded,
        }
