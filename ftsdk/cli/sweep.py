"""``ftsdk sweep``: search hyperparameters with Optuna, each trial an ftsdk job, under a
budget; run it again to go on where it stopped."""

from __future__ import annotations

from typing import Any

import click

from ftsdk.cli.common import client_from, emit, handle_errors, provider_options
from ftsdk.cli.spend import budget_from, budget_options

__all__ = ["sweep"]

_SAMPLERS = ("tpe", "random")
_PRUNERS = ("none", "median")


def _space(params: tuple[str, ...]) -> dict[str, str]:
    space: dict[str, str] = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise click.BadParameter(
                f"{item!r}: use NAME=RANGE or NAME=CHOICES (learning_rate=1e-4..1e-2:log, "
                "epochs=1,2,3)",
                param_hint="--param",
            )
        space[name.strip()] = value.strip()
    return space


def _optuna_parts(sampler: str, pruner: str, seed: int | None) -> tuple[Any, Any]:
    try:
        import optuna
    except ImportError:
        raise click.ClickException(
            "sweeps need Optuna, which is not installed: pip install 'ftsdk[sweep]'"
        ) from None
    made = (
        optuna.samplers.RandomSampler(seed=seed)
        if sampler == "random"
        else optuna.samplers.TPESampler(seed=seed)
    )
    return made, (optuna.pruners.MedianPruner() if pruner == "median" else None)


@click.command()
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--param",
    "params",
    multiple=True,
    required=True,
    metavar="NAME=SPACE",
    help="A hyperparameter to search: a range (learning_rate=1e-4..1e-2:log, epochs=1..3) "
    "or choices (epochs=1,2,3). Repeatable.",
)
@click.option(
    "--metric",
    default="valid_loss",
    show_default=True,
    help="What scores a trial: a metric its job logs (its final value).",
)
@click.option(
    "--max-trials",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Trials that start a job, earlier runs of the sweep included.",
)
@click.option(
    "--parallel", default=1, show_default=True, type=click.IntRange(min=1), help="Trials at once."
)
@click.option("--name", help="The study's name (default: derived from the spec and space).")
@click.option("--storage", help="An Optuna storage URL (default: SQLite in the ftsdk home).")
@click.option(
    "--sampler",
    type=click.Choice(_SAMPLERS),
    default="tpe",
    show_default=True,
    help="Optuna's sampler that picks each trial's values.",
)
@click.option(
    "--pruner",
    type=click.Choice(_PRUNERS),
    default="none",
    show_default=True,
    help="Optuna's pruner: median cancels a job whose metric trails the others'.",
)
@click.option("--seed", type=int, help="Seed of the sampler.")
@click.option("--poll-interval", default=5.0, show_default=True, help="Seconds between looks.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the report.")
@click.option("--out", "json_path", type=click.Path(dir_okay=False), help="Write the JSON.")
@budget_options
@provider_options
@handle_errors
def sweep(
    *,
    spec_file: str,
    params: tuple[str, ...],
    provider: str | None,
    settings: tuple[str, ...],
    as_json: bool,
    metric: str,
    max_trials: int,
    parallel: int,
    name: str | None,
    storage: str | None,
    sampler: str,
    pruner: str,
    seed: int | None,
    poll_interval: float,
    html_path: str | None,
    json_path: str | None,
    max_cost: float | None,
    token_price: float | None,
    hour_price: float | None,
) -> None:
    """Search hyperparameters of SPEC_FILE's method with Optuna, each trial a job on the
    provider, scored by its final validation loss; stop at --max-trials or before a trial
    whose estimate would take the spending over --max-cost. Run it again to go on: trials
    whose jobs were running are re-attached (Ctrl-C leaves them running)."""
    from ftsdk.spec import JobSpec
    from ftsdk.sweeps import sweep as run

    spec = JobSpec.from_file(spec_file)
    chosen_sampler, chosen_pruner = _optuna_parts(sampler, pruner, seed)
    client = client_from(provider, settings)

    def show(trial: Any) -> None:
        if not as_json:
            value = "" if trial.value is None else f" {metric}={trial.value:.4f}"
            click.echo(f"trial {trial.number} {trial.state.name.lower()}{value} {trial.params}")

    try:
        result = run(
            spec,
            space=_space(params),
            providers=[client],
            metric=metric,
            max_cost=budget_from(spec, max_cost, token_price, hour_price),
            max_trials=max_trials,
            parallel=parallel,
            name=name,
            storage=storage,
            sampler=chosen_sampler,
            pruner=chosen_pruner,
            poll_interval=poll_interval,
            on_trial=show,
        )
    except KeyboardInterrupt:
        click.echo(
            "\nstopped; the running trials' jobs go on. Run the same command again to "
            "re-attach them and continue the sweep.",
            err=True,
        )
        raise SystemExit(130) from None
    if json_path:
        result.to_json(json_path)
    if html_path:
        result.to_html(html_path)
    emit(as_json, result.to_dict(), str(result))
