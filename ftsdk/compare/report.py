"""The result of a comparison: every answer with its scores and tokens, each side's quality,
tokens and cost per 1,000 requests, and the difference (fine-tuned minus base). A pydantic
model: it round-trips through JSON, prints as a table and writes one HTML file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ftsdk.compare.prices import Price

if TYPE_CHECKING:
    from ftsdk.jobs import Job, Metric

__all__ = ["ComparisonReport", "Difference", "ItemResult", "Side", "Summary", "summarize"]

PRICES_IN_PYTHON = (
    "pass prices={'base': (INPUT, OUTPUT), 'tuned': (INPUT, OUTPUT)} to compare() "
    "(USD per 1M tokens)"
)
PRICES_ON_THE_COMMAND_LINE = (
    "pass --base-price INPUT,OUTPUT and --tuned-price INPUT,OUTPUT (USD per 1M tokens)"
)
PRICE_NOTE = (
    "Costs use list prices as published (see each side's price source); verify before "
    "budgeting. They count tokens only: no cached-input or batch discounts, no hourly hosting."
)


class ItemResult(BaseModel):
    """One eval item on one side: what was asked, the answer, its scores and tokens."""

    model_config = ConfigDict(frozen=True)

    index: int
    """Position in the eval set (0-based)."""
    origin: str
    """Where the item came from: ``eval.jsonl:3``."""
    messages: list[dict[str, Any]]
    """The eval item's conversation as sent, without few-shot turns or the reference."""
    reference: str
    """The reference answer (the item's last assistant message)."""
    answer: str | None = None
    """The model's answer; ``None`` when the request failed (see :attr:`error`)."""
    error: str | None = None
    """Why the request failed (after the provider's retries)."""
    scores: dict[str, float] = Field(default_factory=dict)
    """Scorer name to score (0..1 for the built-in scorers and judges)."""
    score_errors: dict[str, str] = Field(default_factory=dict)
    """Scorer name to why it gave no score (a judge's reply without a number...)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    """Time the request took."""


class Summary(BaseModel):
    """One side's figures over the whole eval set."""

    model_config = ConfigDict(frozen=True)

    requests: int
    errors: int
    """Requests that failed (they are left out of every mean)."""
    quality: dict[str, float | None]
    """Mean score per scorer over the items it scored; ``None`` when it scored none."""
    scored: dict[str, int]
    """Items each scorer scored."""
    score_errors: dict[str, int]
    """Items each scorer could not score."""
    mean_prompt_tokens: float | None
    mean_completion_tokens: float | None
    cost_per_1k: float | None
    """USD for 1,000 requests like these (mean tokens x price); ``None`` without a price."""


class Side(BaseModel):
    """One model's run through the eval set."""

    model_config = ConfigDict(frozen=True)

    role: Literal["base", "tuned"]
    model: str
    provider: str
    few_shot: int = 0
    """Examples prepended to every request as user/assistant turns."""
    few_shot_messages: list[dict[str, Any]] = Field(default_factory=list)
    """Those turns, as sent before every eval item's own messages."""
    price: Price | None = None
    items: list[ItemResult]
    summary: Summary

    @property
    def label(self) -> str:
        """``base`` or ``fine-tuned``, with few-shot when used."""
        name = "base" if self.role == "base" else "fine-tuned"
        return f"{name} ({self.few_shot}-shot)" if self.few_shot else name


class Difference(BaseModel):
    """Fine-tuned minus base: positive quality is better, negative tokens and cost save."""

    model_config = ConfigDict(frozen=True)

    quality: dict[str, float | None]
    mean_prompt_tokens: float | None
    mean_completion_tokens: float | None
    cost_per_1k: float | None


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(items: Sequence[ItemResult], scorers: Sequence[str], price: Price | None) -> Summary:
    """A side's :class:`Summary` from its items (failed requests are left out of the means)."""
    answered = [item for item in items if item.error is None]
    prompt = _mean([item.prompt_tokens for item in answered])
    completion = _mean([item.completion_tokens for item in answered])
    cost = None
    if price is not None and prompt is not None and completion is not None:
        cost = price.per_1k_requests(prompt_tokens=prompt, completion_tokens=completion)
    return Summary(
        requests=len(items),
        errors=len(items) - len(answered),
        quality={s: _mean([i.scores[s] for i in answered if s in i.scores]) for s in scorers},
        scored={s: sum(s in i.scores for i in answered) for s in scorers},
        score_errors={s: sum(s in i.score_errors for i in answered) for s in scorers},
        mean_prompt_tokens=prompt,
        mean_completion_tokens=completion,
        cost_per_1k=cost,
    )


def _minus(a: float | None, b: float | None, digits: int = 4) -> float | None:
    return None if a is None or b is None else round(a - b, digits)


