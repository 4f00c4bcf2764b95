"""Training methods and their hyperparameters: :class:`SFT`, :class:`DPO` and :class:`RFT`.

A leaf of the core (pydantic, the error types and the graders, themselves a leaf), so that
what a provider declares (:class:`~ftsdk.Capabilities`) and what a job asks for
(:class:`~ftsdk.JobSpec`) both build on it without importing each other or the dataset
toolkit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
)

from ftsdk._vocab import MethodType
from ftsdk.errors import InvalidRequest
from ftsdk.graders.multi import Grader, parse_grader
from ftsdk.spec_errors import spec_error

__all__ = ["DPO", "RFT", "SFT", "Method", "MethodType", "method_fields"]

Auto = Literal["auto"]


class _Friendly(BaseModel):
    """Built from keyword arguments, a spec refuses bad values with one ftsdk
    :class:`~ftsdk.errors.InvalidRequest` listing every problem (unknown names with the
    close one suggested), not pydantic's ``ValidationError``."""

    if not TYPE_CHECKING:  # keep the typed __init__ that pydantic's mypy plugin writes

        def __init__(self, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as err:
                raise spec_error(err, type(self)) from err

        # Marked as pydantic marks its own: validation (model_validate, a nested method)
        # then does not go through this __init__, and reports every problem at once.
        __init__.__pydantic_base_init__ = True


class _Hyperparameters(_Friendly):
    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: PositiveInt | Auto = "auto"
    """Passes over the training data; ``"auto"`` lets the provider choose."""
    batch_size: PositiveInt | Auto = "auto"
    """Examples per optimizer step."""
    learning_rate_multiplier: PositiveFloat | Auto = "auto"
    """Scale of the provider's default learning rate (OpenAI, Azure)."""
    learning_rate: PositiveFloat | None = None
    """Absolute peak learning rate (local training)."""
    max_steps: PositiveInt | None = None
    """Stop after this many optimizer steps, whatever ``epochs`` says."""
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)] | None = None
    """Fraction of steps spent warming the learning rate up."""
    weight_decay: NonNegativeFloat | None = None
    """Decoupled weight decay."""
    max_seq_length: PositiveInt | None = None
    """Longest tokenized example; longer ones are truncated (and reported)."""
    gradient_accumulation_steps: PositiveInt | None = None
    """Micro-batches accumulated into one optimizer step."""
    adapter: Literal["full", "lora", "qlora"] | None = None
    """Full fine-tuning, a LoRA adapter, or LoRA on a 4-bit base (QLoRA)."""
    lora_r: PositiveInt | None = None
    """LoRA rank."""
    lora_alpha: PositiveInt | None = None
    """LoRA scaling numerator."""
    lora_dropout: Annotated[float, Field(ge=0, lt=1)] | None = None
    """Dropout on the LoRA path."""

    def explicit(self) -> dict[str, Any]:
        """The hyperparameters the user set to a value (not left at ``"auto"``/``None``)."""
        return {
            name: getattr(self, name)
            for name in sorted(self.model_fields_set)
            if name != "type" and getattr(self, name) not in ("auto", None)
        }


class SFT(_Hyperparameters):
    """Supervised fine-tuning on chat or prompt/completion examples.

    >>> SFT(epochs=3, batch_size=8).explicit()
    {'batch_size': 8, 'epochs': 3}
    """

    type: Literal["sft"] = "sft"


class DPO(_Hyperparameters):
    """Direct preference optimization on preference pairs.

    >>> DPO(beta=0.1).type
    'dpo'
    """

    type: Literal["dpo"] = "dpo"
    beta: PositiveFloat | Auto = "auto"
    """Strength of the pull towards the reference model."""


class RFT(_Hyperparameters):
    """Reinforcement fine-tuning: the model answers prompts and a grader scores the answers.

    ``grader`` is an :mod:`ftsdk.graders` grader, or the services' JSON for one (a mapping
    or a JSON string, read by :func:`ftsdk.graders.parse_grader`). The hyperparameters
    beyond :class:`SFT`'s are those of the services' ``FineTuneReinforcementHyperparameters``.

    >>> from ftsdk.graders import StringCheck
    >>> rft = RFT(grader=StringCheck(name="exact", input="{{sample.output_text}}",
    ...                              reference="{{item.answer}}", operation="eq"))
    >>> rft.type, rft.grader.type
    ('reinforcement', 'string_check')
    """

    type: Literal["reinforcement"] = "reinforcement"
    grader: Grader
    """What scores each answer (its reward, 0 to 1)."""
    reasoning_effort: Literal["default", "low", "medium", "high"] | Auto = "auto"
    """How hard a reasoning model thinks while it samples answers (OpenAI, Azure)."""
    compute_multiplier: Annotated[float, Field(gt=0, le=10)] | Auto = "auto"
    """Scale of the compute spent exploring answers during training (OpenAI, Azure)."""
    eval_interval: PositiveInt | Auto = "auto"
    """Training steps between evaluation runs on the validation file."""
    eval_samples: PositiveInt | Auto = "auto"
    """Answers sampled per validation prompt at each evaluation."""

    @field_validator("grader", mode="before")
    @classmethod
    def _read_grader(cls, value: Any) -> Any:
        """The services' JSON read as :func:`~ftsdk.graders.parse_grader` reads it, so a spec
        file's ``grader:`` mapping gets the same messages as the Python API."""
        if isinstance(value, str | Mapping):
            try:
                return parse_grader(json.loads(value) if isinstance(value, str) else value)
            except json.JSONDecodeError as err:
                raise ValueError(f"grader is not JSON: {err}") from None
            except InvalidRequest as err:
                raise ValueError(err.message) from None
        return value

    def explicit(self) -> dict[str, Any]:
        """The hyperparameters set to a value; the grader is not one."""
        return {k: v for k, v in super().explicit().items() if k != "grader"}


Method = Annotated[SFT | DPO | RFT, Field(discriminator="type")]
"""A training method with its hyperparameters: :class:`SFT`, :class:`DPO` or :class:`RFT`."""

_CLASSES: dict[str, type[_Hyperparameters]] = {"sft": SFT, "dpo": DPO, "reinforcement": RFT}


@cache
def method_fields(method: MethodType) -> frozenset[str]:
    """Names of the hyperparameter fields of ``method`` (``"type"`` and ``"grader"``
    excluded)."""
    return frozenset(_CLASSES[method].model_fields) - {"type", "grader"}
