"""``score_model``: a model reads the filled-in messages and answers with a score.

On the services the grader names an OpenAI model and the service asks it with structured
outputs (``{"result": <score>, ...}``). Locally any model with a ``chat(messages, **params)``
method answers (an ftsdk :class:`~ftsdk.Model` from any provider): attach it with
:meth:`ScoreModel.with_model`. ftsdk cannot force a schema on every provider, so it adds one
system message asking for that JSON and reads ``result`` from the reply (or a reply that is
only a number). The score must lie in ``range`` (``[0, 1]`` unless set); the reward is the
score itself, as the service gives it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, PrivateAttr

from ftsdk.errors import FtsdkError, InvalidRequest
from ftsdk.graders.base import GraderBase, Outcome
from ftsdk.graders.result import TokenUsage
from ftsdk.graders.templates import Sample, TemplateError

__all__ = ["ChatModel", "SamplingParams", "ScoreModel", "ScoreModelMessage", "parse_result"]

_NUMBER: Final = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RESULT: Final = re.compile(r'"result"\s*:\s*(' + _NUMBER + ")")
_BARE: Final = re.compile(r"\s*(" + _NUMBER + r")\s*")
_FENCE: Final = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


class ChatModel(Protocol):
    """Anything that answers a conversation, as :meth:`ftsdk.Model.chat` does: the answer has
    ``content`` and, when known, ``model``, ``usage`` and ``refusal``."""

    def chat(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Any:
        """Answer ``messages``."""
        ...


class SamplingParams(BaseModel):
    """How the scoring model samples (``sampling_params``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int | None = None
    top_p: float | None = None
    temperature: float | None = None
    max_completions_tokens: int | None = None
    reasoning_effort: str | None = None
    """For reasoning models on the service; not sent to a local model."""


class ScoreModelMessage(BaseModel):
    """One message of the grader's prompt (the spec's ``EvalItem``); its text may hold
    templates. ``content`` is a string, a content part (``{"type": "input_text", "text":
    ...}``) or a list of parts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["user", "assistant", "system", "developer"]
    content: str | dict[str, Any] | list[str | dict[str, Any]]
    type: Literal["message"] | None = None

    def texts(self) -> list[str]:
        """The message's text parts (templates unfilled); images and audio are not text."""
        parts = self.content if isinstance(self.content, list) else [self.content]
        return [
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in parts
            if isinstance(part, str) or part.get("type") in ("input_text", "output_text")
        ]

    def media(self) -> list[str]:
        """The types of the parts that are not text (``input_image``, ``input_audio``)."""
        parts = self.content if isinstance(self.content, list) else [self.content]
        return [
            str(part.get("type"))
            for part in parts
            if isinstance(part, dict) and part.get("type") not in ("input_text", "output_text")
        ]


def parse_result(reply: str) -> float:
    """The score in a scoring model's reply: ``{"result": N, ...}`` (code fences allowed), or
    a reply that is only a number; :class:`ValueError` when it holds neither.

    >>> parse_result('{"steps": [], "result": 0.75}')
    0.75
    >>> parse_result("```json\\n{\\"result\\": 1}\\n```")
    1.0
    >>> parse_result(" 3 ")
    3.0
    """
    text = _FENCE.sub("", reply)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("result"), int | float):
        value = float(parsed["result"])
    elif isinstance(parsed, int | float) and not isinstance(parsed, bool):
        value = float(parsed)
    elif found := (_RESULT.search(text) or _BARE.fullmatch(text)):
        value = float(found.group(1))
    else:
        shown = reply.strip()
        raise ValueError(
            f"no score in the reply: {shown[:117] + '...' if len(shown) > 120 else shown!r}"
        )
    if not math.isfinite(value):
        raise ValueError(f"the score {value} is not a finite number")
    return value


