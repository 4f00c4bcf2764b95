"""``ftsdk data``: check training data, count its tokens and cost, convert it, split it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ftsdk.dataset import Dataset, Target, ValidationReport
    from ftsdk.dataset.estimate import TrainingEstimate

__all__ = ["data"]

FORMATS = ["chat", "prompt_completion", "preference", "text"]


@click.group()
def data() -> None:
    """Check, measure, convert and split training data."""


def _load(file: str, columns: tuple[str, ...], template: str | None) -> Dataset:
    from ftsdk.dataset import Dataset
    from ftsdk.errors import InvalidRequest

    options: dict[str, Any] = {}
    if columns:
        pairs = [item.split("=", 1) for item in columns]
        if any(len(pair) != 2 for pair in pairs):
            raise click.BadParameter(
                "use FIELD=COLUMN, e.g. prompt=question", param_hint="--column"
            )
        options["columns"] = dict(pairs)
    if template:
        try:
            options["template"] = json.loads(Path(template).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise click.BadParameter(f"{template}: {err}", param_hint="--template") from err
    try:
        return Dataset.load(file, **options)
    except (InvalidRequest, TypeError) as err:
        raise click.BadParameter(str(err), param_hint="FILE") from err


def _target(
    provider: str | None,
    model: str | None,
    context: int | None,
    token_price: float | None = None,
) -> Target | None:
    from ftsdk.dataset import Target
    from ftsdk.errors import InvalidRequest

    if provider is None and model is None:
        if token_price is not None:
            raise click.UsageError("--token-price prices a target: give --provider and --model")
        return None
    if provider is None or model is None:
        raise click.UsageError("give --provider and --model together")
    overrides: dict[str, Any] = {"context_tokens": context} if context else {}
    try:
        return Target.for_model(provider, model, **overrides).with_token_price(token_price)
    except InvalidRequest as err:
        raise click.UsageError(str(err)) from err


def _epochs(value: str) -> int | str:
    if value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise click.BadParameter("a positive number or 'auto'", param_hint="--epochs")
    return int(value)


def _print_stats(report: ValidationReport, *, local_estimate: bool = False) -> None:
    stats, cost = report.stats, report.cost
    target = report.target
    if stats is not None and target is not None:
        tokenizer = target.encoding or target.hf_tokenizer
        limit = f" · over {stats.limit:,}: {stats.over_limit}" if stats.limit else ""
        click.echo(
            f"tokens ({tokenizer}): total {stats.total:,} · min {stats.min:,} · "
            f"mean {stats.mean:,.1f} · p95 {stats.p95:,} · max {stats.max:,}{limit}"
        )
    if cost is not None:
        click.echo(f"cost: {cost.summary}")
        unpriced = cost.usd is None and cost.price_per_hour is None and target is not None
        if unpriced and not (local_estimate and target.hf_tokenizer):  # else the estimate says
            ways = f"--token-price USD or {target.token_price_env} (token_price= in Python)"
            click.echo(f"  to price it: {target.how_to_price(ways)}")
        if cost.hosting:
            click.echo(f"  {cost.hosting}")


def _fail_if_unreadable(report: ValidationReport) -> None:
    """A source that cannot be read at all (missing, a directory, a FIFO) is an error of
    its own, not a report of zero examples."""
    unreadable = [problem for problem in report.errors if problem.kind == "unreadable"]
    if unreadable:
        click.echo(f"error: {unreadable[0].message}", err=True)
        sys.exit(1)


def _print_report(report: ValidationReport, *, name: str) -> None:
    from ftsdk.dataset import KINDS, Severity

    target = f", checked for {report.target.label}" if report.target is not None else ""
    click.echo(f"{name}: {report.examples:,} examples, format {report.format or '?'}{target}")
    for severity, title in ((Severity.ERROR, "errors"), (Severity.WARNING, "warnings")):
        counts = report.counts(severity)
        if not counts:
            continue
        click.echo(f"\n{title.upper()} ({sum(counts.values()):,})")
        kept = report.errors if severity is Severity.ERROR else report.warnings
        for kind, count in counts.items():
            click.echo(f"  {kind} x{count:,}: {KINDS.get(kind, '')}")
            shown = [problem for problem in kept if problem.kind == kind]
            for problem in shown:
                click.echo(f"    {problem}")
            if count > len(shown):
                click.echo(f"    ... and {count - len(shown):,} more")
    click.echo("")
    _print_stats(report)
    if report.ok:
        click.echo("OK: no errors")
    else:
        click.echo(f"FAILED: {sum(report.counts(Severity.ERROR).values()):,} error(s)")


_FILE = click.argument("file", type=click.Path(dir_okay=False))
_PROVIDER = click.option("-p", "--provider", help="Provider whose rules apply, e.g. openai.")
_TOKEN_PRICE = click.option(
    "--token-price",
    type=click.FloatRange(min=0),
    metavar="USD",
    help="Your price per 1M training tokens, for the cost estimate where none is recorded "
    "(Azure prices by region and tier); else $FTSDK_<PROVIDER>_TOKEN_PRICE, else the "
    "recorded one.",
)
_MODEL = click.option("--model", help="Base model, e.g. gpt-4o-mini-2024-07-18.")
_CONTEXT = click.option("--context", type=int, help="Override the model's tokens per example.")
_COLUMN = click.option(
    "--column", "columns", multiple=True, metavar="FIELD=COLUMN", help="CSV/Parquet column mapping."
)
_TEMPLATE = click.option(
    "--template", type=click.Path(dir_okay=False), help="JSON file: a template over columns."
)


@data.command()
@_FILE
@_PROVIDER
@_MODEL
@click.option("--epochs", default="auto", show_default=True, help="Planned epochs, or auto.")
@_CONTEXT
@_TOKEN_PRICE
@click.option("--max-problems", default=20, show_default=True, help="Problems shown per kind.")
@click.option(
    "--strict",
    is_flag=True,
    help="Also fail on what providers accept but is often a mistake (repeated examples).",
)
@click.option(
    "--allow-duplicates",
    is_flag=True,
    hidden=True,
    help="Repeated examples are warnings (the default unless --strict).",
)
@_COLUMN
@_TEMPLATE
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(
    *,
    file: str,
    provider: str | None,
    model: str | None,
    epochs: str,
    context: int | None,
    token_price: float | None,
    max_problems: int,
    strict: bool,
    allow_duplicates: bool,
    columns: tuple[str, ...],
    template: str | None,
    as_json: bool,
) -> None:
    """Check FILE; exit status 0 when it has no errors, 1 when it has.

    Repeated examples are warnings (providers train on them), errors with --strict.
    """
    dataset = _load(file, columns, template)
    report = dataset.validate(
        _target(provider, model, context, token_price),
        epochs=_epochs(epochs),
        max_problems=max_problems,
        strict=strict,
        allow_duplicates=True if allow_duplicates else None,
    )
    if not as_json:
        _fail_if_unreadable(report)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report, name=dataset.name)
    sys.exit(0 if report.ok else 1)


@data.command()
@_FILE
@_PROVIDER
@_MODEL
@click.option("--epochs", default="auto", show_default=True, help="Planned epochs, or auto.")
@_CONTEXT
@_TOKEN_PRICE
@click.option(
    "--adapter",
    type=click.Choice(["full", "lora", "qlora"]),
    help="Local targets: what the training estimate assumes (default full).",
)
@click.option("--batch-size", type=click.IntRange(min=1), help="Local: examples per step (8).")
@click.option(
    "--max-seq-length", type=click.IntRange(min=1), help="Local: tokens per example kept (1024)."
)
@click.option("--lora-r", type=click.IntRange(min=1), help="Local: LoRA rank (16).")
@click.option(
    "--gradient-checkpointing", is_flag=True, default=None, help="Local: recompute activations."
)
@click.option(
    "--mfu",
    type=click.FloatRange(min=0, max=1, min_open=True),
    help="Local: fraction of a GPU's peak FLOPS reached (0.35).",
)
@click.option(
    "--gpu-hour-price",
    type=click.FloatRange(min=0),
    envvar="FTSDK_GPU_HOUR_PRICE",
    show_envvar=True,
    metavar="USD",
    help="Local: USD per GPU-hour, for a money figure (hours x GPUs x rate).",
)
@_COLUMN
@_TEMPLATE
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(
    *,
    file: str,
    provider: str | None,
    model: str | None,
    epochs: str,
    context: int | None,
    token_price: float | None,
    adapter: str | None,
    batch_size: int | None,
    max_seq_length: int | None,
    lora_r: int | None,
    gradient_checkpointing: bool | None,
    mfu: float | None,
    gpu_hour_price: float | None,
    columns: tuple[str, ...],
    template: str | None,
    as_json: bool,
) -> None:
    """Examples, tokens per example and the cost estimate of FILE for a target (priced at
    --token-price where the provider's price is not recorded: Azure); for a local model
    (trl, autotrain) also its GPU memory and training time, estimated, and its cost with
    --gpu-hour-price."""
    from ftsdk.errors import InvalidRequest

    dataset = _load(file, columns, template)
    target = _target(provider, model, context, token_price)
    if target is None:
        raise click.UsageError("stats needs --provider and --model (their tokenizer and price)")
    training = {
        "adapter": adapter,
        "batch_size": batch_size,
        "max_seq_length": max_seq_length,
        "lora_r": lora_r,
        "gradient_checkpointing": gradient_checkpointing,
        "mfu": mfu,
    }
    asked = any(value is not None for value in training.values())
    if asked and target.hf_tokenizer is None:
        raise click.UsageError(
            f"--adapter, --batch-size, --max-seq-length, --lora-r, --gradient-checkpointing "
            f"and --mfu estimate local training; {target.label} trains on its own hardware"
        )
    given = click.get_current_context().get_parameter_source("gpu_hour_price")
    if given is click.core.ParameterSource.COMMANDLINE and target.hf_tokenizer is None:
        raise click.UsageError(
            f"--gpu-hour-price prices local training; {target.label} is priced by its table"
        )
    training["gpu_hour_price"] = gpu_hour_price
    report = dataset.validate(target, epochs=_epochs(epochs))
    if not as_json:
        _fail_if_unreadable(report)
    estimate: TrainingEstimate | None = None
    unavailable = None
    if target.hf_tokenizer is not None:
        try:
            estimate = _estimate(dataset, target, report, epochs, training)
        except InvalidRequest as err:
            if asked:
                raise click.ClickException(f"training estimate: {err.message}") from err
            unavailable = err.message
    if as_json:
        body = {
            "examples": report.examples,
            "format": report.format,
            "target": target.to_dict(),
            "stats": report.stats.to_dict() if report.stats is not None else None,
            "cost": report.cost.to_dict() if report.cost is not None else None,
            "error_counts": report.counts(),
        }
        if target.hf_tokenizer is not None:
            body["training"] = estimate.to_dict() if estimate else {"error": unavailable}
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"{dataset.name}: {report.examples:,} examples, format {report.format or '?'}")
    _print_stats(report, local_estimate=target.hf_tokenizer is not None)
    if not report.ok:
        click.echo("(examples with errors are not counted: run `ftsdk data check`)")
    if estimate is not None:
        _print_estimate(estimate)
    elif unavailable is not None:
        click.echo(f"training estimate: not available: {unavailable}")


def _estimate(
    dataset: Dataset,
    target: Target,
    report: ValidationReport,
    epochs: str,
    training: dict[str, Any],
) -> TrainingEstimate:
    from ftsdk.spec import DPO, SFT

    fields = {key: training[key] for key in ("adapter", "batch_size", "max_seq_length", "lora_r")}
    fields = {key: value for key, value in fields.items() if value is not None}
    if epochs != "auto":
        fields["epochs"] = int(epochs)
    method = DPO(**fields) if report.format == "preference" else SFT(**fields)
    return dataset.estimate_training(
        target,
        method,
        gradient_checkpointing=bool(training["gradient_checkpointing"]),
        mfu=training["mfu"],
        gpu_hour_price=training["gpu_hour_price"],
    )


def _duration(hours: float) -> str:
    if hours * 60 < 1:
        return "<1 min"
    if hours < 2:
        return f"{hours * 60:.0f} min"
    return f"{hours:,.1f} h"


def _hours(hours: float) -> str:
    return "<0.01 h" if 0 < hours < 0.005 else f"{hours:,.2f} h"


def _money(usd: float) -> str:
    return "<$0.01" if 0 < usd < 0.005 else f"${usd:,.2f}"


def _print_estimate(estimate: TrainingEstimate) -> None:
    from ftsdk.dataset.estimate import ACCURACY, GPUS_PER_RUN, GiB

    shape = estimate.model
    click.echo(
        f"\ntraining estimate ({ACCURACY}; the formulas: docs/guide/data.md, "
        "'Estimating local training')"
    )
    adapter: str = estimate.adapter
    if adapter != "full":
        adapter += f", {estimate.trainable_parameters:,} trainable parameters"
    click.echo(
        f"  model: {shape.parameters:,} parameters (from {shape.source}), {shape.layers} layers, "
        f"hidden {shape.hidden_size:,} · {estimate.method} {adapter}"
    )
    checkpointing = " · gradient checkpointing" if estimate.gradient_checkpointing else ""
    click.echo(
        f"  run: batch {estimate.batch_size} x {estimate.seq_length:,} tokens{checkpointing} · "
        f"{estimate.tokens:,} tokens x {estimate.epochs} epochs · {estimate.flops:.2e} FLOPs"
    )
    parts = " + ".join(
        f"{name} {value / GiB:,.2f}" for name, value in estimate.memory.parts().items()
    )
    click.echo(f"  memory (GiB): {parts} = {estimate.memory.total / GiB:,.2f} GiB")
    rate = estimate.gpu_hour_price
    cost_header = "" if rate is None else "  cost (hours x GPUs x $/GPU-hour)"
    click.echo(
        f"  {'GPU':<15} {'memory':>10}  {'fits':<4}  {f'time at {estimate.mfu:.0%} MFU':<16}"
        f"{cost_header}".rstrip()
    )
    for fit in estimate.gpus:
        cost = ""
        if rate is not None and fit.cost is not None:
            cost = f"  {_hours(fit.hours)} x {GPUS_PER_RUN} x ${rate:,.2f} = {_money(fit.cost)}"
        click.echo(
            f"  {fit.gpu.name:<15} {fit.gpu.memory_gib:>6.1f} GiB  {'yes' if fit.fits else 'no':<4}"
            f"  {_duration(fit.hours):<16}{cost}".rstrip()
        )
    click.echo(f"  cost: {estimate.cost_basis}")


def _write_or_fail(write: Any) -> Path:
    from ftsdk.errors import InvalidDataset, InvalidRequest

    try:
        path: Path = write()
    except (InvalidDataset, InvalidRequest) as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    return path


@data.command()
@_FILE
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--to", "to", type=click.Choice(FORMATS), required=True, help="Format to write.")
@click.option(
    "--preference",
    type=click.Choice(["openai", "trl"]),
    default="openai",
    show_default=True,
    help="Shape of preference pairs.",
)
@_COLUMN
@_TEMPLATE
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def convert(
    *,
    file: str,
    output: str,
    to: str,
    preference: str,
    columns: tuple[str, ...],
    template: str | None,
    as_json: bool,
) -> None:
    """Write FILE to OUTPUT (JSONL) in another format; OUTPUT appears only when all converted."""
    dataset = _load(file, columns, template)
    path = _write_or_fail(lambda: dataset.write(output, format=to, preference=preference))
    if as_json:
        click.echo(json.dumps({"format": to, "files": [_written(path)]}, indent=2))
    else:
        click.echo(f"wrote {path}")


def _written(path: Path) -> dict[str, Any]:
    with path.open("rb") as lines:
        return {"path": str(path), "examples": sum(1 for _ in lines)}


@data.command()
@_FILE
@click.option(
    "--validation",
    default=0.1,
    show_default=True,
    type=float,
    help="Fraction (0-1) or number of examples held out.",
)
@click.option("--seed", default=0, show_default=True, help="Same seed, same split.")
@click.option("--train-out", type=click.Path(dir_okay=False), help="Default: FILE.train.jsonl")
@click.option(
    "--validation-out", type=click.Path(dir_okay=False), help="Default: FILE.validation.jsonl"
)
@_COLUMN
@_TEMPLATE
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def split(
    *,
    file: str,
    validation: float,
    seed: int,
    train_out: str | None,
    validation_out: str | None,
    columns: tuple[str, ...],
    template: str | None,
    as_json: bool,
) -> None:
    """Split FILE into train and validation JSONL files, deterministically by --seed."""
    from ftsdk.errors import InvalidRequest

    dataset = _load(file, columns, template)
    stem = Path(file).with_suffix("")
    try:
        train, held_out = dataset.split(validation, seed=seed)
    except InvalidRequest as err:
        raise click.BadParameter(err.message, param_hint="--validation") from err
    first = _write_or_fail(lambda: train.write(train_out or f"{stem}.train.jsonl"))
    second = _write_or_fail(lambda: held_out.write(validation_out or f"{stem}.validation.jsonl"))
    if as_json:
        body = {"seed": seed, "train": _written(first), "validation": _written(second)}
        click.echo(json.dumps(body, indent=2))
    else:
        click.echo(f"wrote {first} and {second}")
