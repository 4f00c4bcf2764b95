"""What a sweep trial is scored by: a metric the job logged (its final validation loss by
default), or a :func:`~ftsdk.compare.compare` of the fine-tuned model with a scorer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ftsdk.errors import InvalidRequest

if TYPE_CHECKING:
    from ftsdk.jobs import Job

__all__ = ["Compared", "JobMetric", "Objective", "objective_of"]

Direction = Literal["minimize", "maximize"]


class Objective(Protocol):
    """Scores a finished job; the sweep minimizes or maximizes it."""

    @property
    def name(self) -> str:
        """What the score is called in the sweep's table."""
        ...

    @property
    def direction(self) -> Direction:
        """``"minimize"`` or ``"maximize"``."""
        ...

    def __call__(self, job: Job) -> float:
        """The job's score."""
        ...


@dataclass(frozen=True)
class JobMetric:
    """The last value of a metric the job logged (``valid_loss``, ``train_loss``...)."""

    name: str = "valid_loss"
    direction: Direction = "minimize"

    def series(self, job: Job) -> list[tuple[int, float]]:
        """``(step, value)`` of every step that logged the metric."""
        return [(m.step, m.values[self.name]) for m in job.metrics() if self.name in m.values]

    def __call__(self, job: Job) -> float:
        found = self.series(job)
        if not found:
            hint = " (give the spec validation_data)" if self.name == "valid_loss" else ""
            raise InvalidRequest(
                f"job {job.id} logged no {self.name}{hint}; score trials by another metric, "
                "e.g. metric='train_loss'",
                field="metric",
            )
        return found[-1][1]


@dataclass(frozen=True)
class Compared:
    """The fine-tuned model's quality on ``eval_set`` by ``scorer``, from
    :func:`ftsdk.compare.compare` (maximized)::

        ftsdk.sweep(spec, space=..., metric=Compared("eval.jsonl", scorer="exact_match"))
    """

    eval_set: Any
    scorer: str = "exact_match"
    options: dict[str, Any] = field(default_factory=dict)
    """Other arguments of :func:`~ftsdk.compare.compare` (``max_tokens``, ``few_shot``...)."""
    direction: Direction = "maximize"

    @property
    def name(self) -> str:
        """``compare:<scorer>``."""
        return f"compare:{self.scorer}"

    def __call__(self, job: Job) -> float:
        from ftsdk.compare import compare

        tuned = job.model
        if tuned is None or job.state.base_model is None:
            raise InvalidRequest(f"job {job.id} has no fine-tuned model to compare")
        base = job._client.model(job.state.base_model)
        report = compare(
            base, tuned, self.eval_set, scorers=[self.scorer], progress=False, **self.options
        )
        value = report.tuned.summary.quality.get(self.scorer)
        if value is None:
            raise InvalidRequest(f"compare gave no {self.scorer} score for job {job.id}")
        return float(value)


def objective_of(metric: str | Objective, direction: Direction | None = None) -> Objective:
    """``metric`` as an :class:`Objective`: a name is a :class:`JobMetric` (losses are
    minimized, anything else maximized unless ``direction`` says)."""
    if isinstance(metric, str):
        chosen: Direction = direction or ("minimize" if "loss" in metric else "maximize")
        return JobMetric(metric, chosen)
    return metric
