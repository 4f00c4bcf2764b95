"""``ftsdk.sweep``: trials are ftsdk jobs, Optuna picks their hyperparameters.

Optuna's ask-and-tell interface drives the search (its samplers and pruners; nothing here
searches by itself). The study lives in Optuna's RDB storage, by default SQLite in the
ftsdk home, with each trial's provider and job id as user attributes: a sweep run again
with the same name re-attaches to the jobs its trials had started and goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftsdk import budget as spend
from ftsdk.errors import ConfigurationError, FtsdkError, InvalidRequest
from ftsdk.home import ftsdk_home, make_folder
from ftsdk.spec import JobSpec
from ftsdk.sweeps.objective import Direction, JobMetric, Objective, objective_of
from ftsdk.sweeps.report import (
    DRIVERS,
    ESTIMATE,
    JOB,
    NOT_STARTED,
    NOTE,
    PROVIDER_ATTR,
    STOPPED,
    SweepResult,
)
from ftsdk.sweeps.space import PROVIDER, space_of, with_params

if TYPE_CHECKING:
    import optuna

    from ftsdk._client import Client
    from ftsdk.jobs import Job

__all__ = ["Entry", "default_storage", "sweep"]

log = logging.getLogger("ftsdk.sweep")

MAX_START_FAILURES = 3
"""Trials in a row the provider refused to start: the sweep then stops with the error
(what is wrong is the spec or the set-up, not the hyperparameters)."""


@dataclass(frozen=True)
class Entry:
    """One provider a sweep may train on, and the base model it trains there."""

    label: str
    client: Client
    base_model: str | None = None
    """``None``: the spec's."""


def default_storage() -> str:
    """``sqlite:///<ftsdk home>/sweeps.db``."""
    folder = make_folder(ftsdk_home())
    return f"sqlite:///{folder / 'sweeps.db'}"


def _entries(providers: Sequence[Any] | None) -> list[Entry]:
    import ftsdk

    found: list[Entry] = []
    for item in providers or [None]:
        client, model = item if isinstance(item, tuple) else (item, None)
        made = client if isinstance(client, ftsdk.Client) else ftsdk.client(client)
        label = made.name if model is None else f"{made.name}:{model}"
        if any(e.label == label for e in found):
            raise InvalidRequest(f"providers: {label} given twice", field="providers")
        found.append(Entry(label, made, model))
    return found


def _name(spec: JobSpec, space: Mapping[str, Any], entries: list[Entry], metric: str) -> str:
    """A name from what defines the sweep, so the same sweep run again finds its study."""
    data = {name: _source_key(getattr(spec, name)) for name in ("training_data", "validation_data")}
    described = json.dumps(
        {
            "spec": spec.model_dump(mode="json", exclude={"max_cost", *data}) | data,
            "space": {k: repr(v) for k, v in sorted(space.items())},
            "providers": [e.label for e in entries],
            "metric": metric,
        },
        sort_keys=True,
        default=str,
    )
    return "sweep-" + hashlib.sha256(described.encode()).hexdigest()[:12]


def _source_key(source: Any) -> str | None:
    """Data as the sweep's name knows it: a file by its path, an uploaded file by its id, a
    dataset in memory by its content."""
    from ftsdk.dataset import Dataset
    from ftsdk.files import FileRef

    if isinstance(source, Dataset):
        return f"dataset:{source.content_hash()}"
    if isinstance(source, FileRef):
        return f"file:{source.id}"
    return None if source is None else str(source)


