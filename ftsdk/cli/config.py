"""``ftsdk config``: the stored default provider and provider settings."""

from __future__ import annotations

import json

import click

from ftsdk.cli.common import emit, handle_errors

__all__ = ["config"]


@click.group()
def config() -> None:
    """Store a default provider and provider settings (`provider`, `PROVIDER.SETTING`).

    Flags win over the environment, the environment over these: `-p` over
    $FTSDK_PROVIDER over the stored `provider`; `--set` over a stored setting. The file
    is in the user's config folder ($FTSDK_CONFIG_DIR to move it)."""


@config.command("set")
@click.argument("key")
@click.argument("value")
@click.option(
    "--secret",
    is_flag=True,
    help="Store a credential (a key, secret or token) in the file, readable by you only "
    "(0600); without it, credentials are refused: keep them in environment variables.",
)
@handle_errors
def set_(key: str, value: str, secret: bool) -> None:
    """Store VALUE as KEY.

    For example `ftsdk config set provider openai` or
    `ftsdk config set azure.endpoint https://NAME.openai.azure.com`."""
    from ftsdk.config import check_key, is_secret, load_config, save_config
    from ftsdk.errors import ConfigurationError
    from ftsdk.plugins import providers

    check_key(key)
    if key == "provider":
        providers().get(value)  # an unknown name is refused now, with the close one named
    if is_secret(key) and not secret:
        raise ConfigurationError(
            f"{key} looks like a credential: it is not stored unless you ask with --secret "
            "(the file is then readable by you only); an environment variable is safer"
        )
    stored = load_config()
    try:
        stored[key] = json.loads(value)  # numbers and booleans, as --set reads them
    except ValueError:
        stored[key] = value
    path = save_config(stored)
    click.echo(f"{key} stored in {path}", err=True)


@config.command("get")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@handle_errors
def get(key: str, as_json: bool) -> None:
    """Print the stored value of KEY (exit 1 when there is none)."""
    from ftsdk.config import check_key, config_path, load_config
    from ftsdk.errors import ConfigurationError

    stored = load_config()
    if check_key(key) not in stored:
        raise ConfigurationError(f"{key} is not set in {config_path()}")
    emit(as_json, {key: stored[key]}, str(stored[key]))


@config.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@handle_errors
def list_(as_json: bool) -> None:
    """Every stored setting (credentials shown as ***), and where the file is."""
    from ftsdk.config import config_path, is_secret, load_config

    shown = {k: "***" if is_secret(k) else v for k, v in load_config().items()}
    lines = [f"{key} = {value}" for key, value in shown.items()]
    emit(as_json, shown, "\n".join([*lines, f"# {config_path()}"]))


@config.command("unset")
@click.argument("key")
@handle_errors
def unset(key: str) -> None:
    """Forget KEY."""
    from ftsdk.config import check_key, load_config, save_config

    stored = load_config()
    if stored.pop(check_key(key), None) is None:
        click.echo(f"{key} was not set", err=True)
        return
    save_config(stored)
    click.echo(f"{key} removed", err=True)
