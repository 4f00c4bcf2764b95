"""What running a grader gives: :class:`GraderResult`, the shape of the answer of OpenAI's
``POST /fine_tuning/alpha/graders/run`` (``RunGraderResponse``), field for field.

A grader that cannot score a sample does not raise: like the service, it scores 0 and sets
the flag that says why in ``metadata.errors``; :attr:`GraderResult.messages` says it in words
(it is not part of the service's JSON, so :meth:`GraderResult.to_api` leaves it out).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["GraderErrors", "GraderMetadata", "GraderResult", "TokenUsage"]


class GraderErrors(BaseModel):
    """The error flags of ``RunGraderResponse.metadata.errors``: all ``False`` when the
    grader scored the sample."""

    model_config = ConfigDict(extra="forbid")

    formula_parse_error: bool = False
    """A multi grader's ``calculate_output`` could not be read or names no sub-grader."""
    sample_parse_error: bool = False
    """A template asked for ``sample.output_json`` of an answer that is not JSON."""
    truncated_observation_error: bool = False
    unresponsive_reward_error: bool = False
    """The reward did not come back in time (a Python grader ran past its limit)."""
    invalid_variable_error: bool = False
    """A template names a variable that is not there (a field the item lacks)."""
    other_error: bool = False
    """Anything else: a formula that divides by zero, a metric ftsdk cannot compute."""
    python_grader_server_error: bool = False
    python_grader_server_error_type: str | None = None
    python_grader_runtime_error: bool = False
    """The Python grader's code raised, or returned something that is not a number."""
    python_grader_runtime_error_details: str | None = None
    model_grader_server_error: bool = False
    """The scoring model could not be asked (a failed request)."""
    model_grader_refusal_error: bool = False
    model_grader_parse_error: bool = False
    """The scoring model's reply holds no score within the grader's range."""
    model_grader_server_error_details: str | None = None

    def any(self) -> bool:
        """Whether any flag is set."""
        return any(value is True for value in self.__dict__.values())

    def merged(self, other: GraderErrors) -> GraderErrors:
        """Both sets of flags: a flag is set when either sets it; details kept from either."""
        return GraderErrors(
            **{
                name: getattr(self, name) or getattr(other, name)
                for name in GraderErrors.model_fields
            }
        )


class TokenUsage(BaseModel):
    """Tokens a model grader used, per model, as ``model_grader_token_usage_per_model``
    reports them."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )


class GraderMetadata(BaseModel):
    """``RunGraderResponse.metadata``: which grader ran, how long it took, what went wrong."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: str
    errors: GraderErrors = Field(default_factory=GraderErrors)
    execution_time: float = 0.0
    """Seconds the grader took."""
    scores: dict[str, Any] = Field(default_factory=dict)
    token_usage: int | None = None
    """Total tokens the model graders used (the published schema types it an integer)."""
    sampled_model_name: str | None = None
    """The model that answered a score-model grader."""


class GraderResult(BaseModel):
    """The score of one sample, shaped as OpenAI's ``RunGraderResponse``.

    >>> from ftsdk.graders import StringCheck
    >>> grader = StringCheck(name="city", input="{{sample.output_text}}",
    ...                      reference="{{item.city}}", operation="eq")
    >>> result = grader.run("Paris", item={"city": "Paris"})
    >>> result.reward, result.errors.any()
    (1.0, False)
    """

    model_config = ConfigDict(extra="forbid")

    reward: float
    metadata: GraderMetadata
    sub_rewards: dict[str, float] = Field(default_factory=dict)
    """A multi grader's sub-graders' rewards, by their names in ``graders``."""
    model_grader_token_usage_per_model: dict[str, TokenUsage] = Field(default_factory=dict)
    messages: tuple[str, ...] = Field(default=(), exclude=True)
    """Why an error flag is set, in words (not part of the service's answer)."""

    @property
    def errors(self) -> GraderErrors:
        """``metadata.errors``."""
        return self.metadata.errors

    @property
    def ok(self) -> bool:
        """Whether the grader scored the sample without any error flag."""
        return not self.metadata.errors.any()

    def to_api(self) -> dict[str, Any]:
        """The JSON the service answers ``graders/run`` with (every key the schema requires)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> GraderResult:
        """Read a ``RunGraderResponse`` (the service's answer)."""
        return cls.model_validate(data)
