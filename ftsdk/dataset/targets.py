"""Where data will be trained: a :class:`Target` is a provider and a base model, with the
rules its data must follow and its price, as the provider declares them
(:class:`ftsdk.datarules.DataRules`, data in the provider's own plugin)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ftsdk._vocab import DataFormat, MethodType
from ftsdk.dataset.cost import token_price_env, token_prices_from_env
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
    """USD per 1M training tokens: yours (:meth:`with_token_price`, or
    ``FTSDK_<PROVIDER>_TOKEN_PRICE``), else as published; ``None`` when neither."""
    price_source: str | None = None
    """Where :attr:`price_per_million` comes from: ``"recorded"`` (the provider's data
    rules), ``"given"`` (yours) or the environment variable that gave it."""
    price_per_hour: float | None = None
    """USD per hour of training, for a model billed by training time (as published)."""
    price_note: str | None = None
    """What the recorded price leaves out, in words."""
    price_lookup: str | None = None
    """Where to find the price per 1M training tokens that is not recorded (``{model}``
    stands for the model)."""
    hosting_per_hour: tuple[tuple[str, float], ...] = ()
    """USD per hour a deployed fine-tune costs while deployed, by deployment type."""
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
        it declares (:func:`declared_rules`); see :meth:`from_rules`. Priced at your price
        in ``FTSDK_<PROVIDER>_TOKEN_PRICE`` where that is set (and ``price_per_million`` is
        not given).

        :raises ftsdk.errors.InvalidRequest: the provider is not installed or declares no
            rules, or a model it does not list (the message lists the known ones), or
            ``FTSDK_<PROVIDER>_TOKEN_PRICE`` is not a price.
        """
        rules = declared_rules(provider)
        target = cls.from_rules(provider, rules, model, method=method, **overrides)
        if "price_per_million" in overrides:
            return target
        return target._priced_from_env(rules, model)

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

        The price is the one ``rules`` record (or ``price_per_million=`` given): the
        environment's is :meth:`for_model`'s, so checking data never reads it.

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
            "price_lookup": rules.price_lookup,
            "hosting_per_hour": tuple(rules.hosting_per_hour.items()),
        }
        try:
            found = rules.model_rules(model)
        except KeyError:
            if not any_model:
                raise InvalidRequest(
                    f"{provider} has no recorded rules for model {model!r}; known: "
                    f"{', '.join(sorted(rules.models))} (or pass the fields yourself: "
                    "Target(...))",
                    field="base_model",
                    provider=provider,
                ) from None
            return cls(**(common | {"model": model, "formats": rules.method_formats(method)}))
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
                "price_source": None if spec.price_per_million is None else "recorded",
                "price_per_hour": spec.price_per_hour,
                "price_note": spec.price_note,
            }
        target = cls(**(common | overrides))
        if "price_per_million" in overrides and "price_source" not in overrides:  # yours
            source = None if target.price_per_million is None else "given"
            target = dataclasses.replace(target, price_source=source)
        return target

    def _priced_from_env(self, rules: DataRules, asked: str) -> Target:
        """This target at the price ``FTSDK_<PROVIDER>_TOKEN_PRICE`` gives it, if any (hosted
        providers only: local training is priced by GPU time)."""
        if self.hf_tokenizer is not None:
            return self
        prices = token_prices_from_env(self.provider)
        if isinstance(prices, dict):
            from ftsdk.datarules import base_of_fine_tune

            mine = [
                price
                for name, price in prices.items()
                if name == asked or rules.aliases.get(base_of_fine_tune(name), name) == self.model
            ]
            prices = mine[0] if mine else None
        if prices is None:
            return self
        return dataclasses.replace(
            self, price_per_million=prices, price_source=token_price_env(self.provider)
        )

    def with_token_price(self, usd: float | None) -> Target:
        """This target at your price, USD per 1M training tokens (for your region and tier,
        where the provider's price is not recorded); ``None``: unchanged.

        >>> Target.for_model("azure", "gpt-4.1-mini").with_token_price(5.0).price_source
        'given'

        :raises ftsdk.errors.InvalidRequest: not a number of USD, 0 or more.
        """
        if usd is None:
            return self
        if not (isinstance(usd, int | float) and math.isfinite(usd) and usd >= 0):
            raise InvalidRequest(
                f"token_price must be USD per 1M training tokens, 0 or more, not {usd!r}",
                field="token_price",
                provider=self.provider,
            )
        if self.hf_tokenizer is not None:
            raise InvalidRequest(
                f"token_price prices training billed by token; {self.label} trains locally, "
                "priced by GPU time (gpu_hour_price=, --gpu-hour-price or FTSDK_GPU_HOUR_PRICE)",
                field="token_price",
                provider=self.provider,
            )
        return dataclasses.replace(self, price_per_million=float(usd), price_source="given")

    @property
    def token_price_env(self) -> str | None:
        """The environment variable that gives your price per 1M training tokens here
        (``FTSDK_AZURE_TOKEN_PRICE``); ``None`` for local training."""
        return None if self.hf_tokenizer is not None else token_price_env(self.provider)

    def how_to_price(self, ways: str | None = None) -> str:
        """Where to find the training price ftsdk does not know here, and how to give it
        (``ways``; default: ``token_price=``, ``--token-price`` or the environment variable).

        >>> Target.for_model("openai", "o4-mini").how_to_price()  # doctest: +ELLIPSIS
        'ftsdk records no training price per 1M tokens for openai/o4-mini-2025-04-16; give ...'
        """
        if self.hf_tokenizer is not None:
            return (
                "local training is priced by GPU time, not tokens: see the training estimate "
                "(gpu_hour_price=, --gpu-hour-price or FTSDK_GPU_HOUR_PRICE)"
            )
        ways = ways or f"token_price=, --token-price or {self.token_price_env}"
        where = (
            self.price_lookup.replace("{model}", self.model)
            if self.price_lookup
            else f"ftsdk records no training price per 1M tokens for {self.label}"
        )
        return f"{where}; give yours (USD per 1M training tokens) with {ways}"

    def cost_terms(self) -> dict[str, Any]:
        """The price fields of a :class:`~ftsdk.dataset.CostEstimate` on this target."""
        priced = self.price_per_million is not None or self.price_per_hour is not None
        return {
            "price_per_million": self.price_per_million,
            "recorded": self.recorded,
            "price_source": self.price_source,
            "price_per_hour": self.price_per_hour,
            "price_note": self.price_note,
            "no_price": None if priced else self.how_to_price(),
            "hosting_per_hour": self.hosting_per_hour,
        }

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
            "price_source": self.price_source,
            "price_per_hour": self.price_per_hour,
            "hosting_per_hour": dict(self.hosting_per_hour),
            "recorded": self.recorded,
        }
