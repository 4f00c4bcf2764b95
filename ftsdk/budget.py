"""Spend control: a limit on what one run may cost.

Before anything is uploaded, :func:`check` estimates the run with the estimates ftsdk
already makes (:meth:`ftsdk.Dataset.estimate_cost` for services billed by token,
:meth:`ftsdk.Dataset.estimate_training` x a USD per GPU-hour rate for local training) and
raises :class:`~ftsdk.errors.BudgetExceeded` when the estimate is over the limit. A limit on
a run whose price ftsdk does not know is an error saying what to provide, never a pass.

Services that bill by the hour (reinforcement fine-tuning, AutoTrain on hosted hardware)
cannot be estimated before the run: there :func:`watch` follows the job and pauses (or
cancels) it before its running cost crosses the limit, with an event saying why, at the
rate you give or the one the provider's data rules record (Azure's o4-mini: $100 an hour)::

    client.train(spec, max_cost=20)                            # refused if estimated over $20
    client.train(spec, max_cost=ftsdk.Budget(20, per_hour=100))  # watched: paused at $20

The limit is on training. A deployed fine-tune costs more by the hour where the provider
bills hosting (Azure: $1.70 an hour on Standard and Global Standard, recorded in its data
rules); :attr:`SpendEstimate.hosting` says so.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from ftsdk.errors import BudgetExceeded, FtsdkError, InvalidRequest

if TYPE_CHECKING:
    from ftsdk._client import Client
    from ftsdk.dataset import Dataset, Target
    from ftsdk.jobs import Job, JobEvent
    from ftsdk.spec import JobSpec

__all__ = [
    "MAX_COST_ENV",
    "Budget",
    "BudgetWatch",
    "SpendEstimate",
    "check",
    "estimate_spend",
    "is_time_billed",
    "resolve",
    "watch",
    "watching",
]

MAX_COST_ENV = "FTSDK_MAX_COST"
log = logging.getLogger("ftsdk.budget")


@dataclass(frozen=True)
class Budget:
    """A spending limit in USD, with the prices ftsdk does not know by itself.

    ``max_cost=20`` anywhere is ``Budget(20)``.

    >>> Budget(20, per_million_tokens=4.0).usd
    20.0
    """

    usd: float
    """The most one run may cost, USD."""
    per_million_tokens: float | None = None
    """USD per 1M training tokens, for a service billed by token whose price the table does
    not record (Azure's depends on region and training tier); overrides
    ``FTSDK_<PROVIDER>_TOKEN_PRICE`` and the table's."""
    per_hour: float | None = None
    """USD per hour. Local providers: the GPU-hour rate the estimate is priced at (else
    ``FTSDK_GPU_HOUR_PRICE``). Hosted ones: the job is billed by the hour of training, and
    :func:`watch` pauses it at the limit (default: the model's recorded hourly rate, where
    the provider records one)."""
    gpu: str | None = None
    """Local: the GPU of the table (``gpus.json``) the hours are estimated on; default the
    slowest one that fits the run (the highest estimate)."""
    action: Literal["pause", "cancel"] = "pause"
    """What :func:`watch` does at the limit (``cancel`` where the provider cannot pause)."""
    poll_interval: float = 10.0
    """Real seconds between two looks at a watched job."""
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    """Seconds the watch measures running time on (tests give the emulator's clock)."""

    def __post_init__(self) -> None:
        for name in ("usd", "per_million_tokens", "per_hour"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise InvalidRequest(
                    f"{'max_cost' if name == 'usd' else name} must be USD, 0 or more, not {value}",
                    field="max_cost",
                )
        object.__setattr__(self, "usd", float(self.usd))
        if self.action not in ("pause", "cancel"):
            raise InvalidRequest(f"action must be pause or cancel, not {self.action!r}")


@dataclass(frozen=True)
class SpendEstimate:
    """What a run is expected to cost, and what drives it."""

    usd: float | None
    """USD; ``None`` for a run billed by the hour (known only as it runs)."""
    basis: Literal["tokens", "gpu-hours", "hours"]
    drivers: str
    """The figures the cost is made of, in words."""
    hosting: str | None = None
    """What the fine-tune costs by the hour once deployed, in words, where the provider
    bills hosting (``"then $1.70/hour while deployed (Standard/Global Standard)"``): not
    in :attr:`usd`, nor under the limit."""

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly view."""
        return {
            "usd": self.usd,
            "basis": self.basis,
            "drivers": self.drivers,
            "hosting": self.hosting,
        }


def resolve(max_cost: float | Budget | None, spec: JobSpec | None = None) -> Budget | None:
    """The limit that applies: ``max_cost``, else the spec's ``max_cost``, else
    ``FTSDK_MAX_COST``, else none.

    :raises InvalidRequest: ``FTSDK_MAX_COST`` is not a number of USD.
    """
    if isinstance(max_cost, Budget):
        return max_cost
    if max_cost is not None:
        return Budget(float(max_cost))
    if spec is not None and spec.max_cost is not None:
        return Budget(spec.max_cost)
    raw = os.environ.get(MAX_COST_ENV, "").strip()
    if not raw:
        return None
    try:
        return Budget(float(raw.removeprefix("$")))
    except ValueError:
        raise InvalidRequest(
            f"{MAX_COST_ENV} must be USD (say 25 or 2.50), not {raw!r}", field="max_cost"
        ) from None


def _target(provider: str, spec: JobSpec) -> Target | None:
    from ftsdk.dataset import Target

    try:
        return Target.for_model(provider, spec.base_model)
    except InvalidRequest as err:
        if err.field == "token_price":  # FTSDK_<PROVIDER>_TOKEN_PRICE is malformed
            raise
        return None


def _hourly(target: Target | None, budget: Budget) -> float | None:
    """The hourly rate of a hosted run: the budget's, else the model's recorded one."""
    if target is not None and target.hf_tokenizer is not None:
        return None  # local: GPU-hours are estimated, not watched
    if budget.per_hour is not None:
        return budget.per_hour
    return target.price_per_hour if target is not None else None


def is_time_billed(provider: str, spec: JobSpec, budget: Budget) -> bool:
    """Whether the run is billed by the hour on a hosted service (watched, not estimated):
    an hourly rate given (``Budget(per_hour=...)``), or one recorded for the model (RFT)."""
    return _hourly(_target(provider, spec), budget) is not None


def _hosting(target: Target | None) -> str | None:
    from ftsdk.dataset.cost import CostEstimate

    if target is None:
        return None
    return CostEstimate(0, 1, False, None, hosting_per_hour=target.hosting_per_hour).hosting


def _dataset(spec: JobSpec, provider: str) -> Dataset:
    """The spec's training data, to count: an uploaded file cannot be."""
    from ftsdk.dataset import Dataset
    from ftsdk.files import FileRef

    source = spec.training_data
    if isinstance(source, FileRef):
        raise InvalidRequest(
            f"max_cost: the training data is an uploaded file ({source.id}); the estimate of "
            f"a run on {provider} counts the tokens of local data: give the file itself",
            field="max_cost",
            provider=provider,
        )
    return source if isinstance(source, Dataset) else Dataset.load(source)


def estimate_spend(provider: str, spec: JobSpec, budget: Budget) -> SpendEstimate:
    """What ``spec`` would cost on ``provider``, from ftsdk's estimates and ``budget``'s
    prices.

    :raises InvalidRequest: the price is not known (the message says what to give), or the
        data cannot be counted.
    """
    target = _target(provider, spec)
    hourly = _hourly(target, budget)
    if hourly is not None:
        whose = (
            ""
            if budget.per_hour is not None or target is None
            else f", {target.model}'s list price recorded {target.recorded}"
        )
        note = f"; {target.price_note}" if target is not None and target.price_note else ""
        return SpendEstimate(
            None,
            "hours",
            f"hours of training x ${hourly:,.2f} per hour{whose} (watched){note}",
            _hosting(target),
        )
    if target is None:
        raise InvalidRequest(
            f"max_cost: ftsdk has no prices for {provider}/{spec.base_model}, so a limit "
            "cannot be checked before the run; for a service billed by the hour give its rate "
            "(Budget(usd, per_hour=...) or --hour-price) and the job is watched",
            field="max_cost",
            provider=provider,
        )
    dataset = _dataset(spec, provider)
    if target.hf_tokenizer is not None:
        return _local(dataset, target, spec, budget)
    if budget.per_million_tokens is not None:
        target = target.with_token_price(budget.per_million_tokens)
    price = target.price_per_million
    if price is None:
        ways = (
            "Budget(usd, per_million_tokens=...) in Python, --token-price on the command "
            f"line or {target.token_price_env}"
        )
        raise InvalidRequest(
            f"max_cost: no recorded training price for {target.label}, so the limit cannot be "
            f"checked: {target.how_to_price(ways)}",
            field="max_cost",
            provider=provider,
        )
    cost = dataset.estimate_cost(target, epochs=spec.method.epochs)
    usd = cost.usd if cost.usd is not None else 0.0
    auto = " (auto)" if cost.epochs_auto else ""
    drivers = f"{cost.tokens:,} tokens x {cost.epochs} epochs{auto} x ${price:,.2f} per 1M tokens"
    if target.price_source not in (None, "recorded", "given"):
        drivers += f" (from {target.price_source})"
    return SpendEstimate(usd, "tokens", drivers, cost.hosting)


def _local(dataset: Dataset, target: Target, spec: JobSpec, budget: Budget) -> SpendEstimate:
    from ftsdk.dataset.estimate import GPU_HOUR_PRICE_ENV, gpu_hour_price_from_env
    from ftsdk.spec import DPO, SFT

    rate = budget.per_hour if budget.per_hour is not None else gpu_hour_price_from_env()
    if rate is None:
        raise InvalidRequest(
            f"max_cost: {target.provider} trains on your GPUs, priced by the hour: give a "
            "rate in USD per GPU-hour (Budget(usd, per_hour=...), --hour-price or "
            f"{GPU_HOUR_PRICE_ENV}) to check a limit",
            field="max_cost",
            provider=target.provider,
        )
    method = spec.method if isinstance(spec.method, SFT | DPO) else None
    estimate = dataset.estimate_training(target, method, gpu_hour_price=rate)
    fits = [fit for fit in estimate.gpus if fit.fits] or list(estimate.gpus)
    if budget.gpu is not None:
        fits = [fit for fit in estimate.gpus if fit.gpu.name == budget.gpu]
        if not fits:
            known = ", ".join(fit.gpu.name for fit in estimate.gpus)
            raise InvalidRequest(f"gpu {budget.gpu!r} is not in the table; known: {known}")
    fit = max(fits, key=lambda f: f.seconds)  # the highest estimate among the choices
    which = "the GPU given" if budget.gpu else "the slowest GPU that fits"
    drivers = (
        f"{estimate.tokens:,} tokens x {estimate.epochs} epochs = {fit.gpu_hours:.3g} "
        f"GPU-hours on {fit.gpu.name} ({which}, estimate ±50 %) x ${rate:,.2f} per GPU-hour"
    )
    return SpendEstimate(fit.cost or 0.0, "gpu-hours", drivers)


def check(provider: str, spec: JobSpec, budget: Budget) -> SpendEstimate:
    """Estimate ``spec`` on ``provider`` and refuse it when over ``budget``.

    :raises BudgetExceeded: the estimate is over the limit (naming estimate, limit, drivers).
    :raises InvalidRequest: the price is not known (saying what to give).
    """
    estimate = estimate_spend(provider, spec, budget)
    if estimate.usd is not None and estimate.usd > budget.usd:
        raise BudgetExceeded(
            f"estimated ${estimate.usd:,.4g} on {provider}/{spec.base_model} is over the limit "
            f"of ${budget.usd:,.2f} (max_cost): {estimate.drivers}; nothing was uploaded",
            estimate=estimate.usd,
            limit=budget.usd,
            drivers=estimate.drivers,
            provider=provider,
        )
    return estimate


class BudgetWatch:
    """Follows a job billed by the hour and pauses (or cancels) it before its running cost
    crosses the limit. Runs in a daemon thread of the process that started it.

    Running time is what the watch sees: from the look before the job was first seen
    ``running`` (so queue time may be counted: the estimate errs high), paused time not.
    It acts when an interval as long as the longest so far would take the cost over the
    limit.
    """

    def __init__(
        self,
        client: Client,
        job_id: str,
        budget: Budget,
        *,
        on_event: Callable[[JobEvent], None] | None = None,
    ) -> None:
        if budget.per_hour is None:
            raise InvalidRequest("a watch needs the hourly rate: Budget(usd, per_hour=...)")
        self.client, self.job_id, self.budget = client, job_id, budget
        self.events: list[JobEvent] = []
        """What the watch did, as job events (``ftsdk-budget-*`` ids)."""
        self.running_seconds = 0.0
        self.error: FtsdkError | None = None
        """The last error met while looking at the job (the watch goes on)."""
        self._on_event = on_event
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"ftsdk-budget-{job_id}", daemon=True
        )

    @property
    def cost(self) -> float:
        """USD accrued so far: running hours x the rate."""
        return self.running_seconds / 3600 * (self.budget.per_hour or 0.0)

    def start(self) -> BudgetWatch:
        """Start watching."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (the job goes on)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job ended or the watch acted; whether it did within ``timeout``."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        from ftsdk.jobs import JobStatus

        clock, rate = self.budget.clock, self.budget.per_hour or 0.0
        last = clock()
        longest = 0.0  # the longest interval between two looks: the next may be as long
        while not self._stop.is_set():
            try:
                job = self.client.job(self.job_id)
            except FtsdkError as err:  # transient ones were retried already
                self.error = err
                log.warning("budget watch of %s: %s", self.job_id, err)
                self._stop.wait(self.budget.poll_interval)
                continue
            now = clock()
            step = max(now - last, 0.0)
            last = now
            longest = max(longest, step)
            if job.status.is_terminal:
                return
            if job.status == JobStatus.RUNNING:
                self.running_seconds += step
                if self.cost + longest / 3600 * rate >= self.budget.usd:
                    self._act(job, now)
                    return
            self._stop.wait(self.budget.poll_interval)

    def _act(self, job: Job, now: float) -> None:
        from ftsdk.capabilities import Operation
        from ftsdk.jobs import JobEvent

        pause = self.budget.action == "pause" and self.client.capabilities.supports(Operation.PAUSE)
        verb = "paused" if pause else "cancelled"
        hours = self.running_seconds / 3600
        message = (
            f"ftsdk {verb} the job: its running cost ${self.cost:,.2f} ({hours:.3g} h x "
            f"${self.budget.per_hour:,.2f} per hour) would cross the limit of "
            f"${self.budget.usd:,.2f} (max_cost) before the next look"
        )
        try:
            job.pause() if pause else job.cancel()
        except FtsdkError as err:
            self.error = err
            message = f"ftsdk could not stop the job at the limit of ${self.budget.usd:,.2f}: {err}"
        event = JobEvent(
            id=f"ftsdk-budget-{len(self.events) + 1}",
            created_at=datetime.fromtimestamp(now, UTC),
            level="warning" if self.error is None else "error",
            message=message,
        )
        self.events.append(event)
        log.warning("%s %s: %s", self.client.name, self.job_id, message)
        if self._on_event is not None:
            self._on_event(event)


_WATCHES: dict[tuple[str, str], BudgetWatch] = {}
_LOCK = threading.Lock()


def watch(
    client: Client,
    job: Job | str,
    budget: Budget,
    *,
    on_event: Callable[[JobEvent], None] | None = None,
) -> BudgetWatch:
    """Start (or return the running) watch of ``job``, billed at ``budget.per_hour``.

    :meth:`ftsdk.Client.train` starts one by itself for a run billed by the hour; call this
    to watch a job started elsewhere, from any process.
    """
    job_id = job if isinstance(job, str) else job.id
    with _LOCK:
        found = _WATCHES.get((client.name, job_id))
        if found is not None and found._thread.is_alive():
            return found
        _WATCHES[(client.name, job_id)] = made = BudgetWatch(
            client, job_id, budget, on_event=on_event
        )
    return made.start()


def watch_if_time_billed(
    client: Client, job: Job, spec: JobSpec, max_cost: float | Budget | None
) -> BudgetWatch | None:
    """Start the watch of a just-started ``job`` when its limit applies to a run billed by
    the hour (what :meth:`ftsdk.Client.train` calls)."""
    limit = resolve(max_cost, spec)
    if limit is None:
        return None
    hourly = _hourly(_target(client.name, spec), limit)
    if hourly is None:
        return None
    return watch(client, job, dataclasses.replace(limit, per_hour=hourly))


def watching(job: Job) -> BudgetWatch | None:
    """The watch started in this process for ``job``, if any."""
    with _LOCK:
        return _WATCHES.get((job.provider, job.id))
