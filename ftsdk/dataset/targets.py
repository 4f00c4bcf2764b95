"""Where data will be trained: a :class:`Target` is a provider and a base model, with the
rules its data must follow and its price, as the provider declares them
(:class:`ftsdk.datarules.DataRules`, data in the provider's own plugin)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ftsdk._vocab import DataFormat, MethodType
from ftsdk.errors import ConfigurationError, InvalidRequest

if TYPE_CHECKING:
    from ftsdk.datarules import DataRules

__all__ = ["Target", "declared_rules"]


def declared_rules(provider: str) -> DataRules:
    """The data rules the installed provider ``provider`` declares.

    :raises ftsdk.errors.InvalidRequest: no such provider is installed (the message lists
        the installed ones), or it declares no rules.
    """
    from ftsdk.plugins import providers

    try:
        provider_cls = providers().get(provider)
    except ConfigurationError as err:
        raise InvalidRequest(
            f"no data rules for provider {provider!r}: it is not installed ({err}); "
            "install the plugin that provides it, or check without a target",
            field="provider",
        ) from err
    if provider_cls.data_rules is None:
        raise InvalidRequest(
            f"provider {provider!r} declares no data rules, so only the format can be "
            "checked: validate without a target",
            field="provider",
            provider=provider,
        )
    return provider_cls.data_rules


@dataclass(frozen=True)
class Target:
    """A provider and a base model, with the rules training data must follow there.

    Build one with :meth:`for_model`; every field can be overridden for what the
    provider's rules do not know (a new model, a local model's context)::

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
    def for_model(
        cls, provider: str, model: str, *, method: MethodType | None = None, **overrides: Any
    ) -> Target:
        """The target for ``model`` on the installed provider ``provider``, by the rules
        it declares (:func:`declared_rules`); see :meth:`from_rules`.

        :raises ftsdk.errors.InvalidRequest: the provider is not installed or declares no
            rules, or a model it does not list (the message lists the known ones).
        """
        return cls.from_rules(provider, declared_rules(provider), model, method=method, **overrides)

    @classmethod
    def from_rules(
        cls,
        provider: str,
        rules: DataRules,
        model: str,
        *,
        method: MethodType | None = None,
        any_model: bool = False,
        **overrides: Any,
    ) -> Target:
        """The target for ``model`` on ``provider`` by ``rules``; with ``method``, only the
        formats that method takes there.

        With ``any_model``, a model the rules do not list still gets the provider-wide
        rules (formats of the method, examples, file size), with no tokenizer, context or
        price: what the core checks before the provider's service judges the model.

        Providers that list no models (local ones) take any Hugging Face model id or folder:
        its tokenizer counts the tokens and its ``model_max_length`` is the context unless
        ``context_tokens=`` is given.

        :raises ftsdk.errors.InvalidRequest: a model ``rules`` does not list.
        """
        common: dict[str, Any] = {
            "provider": provider,
            "over_context": rules.over_context,
            "min_examples": rules.min_examples,
            "recommended_examples": rules.recommended_examples,
            "max_file_bytes": rules.max_file_bytes,
            "max_billed_tokens": rules.max_billed_tokens,
            "epochs_rule": rules.epochs_rule,
            "default_epochs": rules.default_epochs,
            "recorded": rules.recorded,
            "sources": tuple(sorted(rules.sources.items())),
        }
        try:
            found = rules.model_rules(model)
        except KeyError:
            if any_model:
                return cls(**(common | {"model": model, "formats": rules.method_formats(method)}))
            raise InvalidRequest(
                f"{provider} has no recorded rules for model {model!r}; known: "
                f"{', '.join(sorted(rules.models))} (or pass the fields yourself: Target(...))",
                field="base_model",
                provider=provider,
            ) from None
        formats = rules.method_formats(method)
        if found is None:  # any model, its own tokenizer
            common |= {"model": model, "formats": formats, "hf_tokenizer": model}
        else:
            name, spec = found
            common |= {
                "model": name,
                "formats": spec.formats & formats,
                "encoding": spec.encoding,
                "context_tokens": spec.context_tokens,
                "price_per_million": spec.price_per_million,
            }
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