class _Sweep:
    """The trials of one sweep run: asked, started, followed and told, one lock around
    every use of the study (SQLite takes one writer at a time)."""

    def __init__(
        self,
        study: optuna.Study,
        *,
        spec: JobSpec,
        distributions: dict[str, Any],
        entries: list[Entry],
        objective: Objective,
        limit: spend.Budget | None,
        max_trials: int,
        poll_interval: float,
        on_trial: Callable[[optuna.trial.FrozenTrial], None] | None,
    ) -> None:
        self.study, self.spec, self.distributions = study, spec, distributions
        self.entries = {e.label: e for e in entries}
        self.objective, self.limit = objective, limit
        self.max_trials, self.poll_interval, self.on_trial = max_trials, poll_interval, on_trial
        self.lock = threading.RLock()
        self.stop = threading.Event()
        """Set on an interruption: workers leave their trials running (re-attachable)."""
        self.stopped_by: str | None = None
        """Why no more trials start: ``"budget"`` or ``"max_trials"``."""
        self.errors: list[BaseException] = []
        self.resumed: list[optuna.trial.FrozenTrial] = []
        self.refused_in_a_row = 0
        self.pruning = not isinstance(study.pruner, _nop_pruner())

    # -- what the study already holds ----------------------------------------------------
    def started(self) -> list[optuna.trial.FrozenTrial]:
        """Trials that started a job (or are starting one, or were refused when starting):
        what ``max_trials`` counts."""
        return [
            t for t in self.study.get_trials(deepcopy=False) if not t.user_attrs.get(STOPPED)
            and (JOB in t.user_attrs or NOT_STARTED in t.user_attrs or t.state.name == "RUNNING")
        ]  # fmt: skip

    def spent(self) -> float:
        """USD estimated for every trial that started a job."""
        return sum(float(t.user_attrs.get(ESTIMATE) or 0.0) for t in self.started())

    def take_over(self) -> None:
        """Trials a run before left running: re-attached when they have a job, failed when
        they were stopped before their job started."""
        from optuna.trial import TrialState

        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if JOB in trial.user_attrs and trial.user_attrs.get(PROVIDER_ATTR) in self.entries:
                self.resumed.append(trial)
            else:
                self.study.tell(trial.number, state=TrialState.FAIL)

    # -- one worker --------------------------------------------------------------------
    def work(self) -> None:
        try:
            while not self.stop.is_set():
                with self.lock:
                    if self.resumed:
                        frozen = self.resumed.pop(0)
                        trial = self._trial(frozen.number)
                        entry = self.entries[frozen.user_attrs[PROVIDER_ATTR]]
                        job = entry.client.job(frozen.user_attrs[JOB])
                        log.info("trial %d: re-attached to job %s", frozen.number, job.id)
                    else:
                        started = self._start()
                        if started is None:
                            return
                        trial, entry, spec = started
                        job = None
                if job is None:
                    job = self._train(trial, entry, spec)
                    if job is None:
                        continue
                self._follow(trial, job)
        except BaseException as err:  # a worker thread's error goes to the caller
            self.errors.append(err)
            self.stop.set()

    def _trial(self, number: int) -> optuna.Trial:
        import optuna

        trial_id = self.study.get_trials(deepcopy=False)[number]._trial_id
        return optuna.Trial(self.study, trial_id)

    def _start(self) -> tuple[optuna.Trial, Entry, JobSpec] | None:
        """Ask for the next trial, or say why there is none (under the lock)."""
        from optuna.trial import TrialState

        if self.stopped_by is not None:
            return None
        if len(self.started()) >= self.max_trials:
            self.stopped_by = self.stopped_by or "max_trials"
            return None
        trial = self.study.ask(self.distributions)
        params = dict(trial.params)
        label = str(params.get(PROVIDER, next(iter(self.entries))))
        entry = self.entries[label]
        spec = with_params(self.spec, params)
        if entry.base_model is not None:
            spec = spec.model_copy(update={"base_model": entry.base_model})
        spec = spec.model_copy(update={"max_cost": None})  # the sweep's limit is the total
        trial.set_user_attr(PROVIDER_ATTR, label)
        if self.limit is not None:
            try:
                estimate = spend.estimate_spend(entry.client.name, spec, self.limit)
            except FtsdkError as err:
                self.study.tell(trial, state=TrialState.FAIL)
                raise err
            if estimate.usd is None:
                self.study.tell(trial, state=TrialState.FAIL)
                raise InvalidRequest(
                    f"max_cost: {label} bills by the hour; a sweep stops before a trial whose "
                    "estimate would cross the budget, so it needs trials priced beforehand",
                    field="max_cost",
                )
            spent = self.spent()
            trial.set_user_attr(DRIVERS, estimate.drivers)
            if spent + estimate.usd > self.limit.usd:
                note = (
                    f"not started: its estimate ${estimate.usd:,.4g} ({estimate.drivers}) "
                    f"would take the sweep to ${spent + estimate.usd:,.4g}, over the budget of "
                    f"${self.limit.usd:,.2f}"
                )
                trial.set_user_attr(STOPPED, True)
                trial.set_user_attr(NOTE, note)
                self.study.tell(trial, state=TrialState.FAIL)
                log.warning("sweep stopped: trial %d %s", trial.number, note)
                self.stopped_by = "budget"
                return None
            trial.set_user_attr(ESTIMATE, estimate.usd)
        return trial, entry, spec

    def _train(self, trial: optuna.Trial, entry: Entry, spec: JobSpec) -> Job | None:
        from optuna.trial import TrialState

        try:
            job = entry.client.train(spec, max_cost=self.limit)  # its prices, not the env's
        except FtsdkError as err:
            with self.lock:
                trial.set_user_attr(NOT_STARTED, True)
                trial.set_user_attr(NOTE, f"not started: {err}")
                self.study.tell(trial, state=TrialState.FAIL)
                self.refused_in_a_row += 1
                if self.refused_in_a_row >= MAX_START_FAILURES:
                    raise
            log.warning("trial %d not started: %s", trial.number, err)
            return None
        with self.lock:
            self.refused_in_a_row = 0
            trial.set_user_attr(JOB, job.id)
        log.info("trial %d: job %s on %s, %s", trial.number, job.id, entry.label, trial.params)
        return job

    def _follow(self, trial: optuna.Trial, job: Job) -> None:
        """Wait for the job, reporting its metric to the pruner as it logs it; tell the
        study how it ended."""
        from optuna.trial import TrialState

        from ftsdk.jobs import JobStatus

        last_step = -1
        metric = self.objective if isinstance(self.objective, JobMetric) else None
        if not self.pruning:
            metric = None  # nothing would read the intermediate values: no writes for them
        while True:
            job.refresh()
            if metric is not None and job.status != JobStatus.VALIDATING:
                # the latest value only: each report is a write to the storage
                step, value = max(metric.series(job), default=(-1, 0.0))
                with self.lock:
                    if step > last_step:
                        trial.report(value, step)
                        last_step = step
                    prune = step >= 0 and not job.status.is_terminal and trial.should_prune()
                if prune:
                    job.cancel()
                    self._tell(trial, state=TrialState.PRUNED, note="pruned by the pruner")
                    return
            if job.status.is_terminal:
                break
            if self.stop.wait(self.poll_interval):
                return  # interrupted: the trial stays running, its job re-attachable
        if job.status != JobStatus.SUCCEEDED:
            why = job.error.message if job.error else job.status.value
            self._tell(trial, state=TrialState.FAIL, note=f"job {job.status.value}: {why}")
            return
        try:
            value = self.objective(job)
        except FtsdkError as err:
            self._tell(trial, state=TrialState.FAIL, note=str(err))
            return
        self._tell(trial, value=value)

    def _tell(
        self,
        trial: optuna.Trial,
        *,
        value: float | None = None,
        state: Any = None,
        note: str | None = None,
    ) -> None:
        with self.lock:
            if note is not None:
                trial.set_user_attr(NOTE, note)
            frozen = self.study.tell(trial, value, state=state)
        if self.on_trial is not None:
            self.on_trial(frozen)


