"""``JobSpec``: what to train, the same on every provider."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
)

from ftsdk.capabilities import MethodType
from ftsdk.dataset import Dataset
from ftsdk.files import FileRef

__all__ = ["DPO", "SFT", "DataSource", "JobSpec", "Method", "method_fields"]

Auto = Literal["auto"]


class _Hyperparameters(BaseModel):
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


Method = Annotated[SFT | DPO, Field(discriminator="type")]
"""A training method with its hyperparameters: :class:`SFT` or :class:`DPO`."""

DataSource = Annotated[FileRef | Path | InstanceOf[Dataset], Field(union_mode="left_to_right")]
"""Training data: a local path, a :class:`ftsdk.Dataset`, or a file already uploaded."""


@cache
def method_fields(method: MethodType) -> frozenset[str]:
    """Names of the hyperparameter fields of ``method`` (``"type"`` excluded)."""
    cls = SFT if method == "sft" else DPO
    return frozenset(cls.model_fields) - {"type"}


class JobSpec(BaseModel):
    """A fine-tuning job, described once and run unchanged on any provider.

    >>> spec = JobSpec(base_model="gpt-4o-mini-2024-07-18", training_data="train.jsonl",
    ...                method=SFT(epochs=3), suffix="recipes")
    >>> spec.method.type
    'sft'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_model: Annotated[str, Field(min_length=1)]
    """The model to fine-tune, in the provider's naming."""
    training_data: DataSource
    """The training examples."""
    validation_data: DataSource | None = None
    """Held-out examples the provider scores during training."""
    method: Method = Field(default_factory=SFT)
    """How to train, with hyperparameters."""
    suffix: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """A label that providers put into the fine-tuned model's name."""
    seed: int | None = None
    """Seed for reproducible runs."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """Your own key/value tags, stored with the job."""
    provider_options: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific settings, validated by that provider's ``Options`` model."""
