"""``ftsdk train`` and ``ftsdk jobs``: start a job, and list, show, watch, cancel, pause or
resume one from any terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ftsdk.cli.common import client_from, emit, handle_errors, provider_options
from ftsdk.cli.spend import budget_from, budget_options
from ftsdk.cli.style import paint, status_colour, to_terminal

if TYPE_CHECKING:
    from ftsdk import Client, Job, JobSpec
    from ftsdk.jobs import JobEvent

__all__ = ["jobs", "train"]


def _job_json(job: Job) -> dict[str, Any]:
    return job.state.model_dump(mode="json")


def _job_line(job: Job, progress: str = "") -> str:
    """One job on one line: id, status, base model, result model, then ``progress``."""
    state = job.state
    status = paint(f"{job.status.value:<10}", fg=status_colour(job.status.value))
    if job.raw_status == "damaged" and job.error is not None:  # say what, not "None"
        return f"{job.id}  {status} (damaged)  {job.error.message}"
    model = f"  model={state.result_model}" if state.result_model else ""
    return f"{job.id}  {status} ({job.raw_status})  {state.base_model}{model}{progress}"


def _progress(job: Job, client: Client) -> str:
    """``  step 40/144  loss 0.4123``: where the job is, from its state or, for services
    that say it in their metrics events only, from its latest one."""
    from ftsdk.capabilities import Operation

    state = job.state
    step, total, loss = state.step, state.total_steps, None
    if client.capabilities.supports(Operation.EVENTS):
        for event in reversed(job.events(all=True)):
            if event.type == "metrics" and event.step is not None:
                step = step if step is not None else event.step
                total = total or event.total_steps
                loss = event.metrics.get("train_loss")
                break
    if step is None:
        return ""
    of = f"/{total}" if total else ""
    return f"  step {step}{of}" + (f"  loss {loss:.4f}" if loss is not None else "")


_JOBS_HEADER = "JOB  STATUS (PROVIDER'S STATUS)  BASE MODEL  [MODEL]"


def _spec_from(file: str | None, fields: dict[str, Any]) -> JobSpec:
    """The spec file's fields with the flags on top; every problem at once, with its line."""
    from ftsdk.spec import read_spec_file, validate_spec

    found = read_spec_file(file) if file is not None else None
    data: dict[str, Any] = dict(found.data) if found is not None else {}
    flags = {k: fields.pop(k) for k in _METHOD_FLAGS if fields.get(k) is not None}
    if fields.get("method_type"):
        flags["type"] = fields["method_type"]
    fields.pop("method_type", None)
    data.update({k: v for k, v in fields.items() if v is not None})
    method = data.get("method")
    # A malformed method (``method: sft``) is left as it is, for validate_spec to report.
    if isinstance(method, dict) or (method is None and flags):
        data["method"] = {"type": "sft", **(method or {}), **flags}
    return validate_spec(data, found)


_METHOD_FLAGS = ("epochs", "batch_size", "learning_rate_multiplier", "learning_rate")


