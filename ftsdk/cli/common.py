"""What every lifecycle command shares: choosing the provider, its settings, JSON output,
and turning ftsdk errors into one clear line and a non-zero exit."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ftsdk.cli.style import paint

if TYPE_CHECKING:
    from ftsdk import Client

__all__ = ["client_from", "emit", "error_json", "handle_errors", "provider_options"]

F = TypeVar("F", bound=Callable[..., Any])


def provider_options(command: F) -> F:
    """``--provider`` (else ``FTSDK_PROVIDER``, else the stored default), ``--set KEY=VALUE``
    and ``--json``."""
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
        metavar="NAME",
        help="Provider name (see `ftsdk providers`); default $FTSDK_PROVIDER, else the "
        "stored default (`ftsdk config set provider NAME`).",
    )(command)


def client_from(provider: str | None, settings: tuple[str, ...]) -> Client:
    """The client for ``provider`` (else ``FTSDK_PROVIDER``, else the stored default) with
    its stored settings, then ``KEY=VALUE`` settings on top (numbers parsed)."""
    import ftsdk
    from ftsdk._client import provider_name
    from ftsdk.config import provider_settings

    name = provider_name(provider)
    config: dict[str, Any] = provider_settings(name)
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: use KEY=VALUE", param_hint="--set")
        try:
            config[key] = json.loads(value)
        except ValueError:
            config[key] = value
    return ftsdk.client(name, **config)


def emit(as_json: bool, payload: Any, text: str) -> None:
    """Print ``payload`` as JSON, or ``text``."""
    click.echo(json.dumps(payload, indent=2, default=str) if as_json else text)


def error_json(err: Exception, problems: list[str]) -> dict[str, Any]:
    """An ftsdk error as the ``--json`` commands print it on stderr."""
    fields = ("provider", "code", "status_code", "request_id", "field")
    found = {name: getattr(err, name, None) for name in fields}
    return {
        "type": type(err).__name__,
        "message": getattr(err, "message", str(err)),
        **{name: value for name, value in found.items() if value is not None},
        "problems": problems,
    }


def handle_errors(command: F) -> F:
    """Print an ftsdk error as one line on stderr (with ``--json``: one JSON object,
    ``{"error": {"type": ..., "message": ..., "problems": [...]}}``) and exit with
    status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ftsdk.errors import FtsdkError

        try:
            return command(*args, **kwargs)
        except FtsdkError as err:
            problems = list(getattr(err, "problems", ()))
            if kwargs.get("as_json"):
                click.echo(json.dumps({"error": error_json(err, problems)}), err=True)
                raise SystemExit(1) from None
            label = paint("error:", err=True, fg="red", bold=True)
            click.echo(f"{label} {type(err).__name__}: {err}", err=True)
            for problem in problems[:20]:
                click.echo(f"  {problem}", err=True)
            if len(problems) > 20:
                click.echo(f"  ... and {len(problems) - 20} more (--json lists them all)", err=True)
            raise SystemExit(1) from None

    return wrapper  # type: ignore[return-value]
