"""What a provider declares it can do, checked by the core before any call."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ftsdk._vocab import DataFormat, MethodType, Operation
from ftsdk.methods import method_fields

__all__ = ["Capabilities", "DataFormat", "MethodType", "Operation"]


class Capabilities(BaseModel):
    """A provider's honest declaration of what it supports.

    The core reads it before every call: an operation not in ``operations`` raises
    :class:`ftsdk.errors.UnsupportedOperation`; a hyperparameter not accepted for the
    job's method raises :class:`ftsdk.errors.InvalidRequest` naming its field, before
    anything is uploaded. Limits on the data (file size, examples, formats per method)
    are the provider's :class:`ftsdk.datarules.DataRules`, not declared here.

    >>> Capabilities(
    ...     methods={"sft"},
    ...     data_formats={DataFormat.CHAT},
    ...     hyperparameters={"sft": {"epochs"}},
    ...     operations={Operation.TRAIN, Operation.CANCEL},
    ... ).supports(Operation.CANCEL)
    True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    methods: frozenset[MethodType] = frozenset()
    """Training methods the provider runs; empty when it cannot train."""
    data_formats: frozenset[DataFormat] = frozenset()
    """Example formats the provider accepts as training data."""
    hyperparameters: Mapping[MethodType, frozenset[str]] = Field(default_factory=dict)
    """Per method, the names of the :class:`ftsdk.SFT` / :class:`ftsdk.DPO` fields the
    provider honours. Setting any other field is an error, never silently dropped."""
    operations: frozenset[Operation] = frozenset()
    """Operations the provider implements."""

    @model_validator(mode="after")
    def _consistent(self) -> Capabilities:
        if bool(self.methods) != (Operation.TRAIN in self.operations):
            raise ValueError("declare methods exactly when the 'train' operation is declared")
        for method, names in self.hyperparameters.items():
            if method not in self.methods:
                raise ValueError(f"hyperparameters given for {method!r}, which is not in methods")
            unknown = sorted(set(names) - method_fields(method))
            if unknown:
                raise ValueError(
                    f"hyperparameters[{method!r}] names unknown fields {unknown}; "
                    f"known: {sorted(method_fields(method))}"
                )
        return self

    def supports(self, operation: Operation | str) -> bool:
        """Whether ``operation`` is declared."""
        return Operation(operation) in self.operations

    def accepted_hyperparameters(self, method: MethodType) -> frozenset[str]:
        """Names of the fields of ``method`` the provider honours."""
        return self.hyperparameters.get(method, frozenset())

    def summary(self) -> dict[str, object]:
        """A JSON-friendly view, sorted, for the CLI and docs."""
        return {
            "methods": sorted(self.methods),
            "data_formats": sorted(self.data_formats),
            "hyperparameters": {k: sorted(v) for k, v in sorted(self.hyperparameters.items())},
            "operations": sorted(self.operations),
        }
