"""The spending-limit flags ``ftsdk train`` and ``ftsdk sweep`` share: ``--max-cost`` and
the prices ftsdk does not know by itself."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ftsdk.budget import Budget
    from ftsdk.spec import JobSpec

__all__ = ["budget_from", "budget_options"]

F = TypeVar("F", bound=Callable[..., Any])


def budget_options(command: F) -> F:
    """``--max-cost``, ``--token-price`` and ``--hour-price``."""
    command = click.option(
        "--hour-price",
        type=click.FloatRange(min=0),
        metavar="USD",
        help="USD per hour: local training's GPU-hour rate (else $FTSDK_GPU_HOUR_PRICE); on "
        "a service that bills by the hour, the job is watched and paused at the limit (else "
        "at the model's recorded hourly rate, where there is one: Azure's o4-mini RFT).",
    )(command)
    command = click.option(
        "--token-price",
        type=click.FloatRange(min=0),
        metavar="USD",
        help="Your price per 1M training tokens, where ftsdk records none (Azure prices by "
        "region and tier; else $FTSDK_<PROVIDER>_TOKEN_PRICE, e.g. FTSDK_AZURE_TOKEN_PRICE).",
    )(command)
    return click.option(
        "--max-cost",
        type=click.FloatRange(min=0),
        metavar="USD",
        help="The most to spend: a run estimated over USD is refused before anything is "
        "uploaded; a sweep stops before a trial that would take it over USD (default: the "
        "spec file's max_cost, else $FTSDK_MAX_COST).",
    )(command)


def budget_from(
    spec: JobSpec,
    max_cost: float | None,
    token_price: float | None,
    hour_price: float | None,
) -> Budget | None:
    """The limit the flags, the spec file and ``FTSDK_MAX_COST`` set, with the prices given.

    :raises click.UsageError: a price without a limit to check it against.
    """
    from ftsdk.budget import resolve

    limit = resolve(max_cost, spec)
    if limit is None:
        if token_price is not None or hour_price is not None:
            raise click.UsageError(
                "--token-price and --hour-price price a limit: give --max-cost (or max_cost "
                "in the spec file, or FTSDK_MAX_COST)"
            )
        return None
    return dataclasses.replace(
        limit,
        per_million_tokens=token_price if token_price is not None else limit.per_million_tokens,
        per_hour=hour_price if hour_price is not None else limit.per_hour,
    )
