"""A training method as the fine-tuning API's ``method`` object: supervised, DPO and
reinforcement, each with its hyperparameters under its own key, a reinforcement job with
its grader beside them (``FineTuneMethod`` in OpenAI's and Azure v1's published
descriptions). Shared by the OpenAI and Azure providers."""

from __future__ import annotations

from typing import Any

from ftsdk import errors
from ftsdk.graders import GraderSupport, check_grader
from ftsdk.plugin import DPO, RFT, SFT

__all__ = ["HYPERPARAMETERS", "KINDS", "check_method_grader", "method_body", "method_of"]

KINDS = {"sft": "supervised", "dpo": "dpo", "reinforcement": "reinforcement"}
"""ftsdk's method names and the API's ``method.type``."""

HYPERPARAMETERS = {
    "epochs": "n_epochs",
    "batch_size": "batch_size",
    "learning_rate_multiplier": "learning_rate_multiplier",
    "beta": "beta",
    "reasoning_effort": "reasoning_effort",
    "compute_multiplier": "compute_multiplier",
    "eval_interval": "eval_interval",
    "eval_samples": "eval_samples",
}
"""ftsdk's hyperparameter names and the API's."""


def method_of(kind: str | None) -> str:
    """ftsdk's name for the API's ``method.type`` (a job without one is supervised)."""
    return {api: ours for ours, api in KINDS.items()}.get(kind or "supervised", kind or "sft")


def method_body(method: SFT | DPO | RFT) -> dict[str, Any]:
    """``method`` as the API's ``method`` object."""
    kind = KINDS[method.type]
    inner: dict[str, Any] = {}
    if isinstance(method, RFT):
        inner["grader"] = method.grader.to_api()
    inner["hyperparameters"] = {HYPERPARAMETERS[k]: v for k, v in method.explicit().items()}
    return {"type": kind, kind: inner}


def check_method_grader(method: SFT | DPO | RFT, support: GraderSupport, *, provider: str) -> None:
    """Refuse, before any upload, a grader ``support``'s service would refuse; the error
    names the field under ``method.grader``."""
    if not isinstance(method, RFT):
        return
    try:
        check_grader(method.grader, support)
    except errors.InvalidRequest as err:
        problems = [f"method.{problem}" for problem in err.problems]
        raise errors.InvalidRequest(
            "; ".join(problems),
            field=f"method.{err.field or 'grader'}",
            problems=problems,
            provider=provider,
        ) from None
