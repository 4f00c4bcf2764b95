"""What can be wrong with training data, said so a person can fix it: :class:`Problem`,
the kinds of problem (:data:`KINDS`) and the :class:`ValidationReport` that groups them."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ftsdk.errors import InvalidDataset

__all__ = ["KINDS", "Origin", "Problem", "Severity", "ValidationReport"]


class Severity(enum.StrEnum):
    """Errors make a provider refuse the data (or waste the run); warnings deserve a look."""

    ERROR = "error"
    WARNING = "warning"


KINDS: dict[str, str] = {
    # reading the source
    "bad_utf8": "bytes that are not UTF-8 text",
    "bad_json": "a line that is not valid JSON (often truncated)",
    "line_too_long": "a line longer than the reader accepts; it was skipped",
    "not_an_object": "a line that is JSON but not an object",
    "missing_column": "a CSV column that the mapping or template names is not in the header",
    "unreadable": "a source that cannot be read at all (no such file, a directory, a FIFO)",
    "bad_unicode": "a lone surrogate (half of a UTF-16 pair, e.g. from a \\ud83d escape): "
    "not text, and tokenizers and trainers refuse it",
    # the shape of one example
    "unknown_format": "an example in none of the known formats",
    "mixed_formats": "an example in another format than the first example",
    "format_not_accepted": "a format the target does not train on",
    "missing_key": "a required key is absent",
    "unknown_key": "a key the format does not know (often a typo)",
    "wrong_type": "a value of the wrong type",
    "bad_role": "a message role the format does not know",
    "role_order": "messages in an order the provider refuses",
    "empty_content": "a message or field with no text",
    "no_assistant": "an example with nothing to learn: no assistant message (with weight 1)",
    "bad_weight": "a weight other than 0 or 1, or on a non-assistant message",
    "bad_tool_call": "a tool call or tool answer that is malformed or unmatched",
    "last_not_assistant": "the conversation ends with a turn that is not trained on",
    "last_not_user": "a reinforcement prompt that does not end with a user turn",
    "missing_item_field": "a field the grader reads that the example lacks",
    "unsupported_by_template": "an example the model's chat template cannot render "
    "(tool calls, images)",
    # tokens
    "too_many_tokens": "an example longer than the model's training context",
    "truncated": "an example the trainer will cut to its maximum length",
    "tokens_unknown": "tokens could not be counted (no tokenizer installed)",
    # the whole dataset
    "duplicate": "the same example again (a warning: an error with strict checking)",
    "too_few_examples": "fewer examples than the provider accepts",
    "few_examples": "fewer examples than the provider recommends",
    "file_too_large": "a file larger than the provider accepts",
    "too_many_billed_tokens": "tokens x epochs above the provider's limit per job",
}
"""Every kind of problem, with what it means. Stable: code may match on the kind."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an example came from: ``train.jsonl:17``, ``data.parquet:row 4``, ``<records>[2]``.

    :param source: the file name (or a label such as ``<records>``).
    :param line: 1-based line number in a text file.
    :param row: 0-based row index where there are no lines (Parquet, HF, Python objects).
    """

    source: str
    line: int | None = None
    row: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.source}:{self.line}"
        if self.row is not None:
            return f"{self.source}[{self.row}]"
        return self.source


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem, located: ``train.jsonl:17: messages[2].content: empty content``.

    :param kind: one of :data:`KINDS`.
    :param message: the reason, in words a person understands.
    :param origin: where the example is; ``None`` for problems of the whole dataset.
    :param field: the path of the offending field inside the example, e.g. ``messages[2].content``.
    :param severity: error or warning.
    """

    kind: str
    message: str
    origin: Origin | None = None
    field: str = ""
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        parts = [str(part) for part in (self.origin, self.field) if part]
        return ": ".join([*parts, self.message])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "kind": self.kind,
            "severity": self.severity.value,
            "where": str(self.origin) if self.origin else None,
            "field": self.field or None,
            "message": self.message,
            "text": str(self),
        }


