"""What every grader shares: its JSON (:meth:`GraderBase.to_api`), its templates, and
:meth:`GraderBase.run`, which times the grading and shapes the answer as the service does."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from ftsdk.graders.result import GraderErrors, GraderMetadata, GraderResult, TokenUsage
from ftsdk.graders.templates import Sample, TemplateError, lookup, path, references, render

__all__ = ["GraderBase", "InputReferenceGrader", "Outcome"]


@dataclass
class Outcome:
    """What one grader made of one sample, before it is shaped as a :class:`GraderResult`."""

    reward: float = 0.0
    errors: GraderErrors = field(default_factory=GraderErrors)
    messages: list[str] = field(default_factory=list)
    sub_rewards: dict[str, float] = field(default_factory=dict)
    usage: dict[str, TokenUsage] = field(default_factory=dict)
    sampled_model_name: str | None = None

    @classmethod
    def failed(cls, message: str, **flags: Any) -> Outcome:
        """A reward of 0 with the flags that say why."""
        return cls(errors=GraderErrors(**flags), messages=[message])

    @classmethod
    def template_failed(cls, error: TemplateError) -> Outcome:
        """A template named something missing: the service's flag for it."""
        return cls.failed(error.message, **{error.kind: True})


class GraderBase(BaseModel):
    """A grader: its fields are the service's JSON fields, with the same names and values.

    Subclasses implement :meth:`_grade`; :meth:`run` is the same for all.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The grader's name (shown in the service's results)."""

    def to_api(self) -> dict[str, Any]:
        """The grader as the service's JSON (``null`` fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def run(self, sample: str, *, item: Mapping[str, Any] | None = None) -> GraderResult:
        """Score a model's answer ``sample`` against a dataset row ``item``, as the service's
        ``graders/run`` does (``model_sample`` and ``item``)."""
        started = time.perf_counter()
        outcome = self._grade(Sample.from_text(sample), dict(item or {}))
        return self._result(outcome, time.perf_counter() - started)

    def _result(self, outcome: Outcome, elapsed: float) -> GraderResult:
        usage = outcome.usage
        return GraderResult(
            reward=outcome.reward,
            metadata=GraderMetadata(
                name=self.name,
                type=str(getattr(self, "type", "")),
                errors=outcome.errors,
                execution_time=elapsed,
                token_usage=sum(u.total_tokens for u in usage.values()) if usage else None,
                sampled_model_name=outcome.sampled_model_name,
            ),
            sub_rewards=outcome.sub_rewards,
            model_grader_token_usage_per_model=usage,
            messages=tuple(outcome.messages),
        )

    def run_many(
        self, samples: Sequence[str], *, items: Sequence[Mapping[str, Any]] | None = None
    ) -> list[GraderResult]:
        """Score many answers, each against its item (``items[i]`` for ``samples[i]``).

        The same results as :meth:`run` one by one; Python graders run all of them in one
        child process, so module-level state of the grader's code lasts between calls.
        ``execution_time`` is then each answer's share of the whole.
        """
        if items is not None and len(items) != len(samples):
            raise ValueError(f"{len(samples)} samples but {len(items)} items")
        cases = [
            (Sample.from_text(s), dict(items[n] if items else {})) for n, s in enumerate(samples)
        ]
        started = time.perf_counter()
        outcomes = self._grade_many(cases)
        share = (time.perf_counter() - started) / max(len(cases), 1)
        return [self._result(outcome, share) for outcome in outcomes]

    def _grade(self, sample: Sample, item: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    def _grade_many(self, cases: Sequence[tuple[Sample, dict[str, Any]]]) -> list[Outcome]:
        return [self._grade(sample, item) for sample, item in cases]

    # ------------------------------------------------------------------ templates

    def _template_strings(self) -> Iterator[str]:
        """Every string of this grader that may hold templates."""
        return iter(())

    def variables(self) -> list[str]:
        """The variables this grader's templates name (``item.answer``, ``sample.output_text``),
        each once, in order.

        >>> from ftsdk.graders import StringCheck
        >>> StringCheck(name="c", input="{{ sample.output_text }}", reference="{{item.label}}",
        ...             operation="eq").variables()
        ['sample.output_text', 'item.label']
        """
        seen: dict[str, None] = {}
        for text in self._template_strings():
            seen.update(dict.fromkeys(references(text)))
        return list(seen)

    def item_fields(self) -> list[str]:
        """The dataset fields this grader reads: the first step of each ``item.*`` variable."""
        fields: dict[str, None] = {}
        for variable in self.variables():
            try:
                namespace, steps = path(variable)
            except TemplateError:
                continue  # a malformed template reads no field; running it says so
            if namespace == "item" and steps and isinstance(steps[0], str):
                fields[steps[0]] = None
        return list(fields)

    def check_item(self, item: Mapping[str, Any], *, sample: str | None = None) -> None:
        """Raise :class:`~ftsdk.graders.TemplateError` naming the first variable that
        ``item`` (or, when given, the answer ``sample``) does not have.

        >>> from ftsdk.graders import StringCheck
        >>> from ftsdk.graders import TemplateError
        >>> grader = StringCheck(name="c", input="{{sample.output_text}}",
        ...                      reference="{{item.label}}", operation="eq")
        >>> try:
        ...     grader.check_item({"answer": "yes"})
        ... except TemplateError as error:
        ...     print(error.field, "|", error.message)
        item.label | {{ item.label }}: item has no field 'label' (it has: answer)
        """
        probe = Sample.from_text(sample) if sample is not None else None
        for variable in self.variables():
            if variable.startswith("sample") and probe is None:
                continue
            lookup(variable, item, probe or Sample.from_text(""))

    def _render(self, text: str, sample: Sample, item: Mapping[str, Any]) -> str:
        return render(text, item, sample)


class InputReferenceGrader(GraderBase):
    """A grader of two filled-in texts, ``input`` and ``reference``, compared by
    :meth:`_compare` (``string_check`` and ``text_similarity``)."""

    input: str
    """The text graded; may hold templates, usually ``{{sample.output_text}}``."""
    reference: str
    """The text it is graded against; may hold templates, usually ``{{item.<field>}}``."""

    def _template_strings(self) -> Iterator[str]:
        yield self.input
        yield self.reference

    def _grade(self, sample: Sample, item: dict[str, Any]) -> Outcome:
        try:
            text = self._render(self.input, sample, item)
            reference = self._render(self.reference, sample, item)
        except TemplateError as error:
            return Outcome.template_failed(error)
        return self._compare(text, reference)

    def _compare(self, text: str, reference: str) -> Outcome:
        raise NotImplementedError
