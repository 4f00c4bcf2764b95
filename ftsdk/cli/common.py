"""What every lifecycle command shares: choosing the provider, its settings, JSON output,
and turning ftsdk errors into one clear line and a non-zero exit."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ftsdk import Client

__all__ = ["client_from", "emit", "handle_errors", "provider_options"]

F = TypeVar("F", bound=Callable[..., Any])


def provider_options(command: F) -> F:
    """``--provider`` (or ``FTSDK_PROVIDER``), ``--set KEY=VALUE`` and ``--json``."""
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(
        command
    )
    command = click.option(
        "--set",
        "settings",
        multiple=True,
        metavar="KEY=VALUE",
        help="A provider setting, e.g. --set base_url=http://127.0.0.1:8000/v1 (repeatable); "
        "credentials come from the provider's usual environment variables.",
    )(command)
    return click.option(
        "--provider",
        "-p",
        default=lambda: os.environ.get("FTSDK_PROVIDER"),
        required=True,
        help="Provider name (see `ftsdk providers`); default $FTSDK_PROVIDER.",
    )(command)


def client_from(provider: str, settings: tuple[str, ...]) -> Client:
    """The client for ``provider`` with ``KEY=VALUE`` settings (numbers parsed)."""
    import ftsdk

    config: dict[str, Any] = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: use KEY=VALUE", param_hint="--set")
        try:
            config[key] = json.loads(value)
        except ValueError:
            config[key] = value
    return ftsdk.client(provider, **config)


def emit(as_json: bool, payload: Any, text: str) -> None:
    """Print ``payload`` as JSON, or ``text``."""
    click.echo(json.dumps(payload, indent=2, default=str) if as_json else text)


def handle_errors(command: F) -> F:
    """Print an ftsdk error as one line on stderr and exit with status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ftsdk.errors import FtsdkError

        try:
            return command(*args, **kwargs)
        except FtsdkError as err:
            click.echo(f"error: {type(err).__name__}: {err}", err=True)
            for problem in getattr(err, "problems", ())[:20]:
                click.echo(f"  {problem}", err=True)
            raise SystemExit(1) from None

    return wrapper  # type: ignore[return-value]
