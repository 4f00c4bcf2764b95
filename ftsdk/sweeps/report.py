"""A sweep's result: every trial with its provider, hyperparameters, job, estimate and score,
the best one, and what was spent; as a table, JSON, or one self-contained HTML page with the
trials plotted (the compare report's page style and figure machinery)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import optuna

__all__ = ["SweepResult", "TrialResult"]

# User attributes of a trial (Optuna's storage keeps them): written by the sweep's run,
# read back here.
JOB, PROVIDER_ATTR, ESTIMATE = "job_id", "provider", "estimate_usd"
DRIVERS, NOTE, STOPPED = "drivers", "note", "stopped_by_budget"
NOT_STARTED = "not_started"

TrialStatus = Literal["complete", "running", "pruned", "failed", "stopped"]


class TrialResult(BaseModel):
    """One trial: a job on a provider, with the hyperparameters Optuna chose.

    Re-attach to its job from any process: ``ftsdk.client(t.provider).job(t.job_id)``.
    """

    model_config = ConfigDict(frozen=True)

    number: int
    status: TrialStatus
    provider: str | None
    params: dict[str, Any]
    job_id: str | None
    value: float | None
    """The score (the metric's final value); ``None`` unless complete."""
    estimate_usd: float | None
    """The estimate the budget counted for it."""
    note: str | None = None
    """Why it failed, was pruned or was not started."""


def _status(trial: optuna.trial.FrozenTrial) -> TrialStatus:
    if trial.user_attrs.get(STOPPED):
        return "stopped"
    return {
        "COMPLETE": "complete",
        "RUNNING": "running",
        "WAITING": "running",
        "PRUNED": "pruned",
        "FAIL": "failed",
    }[trial.state.name]  # type: ignore[return-value]


class SweepResult(BaseModel):
    """What a sweep found::

    print(result)                  # the table
    result.best.params, result.best.job_id
    result.to_json("sweep.json"); result.to_html("sweep.html")
    """

    model_config = ConfigDict(frozen=True)

    name: str
    metric: str
    direction: Literal["minimize", "maximize"]
    trials: list[TrialResult]
    best: TrialResult | None
    limit_usd: float | None
    spent_usd: float
    """The estimates of every trial that started a job."""
    stopped_by: str | None
    """``"budget"``, ``"max_trials"``, or ``None`` (trials left running: interrupted)."""
    seconds: float
    created_at: datetime

    @classmethod
    def of(
        cls,
        study: optuna.Study,
        *,
        metric: str,
        limit: float | None,
        stopped_by: str | None,
        seconds: float,
    ) -> SweepResult:
        """The result of ``study`` as it is stored now."""
        trials = [
            TrialResult(
                number=t.number,
                status=_status(t),
                provider=t.user_attrs.get(PROVIDER_ATTR),
                params=dict(t.params),
                job_id=t.user_attrs.get(JOB),
                value=t.value if t.state.name == "COMPLETE" else None,
                estimate_usd=t.user_attrs.get(ESTIMATE),
                note=t.user_attrs.get(NOTE),
            )
            for t in study.get_trials(deepcopy=False)
        ]
        direction = "maximize" if study.direction.name == "MAXIMIZE" else "minimize"
        done = [t for t in trials if t.value is not None]
        pick = max if direction == "maximize" else min
        best = pick(done, key=lambda t: t.value or 0.0) if done else None
        spent = sum(t.estimate_usd or 0.0 for t in trials if t.job_id is not None)
        return cls(
            name=study.study_name,
            metric=metric,
            direction=direction,
            trials=trials,
            best=best,
            limit_usd=limit,
            spent_usd=round(spent, 6),
            stopped_by=stopped_by,
            seconds=round(seconds, 2),
            created_at=datetime.now(UTC),
        )

    # -- views -------------------------------------------------------------------------
    def param_names(self) -> list[str]:
        """Every hyperparameter searched, in order of first appearance."""
        names: dict[str, None] = {}
        for trial in self.trials:
            names.update(dict.fromkeys(trial.params))
        return list(names)

    def rows(self) -> list[list[str]]:
        """The table: a header, then one row per trial, the best first, then by score."""
        names = self.param_names()
        header = ["#", "status", "provider", *names, self.metric, "estimate", "job"]

        def key(t: TrialResult) -> tuple[int, float, int]:
            sign = -1.0 if self.direction == "maximize" else 1.0
            return (t.value is None, sign * (t.value or 0.0), t.number)

        rows = [header]
        for t in sorted(self.trials, key=key):
            best = " *" if self.best is not None and t.number == self.best.number else ""
            rows.append(
                [
                    f"{t.number}{best}",
                    t.status,
                    t.provider or "",
                    *(_shown(t.params.get(n)) for n in names),
                    "" if t.value is None else f"{t.value:.4f}",
                    "" if t.estimate_usd is None else f"${t.estimate_usd:,.4g}",
                    t.job_id or (t.note or ""),
                ]
            )
        return rows

    def __str__(self) -> str:
        rows = self.rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join([*lines, "", self.summary()])

    def summary(self) -> str:
        """Best trial, spending and why the sweep stopped, in a sentence or three."""
        parts = []
        if self.best is not None:
            parts.append(
                f"best: trial {self.best.number} on {self.best.provider}, {self.metric} "
                f"{self.best.value:.4f}, {_params(self.best.params)} (job {self.best.job_id})"
            )
        else:
            parts.append("best: none yet (no trial completed)")
        budget = "" if self.limit_usd is None else f" of ${self.limit_usd:,.2f}"
        parts.append(f"spent (estimated): ${self.spent_usd:,.4g}{budget}")
        stopped = [t for t in self.trials if t.status == "stopped"]
        if self.stopped_by == "budget" and stopped:
            parts.append(f"stopped by the budget: trial {stopped[-1].number} {stopped[-1].note}")
        elif self.stopped_by == "max_trials":
            parts.append("stopped: max_trials reached")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return self.model_dump(mode="json")

    def to_json(self, path: str | Path | None = None) -> str:
        """The result as JSON (also written to ``path`` when given)."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def figure(self, *, path: str | Path | None = None) -> bytes:
        """The trials plotted, as PNG: the score of each trial in order (best so far as a
        line), and the score against each hyperparameter searched (needs ``ftsdk[plots]``)."""
        from ftsdk.compare.plots import _figure, _png

        done = [t for t in self.trials if t.value is not None]
        numeric = [
            n for n in self.param_names()
            if all(isinstance(t.params.get(n), int | float) for t in done if n in t.params)
        ]  # fmt: skip
        figure = _figure(3.6 * (1 + len(numeric)), 3.4)
        axes = figure.subplots(1, 1 + len(numeric), squeeze=False)[0]
        ax = axes[0]
        if done:
            ax.plot([t.number for t in done], [t.value for t in done], "o", label="trial")
            best_so_far, line = [], None
            for t in done:
                value = float(t.value or 0.0)
                better = line is None or (
                    value > line if self.direction == "maximize" else value < line
                )
                line = value if better else line
                best_so_far.append(line)
            ax.step([t.number for t in done], best_so_far, where="post", label="best so far")
            ax.legend(fontsize=8)
        ax.set_xlabel("trial")
        ax.set_ylabel(self.metric)
        ax.grid(alpha=0.3)
        for ax, name in zip(axes[1:], numeric, strict=True):
            points = [(t.params[name], t.value) for t in done if name in t.params]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, "o")
                if name.startswith("learning_rate") and min(xs) > 0:
                    ax.set_xscale("log")
            ax.set_xlabel(name)
            ax.grid(alpha=0.3)
        figure.suptitle(f"{self.name}: {self.metric} ({self.direction})")
        return _png(figure, path)

    def to_html(self, path: str | Path | None = None) -> str:
        """One self-contained HTML page: the summary, the trials plotted, every trial."""
        from ftsdk.compare.html import _STYLE
        from ftsdk.compare.report import _has_matplotlib

        if _has_matplotlib():
            png = base64.b64encode(self.figure()).decode("ascii")
            plot = (
                f'<figure><img alt="trials" src="data:image/png;base64,{png}"><figcaption '
                'class="muted">Score of each trial, and against each hyperparameter.'
                "</figcaption></figure>"
            )
        else:
            plot = '<p class="muted">Plots left out (install matplotlib: ftsdk[plots]).</p>'
        rows = self.rows()
        head = "".join(f"<th>{escape(h)}</th>" for h in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:]
        )
        summary = "<br>".join(escape(line) for line in self.summary().splitlines())
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ftsdk sweep: {escape(self.name)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Sweep {escape(self.name)}</h1>
<p>{len(self.trials)} trials, {escape(self.metric)} ({self.direction}),
{escape(self.created_at.strftime("%Y-%m-%d %H:%M UTC"))}.</p>
<p>{summary}</p>
<h2>Plots</h2>
{plot}
<h2>Every trial</h2>
<table id="trials"><tr>{head}</tr>{body}</table>
</body></html>
"""
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_shown(v)}" for k, v in params.items()) or "no parameters"