def _nop_pruner() -> type[Any]:
    from optuna.pruners import NopPruner

    return NopPruner


def _run_workers(run: _Sweep, parallel: int) -> None:
    if parallel == 1:
        run.work()
    else:
        threads = [
            threading.Thread(target=run.work, name=f"ftsdk-sweep-{i}", daemon=True)
            for i in range(parallel)
        ]
        for thread in threads:
            thread.start()
        try:
            while any(t.is_alive() for t in threads):
                for thread in threads:
                    thread.join(0.2)
        except BaseException:
            run.stop.set()  # Ctrl-C: the jobs go on; a run again re-attaches them
            raise
    if run.errors:
        raise run.errors[0]


def sweep(
    spec: JobSpec | str | Path,
    *,
    space: Mapping[str, Any],
    providers: Sequence[str | Client | tuple[str | Client, str]] | None = None,
    metric: str | Objective = "valid_loss",
    direction: Direction | None = None,
    max_cost: float | spend.Budget | None = None,
    max_trials: int = 10,
    parallel: int = 1,
    name: str | None = None,
    storage: str | None = None,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    poll_interval: float = 5.0,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
) -> SweepResult:
    """Search ``space`` with Optuna: each trial is an ftsdk job, on one of ``providers``,
    scored by ``metric``; stop after ``max_trials`` trials or before the first whose
    estimate would take the sweep's spending over ``max_cost``::

        result = ftsdk.sweep("job.yaml", space={"learning_rate": "1e-4..1e-2 log",
                                                "epochs": [1, 2, 3]},
                             providers=["trl"], max_cost=5, max_trials=12)
        print(result)                   # the table, best trial first
        result.to_html("sweep.html")    # the trials plotted

    Run it again (same spec, space, providers and metric, or the same ``name``) and it goes
    on where it stopped: trials whose jobs were running are re-attached, finished ones kept.

    :param spec: the job every trial starts from (or its file).
    :param space: hyperparameters of the spec's method to search (see
        :mod:`ftsdk.sweeps.space`: Optuna distributions, lists of choices, ``"1e-4..1e-2
        log"``).
    :param providers: names, clients, or ``(provider, base_model)`` pairs; several: the
        provider is searched too. Default: the default provider.
    :param metric: ``"valid_loss"`` (the job's final validation loss), another metric the
        jobs log, or an objective such as :class:`~ftsdk.sweeps.Compared`.
    :param max_cost: the sweep's budget, USD (or a :class:`ftsdk.Budget` with prices), over
        the estimates of every trial started, earlier runs included; default the spec's
        ``max_cost`` or ``FTSDK_MAX_COST``.
    :param max_trials: trials that start a job, earlier runs included.
    :param parallel: trials running at once.
    :param storage: an Optuna storage URL; default SQLite in the ftsdk home.
    :param sampler: an Optuna sampler (default TPE); ``pruner``: an Optuna pruner, given
        each trial's metric as its job logs it (default none).
    :raises InvalidRequest: a bad space, a price the budget needs and nobody gave.
    :raises ConfigurationError: Optuna is not installed (``pip install 'ftsdk[sweep]'``).
    """
    try:
        import optuna
    except ImportError as err:
        raise ConfigurationError(
            "sweeps need Optuna, which is not installed: pip install 'ftsdk[sweep]'"
        ) from err
    if isinstance(spec, str | Path):
        spec = JobSpec.from_file(spec)
    for label, value in (("max_trials", max_trials), ("parallel", parallel)):
        if value < 1:
            raise InvalidRequest(f"{label} must be 1 or more, not {value}", field=label)
    entries = _entries(providers)
    distributions = space_of(space, spec)
    if len(entries) > 1:
        distributions[PROVIDER] = optuna.distributions.CategoricalDistribution(
            tuple(e.label for e in entries)
        )
    objective = objective_of(metric, direction)
    limit = spend.resolve(max_cost, spec)
    study_name = name or _name(spec, space, entries, objective.name)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage or default_storage(),
        study_name=study_name,
        direction=objective.direction,
        sampler=sampler,
        pruner=pruner or optuna.pruners.NopPruner(),
        load_if_exists=True,
    )
    run = _Sweep(
        study,
        spec=spec,
        distributions=distributions,
        entries=entries,
        objective=objective,
        limit=limit,
        max_trials=max_trials,
        poll_interval=poll_interval,
        on_trial=on_trial,
    )
    with run.lock:
        run.take_over()
    started = time.monotonic()
    _run_workers(run, parallel)
    return SweepResult.of(
        study,
        metric=objective.name,
        limit=None if limit is None else limit.usd,
        stopped_by=run.stopped_by,
        seconds=time.monotonic() - started,
    )
