"""``ftsdk train`` and ``ftsdk jobs``: start a job, and list, show, watch, cancel, pause or
resume one from any terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ftsdk.cli.common import client_from, emit, handle_errors, provider_options

if TYPE_CHECKING:
    from ftsdk import Job, JobSpec
    from ftsdk.jobs import JobEvent

__all__ = ["jobs", "train"]


def _job_json(job: Job) -> dict[str, Any]:
    return job.state.model_dump(mode="json")


def _job_line(job: Job) -> str:
    if job.raw_status == "damaged" and job.error is not None:  # say what, not "None"
        return f"{job.id}  {job.status.value:<10} (damaged)  {job.error.message}"
    model = f"  model={job.state.result_model}" if job.state.result_model else ""
    return f"{job.id}  {job.status.value:<10} ({job.raw_status})  {job.state.base_model}{model}"


def _spec_from(file: str | None, fields: dict[str, Any]) -> JobSpec:
    from pydantic import ValidationError

    from ftsdk import JobSpec
    from ftsdk.errors import InvalidRequest

    data: dict[str, Any] = {}
    if file is not None:
        text = Path(file).read_text(encoding="utf-8")
        if file.endswith((".yaml", ".yml")):
            try:
                import yaml
            except ImportError:
                raise click.UsageError("YAML job specs need PyYAML: pip install pyyaml") from None
            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    method = dict(data.get("method") or {})
    for key in ("epochs", "batch_size", "learning_rate_multiplier", "learning_rate"):
        if fields.get(key) is not None:
            method[key] = fields.pop(key)
    if fields.get("method_type"):
        method["type"] = fields.pop("method_type")
    data.update({k: v for k, v in fields.items() if v is not None and k != "method_type"})
    if method:
        method.setdefault("type", "sft")
        data["method"] = method
    try:
        return JobSpec.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise InvalidRequest(f"{path}: {first['msg']}", field=path) from err


@click.command()
@click.argument("spec_file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "base_model", help="Base model (overrides the spec file).")
@click.option("--data", "training_data", help="Training data file.")
@click.option("--validation", "validation_data", help="Validation data file.")
@click.option("--method", "method_type", type=click.Choice(["sft", "dpo"]))
@click.option("--epochs", type=int)
@click.option("--batch-size", "batch_size", type=int)
@click.option("--learning-rate-multiplier", "learning_rate_multiplier", type=float)
@click.option("--learning-rate", "learning_rate", type=float)
@click.option("--suffix")
@click.option("--seed", type=int)
@click.option("--wait/--no-wait", default=False, help="Watch the job until it ends.")
@provider_options
@handle_errors
def train(
    spec_file: str | None,
    provider: str,
    settings: tuple[str, ...],
    as_json: bool,
    wait: bool,
    **fields: Any,
) -> None:
    """Start a fine-tuning job from a JSON/YAML job spec and/or flags."""
    client = client_from(provider, settings)
    job = client.train(_spec_from(spec_file, fields))
    if wait:
        _watch(job, as_json)
        return
    emit(
        as_json,
        _job_json(job),
        f"started {_job_line(job)}\nwatch it with: ftsdk jobs watch {job.id} --provider {provider}",
    )


@click.group()
def jobs() -> None:
    """List, show, watch, cancel, pause and resume training jobs."""


@jobs.command("list")
@click.option("--limit", default=20, show_default=True)
@provider_options
@handle_errors
def list_jobs(provider: str, settings: tuple[str, ...], as_json: bool, limit: int) -> None:
    """The newest jobs first."""
    found = client_from(provider, settings).jobs(limit=limit)
    emit(
        as_json, [_job_json(j) for j in found], "\n".join(_job_line(j) for j in found) or "no jobs"
    )


@jobs.command("show")
@click.argument("job_id")
@provider_options
@handle_errors
def show(job_id: str, provider: str, settings: tuple[str, ...], as_json: bool) -> None:
    """One job's state."""
    job = client_from(provider, settings).job(job_id)
    error = f"\nerror: {job.error.message}" if job.error else ""
    emit(as_json, _job_json(job), _job_line(job) + error)


@jobs.command("events")
@click.argument("job_id")
@provider_options
@handle_errors
def events(job_id: str, provider: str, settings: tuple[str, ...], as_json: bool) -> None:
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
    from tqdm import tqdm

    from ftsdk.errors import JobFailed

    def show(event: JobEvent) -> None:
        tqdm.write(_event_line(event))  # above the progress bar, when there is one

    try:
        job.wait(on_event=None if as_json else show)
    except JobFailed:
        emit(as_json, _job_json(job), _job_line(job))
        raise
    emit(as_json, _job_json(job), _job_line(job))


@jobs.command("watch")
@click.argument("job_id")
@provider_options
@handle_errors
def watch(job_id: str, provider: str, settings: tuple[str, ...], as_json: bool) -> None:
    """Re-attach to a job and follow it until it ends (exit 1 if it fails)."""
    _watch(client_from(provider, settings).job(job_id), as_json)


def _transition(name: str, help_text: str) -> None:
    @jobs.command(name, help=help_text)
    @click.argument("job_id")
    @provider_options
    @handle_errors
    def command(job_id: str, provider: str, settings: tuple[str, ...], as_json: bool) -> None:
        job = client_from(provider, settings).job(job_id)
        getattr(job, name)()
        emit(as_json, _job_json(job), _job_line(job))


_transition("cancel", "Cancel a job.")
_transition("pause", "Pause a job (resume continues it).")
_transition("resume", "Resume a paused job.")