@click.command()
@click.argument("spec_file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "base_model", help="Base model (overrides the spec file).")
@click.option("--data", "training_data", help="Training data file.")
@click.option("--validation", "validation_data", help="Validation data file.")
@click.option(
    "--method",
    "method_type",
    type=click.Choice(["sft", "dpo"]),
    help="Training method: sft (supervised) or dpo (preference pairs); default sft.",
)
@click.option("--epochs", type=int, help="Passes over the training data (default: the provider's).")
@click.option(
    "--batch-size", "batch_size", type=int, help="Examples per optimizer step (default: auto)."
)
@click.option(
    "--learning-rate-multiplier",
    "learning_rate_multiplier",
    type=float,
    help="Scale of the provider's learning rate (OpenAI, Azure).",
)
@click.option(
    "--learning-rate", "learning_rate", type=float, help="Peak learning rate (local training)."
)
@click.option("--suffix", help="A label the provider puts into the fine-tuned model's name.")
@click.option("--seed", type=int, help="Seed for a reproducible run.")
@click.option("--wait/--no-wait", default=False, help="Watch the job until it ends.")
@budget_options
@provider_options
@handle_errors
def train(
    *,
    spec_file: str | None,
    provider: str | None,
    settings: tuple[str, ...],
    as_json: bool,
    wait: bool,
    max_cost: float | None,
    token_price: float | None,
    hour_price: float | None,
    **fields: Any,
) -> None:
    """Start a fine-tuning job from a JSON/YAML job spec and/or flags."""
    from ftsdk import budget

    client = client_from(provider, settings)
    spec = _spec_from(spec_file, fields)
    job = client.train(spec, max_cost=budget_from(spec, max_cost, token_price, hour_price))
    watched = budget.watching(job)
    if wait and watched is not None:  # billed by the hour: follow it until the watch acts
        watched.join()
        for event in watched.events:
            click.echo(_event_line(event), err=True)
        emit(as_json, _job_json(job.refresh()), _job_line(job))
        return
    if wait:
        _watch(job, as_json)
        return
    emit(
        as_json,
        _job_json(job),
        f"started {_job_line(job)}\n"
        f"watch it with: ftsdk jobs watch {job.id} --provider {client.name}",
    )


@click.group()
def jobs() -> None:
    """List, show, watch, cancel, pause and resume training jobs."""


@jobs.command("list")
@click.option("--limit", default=20, show_default=True, help="Show at most this many jobs.")
@provider_options
@handle_errors
def list_jobs(provider: str | None, settings: tuple[str, ...], as_json: bool, limit: int) -> None:
    """The newest jobs first."""
    found = client_from(provider, settings).jobs(limit=limit)
    header = [paint(_JOBS_HEADER, bold=True)] if found and to_terminal() else []
    lines = [*header, *(_job_line(j) for j in found)]
    emit(as_json, [_job_json(j) for j in found], "\n".join(lines) or "no jobs")


@jobs.command("show")
@click.argument("job_id")
@provider_options
@handle_errors
def show(job_id: str, provider: str | None, settings: tuple[str, ...], as_json: bool) -> None:
    """One job's state."""
    client = client_from(provider, settings)
    job = client.job(job_id)
    error = f"\nerror: {job.error.message}" if job.error else ""
    emit(as_json, _job_json(job), _job_line(job, _progress(job, client)) + error)


@jobs.command("events")
@click.argument("job_id")
@provider_options
@handle_errors
def events(job_id: str, provider: str | None, settings: tuple[str, ...], as_json: bool) -> None:
    """Every event of a job, oldest first."""
    found = client_from(provider, settings).job(job_id).events(all=True)
    emit(
        as_json,
        [e.model_dump(mode="json") for e in found],
        "\n".join(_event_line(e) for e in found),
    )


def _event_line(event: JobEvent) -> str:
    return f"{event.created_at:%Y-%m-%d %H:%M:%S}  {event.level:<7} {event.message}"


def _watch(job: Job, as_json: bool) -> None:
    """Follow ``job`` to its end, printing its events; Ctrl-C stops watching, not the job."""
    from tqdm import tqdm

    from ftsdk.errors import JobFailed
    from ftsdk.progress import progress_enabled

    bar = progress_enabled()

    def show(event: JobEvent) -> None:
        if bar and event.type == "metrics":
            return  # the bar shows the step and the loss; a line per step would bury it
        tqdm.write(_event_line(event))  # above the progress bar, when there is one

    try:
        job.wait(on_event=None if as_json else show)
    except JobFailed:
        emit(as_json, _job_json(job), _job_line(job))
        raise
    except KeyboardInterrupt:
        click.echo(
            f"\nstopped watching; job {job.id} goes on at {job.provider}.\n"
            f"  follow it again: ftsdk jobs watch {job.id} -p {job.provider}\n"
            f"  stop it:         ftsdk jobs cancel {job.id} -p {job.provider}",
            err=True,
        )
        raise SystemExit(130) from None  # 128 + SIGINT, as shells report an interrupt
    emit(as_json, _job_json(job), _job_line(job))


@jobs.command("watch")
@click.argument("job_id")
@provider_options
@handle_errors
def watch(job_id: str, provider: str | None, settings: tuple[str, ...], as_json: bool) -> None:
    """Re-attach to a job and follow it until it ends (exit 1 if it fails; Ctrl-C stops
    watching, exit 130, and the job goes on)."""
    _watch(client_from(provider, settings).job(job_id), as_json)


def _transition(name: str, help_text: str) -> None:
    @jobs.command(name, help=help_text)
    @click.argument("job_id")
    @provider_options
    @handle_errors
    def command(
        job_id: str, provider: str | None, settings: tuple[str, ...], as_json: bool
    ) -> None:
        job = client_from(provider, settings).job(job_id)
        getattr(job, name)()
        emit(as_json, _job_json(job), _job_line(job))


_transition("cancel", "Cancel a job.")
_transition("pause", "Pause a job (resume continues it).")
_transition("resume", "Resume a paused job.")