def difference(base: Summary, tuned: Summary) -> Difference:
    """``tuned`` minus ``base``, figure by figure (``None`` where either is unknown)."""
    return Difference(
        quality={s: _minus(tuned.quality[s], base.quality.get(s)) for s in tuned.quality},
        mean_prompt_tokens=_minus(tuned.mean_prompt_tokens, base.mean_prompt_tokens),
        mean_completion_tokens=_minus(tuned.mean_completion_tokens, base.mean_completion_tokens),
        cost_per_1k=_minus(tuned.cost_per_1k, base.cost_per_1k, 10),
    )


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _number(value: float | None, digits: int = 3, *, sign: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _money(value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return "n/a"
    if value == 0:
        return "$0"
    text = f"{abs(value):.4f}" if abs(value) >= 0.01 or value == 0 else f"{abs(value):.3g}"
    prefix = ("-" if value < 0 else "+") if sign else ("-" if value < 0 else "")
    return f"{prefix}${text}"


class ComparisonReport(BaseModel):
    """Base model versus fine-tuned model on one eval set. Print it for a table, or write it
    with :meth:`to_json` and :meth:`to_html`::

        report = compare(base, tuned, "eval.jsonl", few_shot=3, few_shot_pool="shots.jsonl")
        print(report)                        # the table
        report.to_html("report.html", job=job)
        assert report.tuned_wins()
    """

    model_config = ConfigDict(frozen=True)

    eval_set: str
    """The eval set's name (its file name)."""
    examples: int
    scorers: list[str]
    base: Side
    tuned: Side
    difference: Difference
    created_at: datetime
    seconds: float
    """Time the whole comparison took."""
    judge_tokens: dict[str, int] = Field(default_factory=dict)
    """Tokens the judges used (``prompt_tokens``, ``completion_tokens``), not in the costs."""
    price_note: str = PRICE_NOTE
    made_with: Literal["python", "cli"] = "python"
    """Where the comparison was run, so that the report says how to give prices there:
    ``prices=`` to :func:`~ftsdk.compare.compare`, or ``--base-price`` / ``--tuned-price``
    to ``ftsdk compare``."""

    @property
    def price_hint(self) -> str:
        """How to give your own prices, in the words of where the report was made."""
        return PRICES_ON_THE_COMMAND_LINE if self.made_with == "cli" else PRICES_IN_PYTHON

    def tuned_wins(self, scorer: str | None = None) -> bool:
        """Whether the fine-tuned model scored higher than the base on ``scorer`` (default:
        the first scorer)."""
        name = scorer or self.scorers[0]
        if name not in self.scorers:
            from ftsdk.errors import InvalidRequest

            raise InvalidRequest(
                f"no scorer {name!r} in this report; it has {', '.join(self.scorers)}",
                field="scorer",
            )
        base, tuned = self.base.summary.quality[name], self.tuned.summary.quality[name]
        return tuned is not None and (base is None or tuned > base)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The summary table's rows: figure, base, fine-tuned, difference."""
        b, t, d = self.base.summary, self.tuned.summary, self.difference
        rows = [
            (s, _number(b.quality[s]), _number(t.quality[s]), _number(d.quality[s], sign=True))
            for s in self.scorers
        ]
        rows += [
            (
                "prompt tokens / request",
                _number(b.mean_prompt_tokens, 1),
                _number(t.mean_prompt_tokens, 1),
                _number(d.mean_prompt_tokens, 1, sign=True),
            ),
            (
                "completion tokens / request",
                _number(b.mean_completion_tokens, 1),
                _number(t.mean_completion_tokens, 1),
                _number(d.mean_completion_tokens, 1, sign=True),
            ),
            (
                "cost / 1,000 requests",
                _money(b.cost_per_1k),
                _money(t.cost_per_1k),
                _money(d.cost_per_1k, sign=True),
            ),
            ("failed requests", str(b.errors), str(t.errors), ""),
        ]
        return rows

    def table(self) -> str:
        """The summary as a plain, aligned text table."""
        header = ("", self.base.label, self.tuned.label, "tuned - base")
        rows = [header, *self.rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]

        def line(row: tuple[str, ...]) -> str:
            cells = [row[0].ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            return "  ".join(cells).rstrip()

        lines = [
            f"{self.examples} examples from {self.eval_set}",
            f"base:       {self.base.model} ({self.base.provider})",
            f"fine-tuned: {self.tuned.model} ({self.tuned.provider})",
            "",
            line(header),
            "  ".join("-" * w for w in widths),
            *(line(row) for row in rows[1:]),
        ]
        failed = {
            s: self.base.summary.score_errors[s] + self.tuned.summary.score_errors[s]
            for s in self.scorers
        }
        errors = {s: n for s, n in failed.items() if n}
        if errors:
            listed = ", ".join(f"{s} {n}" for s, n in errors.items())
            lines.append(f"items a scorer could not score: {listed}")
        if self.base.price is None or self.tuned.price is None:
            lines.append(f"cost n/a: no recorded price for that model; {self.price_hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """The whole report as JSON (written to ``path`` too when given); read it back with
        ``ComparisonReport.model_validate_json``."""
        text = self.model_dump_json(indent=indent)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)  # as to_html does
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def to_html(
        self,
        path: str | Path,
        *,
        job: Job | None = None,
        metrics: Sequence[Metric] | None = None,
        plots: bool | None = None,
    ) -> Path:
        """Write one self-contained HTML file (no external resources): the summary table,
        the plots as embedded PNG images, and every item with both answers and their scores.

        :param job: the fine-tuning job: its loss (and accuracy) curves are plotted.
        :param metrics: the job's metrics, when you have them without the job.
        :param plots: ``True`` requires matplotlib (``ftsdk[plots]``), ``False`` leaves the
            plots out, ``None`` draws them when matplotlib is installed.
        :returns: the path written.
        """
        from ftsdk.compare.html import render

        if job is not None and metrics is None:
            from ftsdk.errors import UnsupportedOperation

            try:
                metrics = job.metrics()
            except UnsupportedOperation:  # a provider without metrics: no curves to draw
                metrics = None
        figures: list[tuple[str, bytes]] = []
        if plots is None:
            plots = _has_matplotlib()
        if plots:
            from ftsdk.compare import plots as charts

            figures.append(("Base vs fine-tuned", charts.comparison_bars(self)))
            if metrics and charts.has_curves(metrics):
                figures.append(("Training", charts.training_curves(metrics)))
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        title = f"Job {job.id} ({job.provider})" if job is not None else None
        target.write_text(render(self, figures, job_label=title), encoding="utf-8")
        return target