@dataclass
class ValidationReport:
    """Everything a check found, errors apart from warnings, grouped by kind.

    Each kind keeps at most ``cap`` examples of itself, but every occurrence is counted.
    Also carries the token statistics and cost estimate when a target was given.

    >>> report = ValidationReport(cap=1)
    >>> report.add(Problem("empty_content", "empty content", Origin("a.jsonl", 3), "prompt"))
    >>> report.add(Problem("empty_content", "empty content", Origin("a.jsonl", 9), "prompt"))
    >>> report.ok, report.counts()
    (False, {'empty_content': 2})
    >>> [str(p) for p in report.errors]
    ['a.jsonl:3: prompt: empty content']
    """

    cap: int = 20
    """How many problems of one kind are kept (all are counted)."""
    examples: int = 0
    """Examples read, good or bad."""
    format: str | None = None
    """The format detected from the first well-formed example."""
    stats: Any = None
    """A :class:`ftsdk.dataset.TokenStats`, when tokens were counted."""
    cost: Any = None
    """A :class:`ftsdk.dataset.CostEstimate`, when the target has a price."""
    target: Any = None
    """The :class:`ftsdk.dataset.Target` checked against, if any."""
    _kept: dict[str, list[Problem]] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    _severity: dict[str, Severity] = field(default_factory=dict)

    def add(self, problem: Problem) -> None:
        """Record ``problem`` (kept if its kind is under the cap, always counted)."""
        count = self._counts.get(problem.kind, 0)
        self._counts[problem.kind] = count + 1
        self._severity.setdefault(problem.kind, problem.severity)
        if count < self.cap:
            self._kept.setdefault(problem.kind, []).append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        """Record several problems."""
        for problem in problems:
            self.add(problem)

    def _of(self, severity: Severity) -> list[Problem]:
        return [
            problem
            for kind, kept in self._kept.items()
            if self._severity[kind] is severity
            for problem in kept
        ]

    @property
    def errors(self) -> list[Problem]:
        """The errors kept, grouped by kind in the order kinds were first met."""
        return self._of(Severity.ERROR)

    @property
    def warnings(self) -> list[Problem]:
        """The warnings kept, grouped by kind."""
        return self._of(Severity.WARNING)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(self._severity[kind] is Severity.ERROR for kind in self._counts)

    def counts(self, severity: Severity | None = None) -> dict[str, int]:
        """Occurrences per kind (all of them, not only those kept)."""
        return {
            kind: count
            for kind, count in self._counts.items()
            if severity is None or self._severity[kind] is severity
        }

    def __iter__(self) -> Iterator[Problem]:
        return iter([*self.errors, *self.warnings])

    def raise_for_errors(self) -> None:
        """Raise :class:`ftsdk.errors.InvalidDataset` listing the errors, if there are any."""
        if self.ok:
            return
        total = sum(self.counts(Severity.ERROR).values())
        summary = ", ".join(f"{kind} x{n}" for kind, n in self.counts(Severity.ERROR).items())
        first = self.errors[0]
        raise InvalidDataset(
            f"{total} problem(s) in the training data ({summary}); first: {first}",
            problems=[str(problem) for problem in self.errors],
            field=first.field or None,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (the CLI's ``--json``)."""
        return {
            "ok": self.ok,
            "examples": self.examples,
            "format": self.format,
            "target": self.target.to_dict() if self.target is not None else None,
            "error_counts": self.counts(Severity.ERROR),
            "warning_counts": self.counts(Severity.WARNING),
            "errors": [problem.to_dict() for problem in self.errors],
            "warnings": [problem.to_dict() for problem in self.warnings],
            "stats": self.stats.to_dict() if self.stats is not None else None,
            "cost": self.cost.to_dict() if self.cost is not None else None,
        }