class ScoreModel(GraderBase):
    """Ask a model for a score.

    >>> grader = ScoreModel(name="judge", model="gpt-4o-2024-08-06", input=[
    ...     {"role": "user", "content": "Reference: {{item.answer}}\\nAnswer: "
    ...                                 "{{sample.output_text}}\\nScore 0 to 1."}])
    >>> grader.to_api()["input"][0]["role"]
    'user'

    ``grader.with_model(client.model("gpt-4o-mini"))`` runs it locally on any provider.
    """

    type: Literal["score_model"] = "score_model"
    model: str
    """The model the service asks (an OpenAI model name)."""
    input: list[ScoreModelMessage]
    """The prompt; its texts may hold templates."""
    range: list[float] | None = None
    """The lowest and highest score, ``[0, 1]`` when not set."""
    sampling_params: SamplingParams | None = None
    pass_threshold: float | None = None
    """The score at or above which the sample passes (the reward is the score either way)."""

    _chat_model: ChatModel | None = PrivateAttr(default=None)

    def with_model(self, model: ChatModel) -> ScoreModel:
        """A copy that asks ``model`` (any object with ``chat``) when run locally; the JSON
        sent to a service is unchanged."""
        copy = self.model_copy()
        copy._chat_model = model
        return copy

    @property
    def bounds(self) -> tuple[float, float]:
        """``range`` as ``(low, high)``."""
        low, high = self.range if self.range is not None else (0.0, 1.0)
        return float(low), float(high)

    def _template_strings(self) -> Iterator[str]:
        for message in self.input:
            yield from message.texts()

    def messages(
        self, sample: str, *, item: Mapping[str, Any] | None = None
    ) -> list[dict[str, str]]:
        """The conversation a local run sends: the filled-in prompt after a system message
        that asks for ``{"result": <score>}``. :class:`~ftsdk.graders.TemplateError` when a
        template names something missing."""
        return self._messages(Sample.from_text(sample), dict(item or {}))

    def _messages(self, sample: Sample, item: Mapping[str, Any]) -> list[dict[str, str]]:
        low, high = self.bounds
        instruction = (
            'Reply with JSON only: {"result": <score>}, where <score> is a number from '
            f"{low:g} to {high:g}."
        )
        filled = [
            {"role": m.role, "content": "\n".join(self._render(t, sample, item) for t in m.texts())}
            for m in self.input
        ]
        return [{"role": "system", "content": instruction}, *filled]

    def _params(self) -> dict[str, Any]:
        params = self.sampling_params or SamplingParams()
        chosen = {
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
            "max_tokens": params.max_completions_tokens,
        }
        return {name: value for name, value in chosen.items() if value is not None}

    def _grade(self, sample: Sample, item: dict[str, Any]) -> Outcome:
        if self._chat_model is None:
            raise InvalidRequest(
                f"score_model grader {self.name!r} has no model to ask locally: "
                "grader.with_model(client.model(...)) attaches one",
                field="model",
            )
        media = [kind for message in self.input for kind in message.media()]
        if media:
            return Outcome.failed(
                f"score_model grader {self.name!r}: {', '.join(media)} parts are not sent to a "
                "local model",
                model_grader_server_error=True,
                model_grader_server_error_details="non-text content is not supported locally",
            )
        try:
            messages = self._messages(sample, item)
        except TemplateError as error:
            return Outcome.template_failed(error)
        try:
            response = self._chat_model.chat(messages, **self._params())
        except FtsdkError as error:
            return Outcome.failed(
                f"score_model grader {self.name!r}: the model could not be asked: {error}",
                model_grader_server_error=True,
                model_grader_server_error_details=str(error),
            )
        answered_by = str(getattr(response, "model", None) or self.model)
        usage = _usage(getattr(response, "usage", None))
        outcome = self._score(response)
        outcome.usage = {answered_by: usage}
        outcome.sampled_model_name = answered_by
        return outcome

    def _score(self, response: Any) -> Outcome:
        refusal = getattr(response, "refusal", None)
        if refusal:
            return Outcome.failed(
                f"score_model grader {self.name!r}: the model refused: {refusal}",
                model_grader_refusal_error=True,
            )
        try:
            score = parse_result(str(getattr(response, "content", "")))
        except ValueError as error:
            return Outcome.failed(
                f"score_model grader {self.name!r}: {error}", model_grader_parse_error=True
            )
        low, high = self.bounds
        if not low <= score <= high:
            return Outcome.failed(
                f"score_model grader {self.name!r}: the score {score:g} is outside the range "
                f"{low:g}..{high:g}",
                model_grader_parse_error=True,
            )
        return Outcome(reward=score)


def _usage(usage: Any) -> TokenUsage:
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    return TokenUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
