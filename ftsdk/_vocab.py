"""The contract's plain vocabularies: training methods, operations, data formats.

Kept apart from :mod:`ftsdk.capabilities` (which re-exports them) so that reading and checking
data never imports pydantic.
"""

from __future__ import annotations

import enum
from typing import Literal

__all__ = ["DataFormat", "MethodType", "Operation"]

MethodType = Literal["sft", "dpo", "reinforcement"]
"""Training methods by name: ``"sft"`` (supervised), ``"dpo"`` (preference pairs) and
``"reinforcement"`` (prompts scored by a grader, :class:`ftsdk.RFT`)."""


class Operation(enum.StrEnum):
    """An operation a provider may declare; each maps to one :class:`ftsdk.Provider` method."""

    TRAIN = "train"
    """Start jobs and read them back: ``create_job`` and ``get_job``."""
    UPLOAD = "upload"
    """Upload a data file: ``upload_file``."""
    LIST_JOBS = "list_jobs"
    """List recent jobs: ``list_jobs``."""
    CANCEL = "cancel"
    """Cancel a job: ``cancel_job``."""
    PAUSE = "pause"
    """Pause a running job: ``pause_job``."""
    RESUME = "resume"
    """Resume a paused job: ``resume_job``."""
    EVENTS = "events"
    """A job's event log, incrementally: ``list_events``."""
    METRICS = "metrics"
    """A job's step metrics (losses, accuracy): ``list_metrics``."""
    CHECKPOINTS = "checkpoints"
    """A job's intermediate checkpoints: ``list_checkpoints``."""
    CHAT = "chat"
    """Chat completions on a base or fine-tuned model: ``chat``."""
    STREAM = "stream"
    """Chat answers streamed as the model writes them: ``stream_chat``. Without it,
    :meth:`ftsdk.Model.stream` yields the whole answer at once."""
    DEPLOY = "deploy"
    """Deploy a model before inference, and remove the deployment: ``deploy_model`` and
    ``undeploy_model``."""
    DELETE_MODEL = "delete_model"
    """Delete a fine-tuned model: ``delete_model``."""
    PUSH = "push"
    """Publish a model's weights to the Hugging Face Hub: ``push_model``."""


class DataFormat(enum.StrEnum):
    """Shapes of training examples."""

    CHAT = "chat"
    """``{"messages": [{"role": ..., "content": ...}, ...]}``"""
    PROMPT_COMPLETION = "prompt_completion"
    """``{"prompt": ..., "completion": ...}``"""
    PREFERENCE = "preference"
    """Pairs for DPO: a prompt with a preferred and a non-preferred answer."""
    TEXT = "text"
    """``{"text": ...}``, plain language-model text."""
    REINFORCEMENT = "reinforcement"
    """Prompts for reinforcement fine-tuning: ``{"messages": [..., {"role": "user", ...}]}``
    ending with a user turn, beside the fields the grader reads (``{{item.answer}}``). A
    ``messages`` example is read so where the method takes this format and not chat."""
