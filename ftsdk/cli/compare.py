"""``ftsdk compare``: did the fine-tune beat the base model? Both models answer an eval set;
quality, tokens and cost per 1,000 requests side by side, as a table, JSON or HTML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ftsdk.cli.common import client_from, emit, handle_errors, provider_options

if TYPE_CHECKING:
    from ftsdk import Client, Job, Model

__all__ = ["compare"]


def _price(value: str | None, option: str) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = (float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: use INPUT,OUTPUT in USD per 1M tokens, e.g. 0.15,0.6", param_hint=option
        ) from None
    return low, high


def _model(client: Client, model_id: str, *, tuned: bool) -> Model:
    """A handle to chat with: on providers that serve through deployments, ``model_id`` is
    the deployment's name."""
    from ftsdk.models import needs_deployment

    handle = client.model(model_id, kind="fine-tuned" if tuned else "base")
    if needs_deployment(handle.info, client.capabilities):
        return client.model(model_id, kind="deployment", deployment=model_id)
    return handle


def _models(
    client: Client, base: str | None, tuned: str | None, job_id: str | None
) -> tuple[Model, Model, Job | None]:
    """The base and fine-tuned models: given, or the job's."""
    from ftsdk.models import needs_deployment

    job = client.job(job_id) if job_id is not None else None
    if job is not None:
        base = base or job.state.base_model
    if base is None or (tuned is None and job is None):
        raise click.UsageError("give --base and --tuned, or --job (its model and base model)")
    if tuned is not None:
        return _model(client, base, tuned=False), _model(client, tuned, tuned=True), job
    assert job is not None
    if job.model is None:
        raise click.UsageError(
            f"job {job.id} is {job.status.value} and has no model yet; wait for it "
            "(`ftsdk jobs watch ID`) or pass --tuned"
        )
    if needs_deployment(job.model.info, client.capabilities):
        raise click.UsageError(
            f"{client.name} serves models through deployments: deploy {job.model.id} "
            "(`ftsdk models deploy`) and pass the deployment's name as --tuned"
        )
    return _model(client, base, tuned=False), job.model, job


def _check_writable(path: str | None, option: str) -> None:
    """A usage error now if the report could not be written to ``path`` after the run."""
    if path is None:
        return
    import os

    folder = Path(path).absolute().parent
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise click.BadParameter(f"cannot write to {folder}", param_hint=option)
    if Path(path).exists() and not os.access(path, os.W_OK):
        raise click.BadParameter(f"{path} is not writable", param_hint=option)


@click.command()
@click.option(
    "--eval",
    "eval_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="Eval set: chat examples whose last message is the reference answer.",
)
@click.option("--base", help="The base model (default with --job: the job's base model).")
@click.option("--tuned", help="The fine-tuned model (default with --job: the job's model).")
@click.option("--job", "job_id", help="Take the models from this job, and plot its metrics.")
@click.option(
    "--few-shot",
    type=int,
    default=0,
    show_default=True,
    help="Examples from --few-shot-file before each question, for the base model.",
)
@click.option(
    "--few-shot-file",
    type=click.Path(dir_okay=False),
    help="Where few-shot examples are drawn from (kept apart from the eval set).",
)
@click.option(
    "--scorer",
    "scorers",
    multiple=True,
    help="exact_match, normalized_match, similarity or token_f1 (repeatable; "
    "default: the first three).",
)
@click.option("--judge-model", help="Also grade every answer with this model (an LLM judge).")
@click.option(
    "--judge-provider", help="The judge's provider (default: --provider, with its --set)."
)
@click.option(
    "--judge-set",
    "judge_settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting of the judge's provider (repeatable; added to --set on the same provider).",
)
@click.option("--judge-rubric", help="What the judge should reward, in words.")
@click.option("--system", help="A system message for both models, in place of the items' own.")
@click.option("--max-tokens", type=int, help="Most tokens per answer.")
@click.option(
    "--concurrency", type=int, default=4, show_default=True, help="Requests in flight at once."
)
@click.option(
    "--base-price",
    metavar="IN,OUT",
    help="USD per 1M input,output tokens for the base model (default: the table).",
)
@click.option(
    "--tuned-price",
    metavar="IN,OUT",
    help="USD per 1M input,output tokens for the fine-tuned model.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Write the HTML report (summary, plots, every example) here.",
)
@click.option(
    "--out",
    "json_path",
    type=click.Path(dir_okay=False),
    help="Write the whole report as JSON here.",
)
@provider_options
@handle_errors
def compare(
    *,
    eval_file: str,
    base: str | None,
    tuned: str | None,
    job_id: str | None,
    few_shot: int,
    few_shot_file: str | None,
    scorers: tuple[str, ...],
    judge_model: str | None,
    judge_provider: str | None,
    judge_settings: tuple[str, ...],
    judge_rubric: str | None,
    system: str | None,
    max_tokens: int | None,
    concurrency: int,
    base_price: str | None,
    tuned_price: str | None,
    html_path: str | None,
    json_path: str | None,
    provider: str | None,
    settings: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run an eval set through a base and a fine-tuned model and compare quality, tokens
    and cost per 1,000 requests.

    \b
    ftsdk compare -p openai --job ftjob-abc --eval eval.jsonl --few-shot 3 \\
        --few-shot-file train.jsonl --html report.html
    """
    from ftsdk.compare import compare as run_compare
    from ftsdk.compare import judge

    if few_shot and few_shot_file is None:
        raise click.UsageError(
            f"--few-shot {few_shot} needs --few-shot-file (examples kept "
            "apart from the eval set, e.g. the training data)"
        )
    if few_shot_file is not None and not few_shot:
        raise click.UsageError("--few-shot-file needs --few-shot N (how many examples to draw)")
    _check_writable(html_path, "--html")  # now, not after the run
    _check_writable(json_path, "--out")
    client = client_from(provider, settings)
    base_model, tuned_model, job = _models(client, base, tuned, job_id)
    chosen: list[Any] = list(scorers) or ["exact_match", "normalized_match", "similarity"]
    if judge_model is not None:
        judge_client = client
        if judge_provider is not None and judge_provider != client.name:
            judge_client = client_from(judge_provider, judge_settings)
        elif judge_settings:  # the same provider: --judge-set adds to (or overrides) --set
            judge_client = client_from(client.name, (*settings, *judge_settings))
        grader = _model(judge_client, judge_model, tuned=False)
        chosen.append(judge(grader, rubric=judge_rubric) if judge_rubric else judge(grader))
    elif judge_provider is not None or judge_settings or judge_rubric:
        raise click.UsageError("--judge-provider/--judge-set/--judge-rubric need --judge-model")
    prices = {
        role: price
        for role, price in (
            ("base", _price(base_price, "--base-price")),
            ("tuned", _price(tuned_price, "--tuned-price")),
        )
        if price is not None
    }
    report = run_compare(
        base_model,
        tuned_model,
        eval_file,
        scorers=chosen,
        few_shot=few_shot,
        few_shot_pool=few_shot_file,
        system=system,
        max_tokens=max_tokens,
        concurrency=concurrency,
        prices=prices or None,
    ).model_copy(update={"made_with": "cli"})  # its price hints name --base-price/--tuned-price
    if json_path is not None:
        report.to_json(json_path)
    notes = []
    if html_path is not None:
        written = report.to_html(html_path, job=job)
        notes.append(f"HTML report: {written}")
    if json_path is not None:
        notes.append(f"JSON report: {json_path}")
    if as_json:
        emit(True, json.loads(report.to_json()), "")
        for note in notes:
            click.echo(note, err=True)
    else:
        emit(False, None, "\n".join([report.table(), *notes]))
