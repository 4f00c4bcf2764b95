"""What training data a provider accepts, declared by the provider as data.

A provider plugin ships its rules (formats per method, limits, prices, tokenizer per base
model) as a JSON file in its own package and sets ``data_rules`` on its provider class:

    data_rules = DataRules.from_package("ftsdk_openai")   # reads ftsdk_openai/data_rules.json

The core enforces exactly what is declared, before anything is uploaded
(:meth:`ftsdk.Client.check_data`, ``Dataset.validate(target=(provider, model))``,
``ftsdk data check --provider NAME``). A provider that declares none gets the generic
format checks only. This module imports pydantic and the vocabulary only: a plugin that
declares its rules does not load the dataset toolkit by doing so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveInt, model_validator

from ftsdk._vocab import DataFormat, MethodType

__all__ = ["DataRules", "ModelRules", "base_of_fine_tune"]

RULES_FILE = "data_rules.json"
"""The file :meth:`DataRules.from_package` reads in a plugin's package."""


def base_of_fine_tune(model: str) -> str:
    """The base model of an OpenAI fine-tune's id, or ``model`` itself: a fine-tune
    ("ft:gpt-4o-mini-2024-07-18:org:suffix:id") trains further, and is billed, on its base's
    rules and prices.

    >>> base_of_fine_tune("ft:gpt-4o-mini-2024-07-18:acme:recipes:abc123")
    'gpt-4o-mini-2024-07-18'
    """
    return model.split(":")[1] if model.startswith("ft:") and model.count(":") >= 2 else model


class ModelRules(BaseModel):
    """The rules and price of one base model of a provider with a closed list of models."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    formats: frozenset[DataFormat]
    """Formats the model trains on (crossed with the method's formats)."""
    encoding: str | None = None
    """The tiktoken encoding (``o200k_base``, ``cl100k_base``) that counts its tokens."""
    context_tokens: PositiveInt | None = None
    """Most tokens one training example may have."""
    price_per_million: NonNegativeFloat | None = None
    """USD per 1M training tokens, as published; ``None`` when not recorded."""
    price_per_hour: NonNegativeFloat | None = None
    """USD per hour of training, where the model is billed by training time rather than
    by token (reinforcement fine-tuning), as published; ``None`` when not recorded."""
    price_note: str | None = None
    """What the price leaves out, in words (``"grader tokens billed separately"``)."""


class DataRules(BaseModel):
    """A provider's declared rules for training data: what the core enforces for it.

    >>> rules = DataRules(
    ...     formats={"sft": {"chat"}}, min_examples=10, max_file_bytes=512 * 1024**2
    ... )
    >>> rules.min_examples, sorted(f.value for f in rules.formats["sft"])
    (10, ['chat'])
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    formats: Mapping[MethodType, frozenset[DataFormat]] = Field(default_factory=dict)
    """Per training method, the example formats it takes (``{"dpo": {"preference"}}``);
    a method left out takes every format the model takes."""
    min_examples: PositiveInt | None = None
    """Fewest examples in the training file; fewer is an error naming the provider."""
    recommended_examples: PositiveInt | None = None
    """Fewest examples the provider recommends; fewer is a warning."""
    max_file_bytes: PositiveInt | None = None
    """Largest training file accepted, in bytes; ``None`` when unbounded."""
    max_billed_tokens: PositiveInt | None = None
    """Most tokens x epochs one job may train (Azure: 2 billion)."""
    over_context: Literal["error", "truncate"] = "error"
    """An example longer than the context: an error, or a warning that the trainer cuts it."""
    epochs_rule: Literal["openai"] | None = None
    """How ``epochs="auto"`` is resolved for cost estimates: OpenAI's rule, or none."""
    default_epochs: PositiveInt | None = None
    """What ``epochs="auto"`` trains where there is no rule (a local trainer's default)."""
    price_lookup: str | None = None
    """Where and how to find the training price per 1M tokens the rules do not record
    (``{model}`` stands for the model): what an estimate without a price says."""
    hosting_per_hour: Mapping[str, NonNegativeFloat] = Field(default_factory=dict)
    """USD per hour a deployed fine-tune costs while deployed, used or not (besides its
    tokens), by deployment type (``{"Standard": 1.7, "Developer": 0}``); empty: none."""
    models: Mapping[str, ModelRules] = Field(default_factory=dict)
    """The base models the provider trains, by name. Empty: any model, whose own Hugging
    Face tokenizer counts the tokens (local providers)."""
    aliases: Mapping[str, str] = Field(default_factory=dict)
    """Short names of models (``gpt-4o-mini``) and the model each stands for."""
    recorded: str | None = None
    """When the limits and prices were recorded from the provider's pages (a date)."""
    sources: Mapping[str, str] = Field(default_factory=dict)
    """Where the limits and prices come from (``{"limits": URL, "prices": URL}``)."""

    @model_validator(mode="after")
    def _aliases_name_models(self) -> DataRules:
        unknown = sorted(alias for alias, name in self.aliases.items() if name not in self.models)
        if unknown:
            raise ValueError(f"aliases {unknown} name models that are not in 'models'")
        return self

    @classmethod
    def from_package(cls, package: str, name: str = RULES_FILE) -> DataRules:
        """The rules in the JSON file ``name`` of the package ``package``.

        :raises ValueError: the file is not valid JSON or breaks the schema; the message
            names the file.
        """
        source = resources.files(package).joinpath(name)
        try:
            return cls.model_validate(json.loads(source.read_text(encoding="utf-8")))
        except ValueError as err:  # JSONDecodeError and ValidationError are ValueErrors
            raise ValueError(f"{package}/{name}: {err}") from err

    def model_rules(self, model: str) -> tuple[str, ModelRules] | None:
        """The model's canonical name and rules, aliases and fine-tunes resolved; ``None``
        when the provider takes any model (no ``models`` declared).

        :raises KeyError: the provider lists its models and this is not one of them.
        """
        if not self.models:
            return None
        name = base_of_fine_tune(model)
        name = self.aliases.get(name, name)
        if name not in self.models:
            raise KeyError(name)
        return name, self.models[name]

    def method_formats(self, method: MethodType | None) -> frozenset[DataFormat]:
        """Formats ``method`` takes (every format when the method or its list is not given)."""
        if method is None or method not in self.formats:
            return frozenset(DataFormat)
        return self.formats[method]
