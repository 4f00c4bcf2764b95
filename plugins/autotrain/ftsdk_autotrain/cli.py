"""``ftsdk autotrain install-runtime`` builds the AutoTrain runtime venv now, with progress,
instead of at the first job; ``ftsdk autotrain runtime-info`` says where it is and whether
it is ready. Added to the ``ftsdk`` command line through the ``ftsdk.cli`` entry point;
also installed as ``ftsdk-autotrain`` and runnable as ``python -m ftsdk_autotrain``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from ftsdk.credentials import resolve_setting

__all__ = ["autotrain"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", help="The ftsdk home (default $FTSDK_HOME or ~/.cache/ftsdk).")
@click.pass_context
def autotrain(ctx: click.Context, home: str | None) -> None:
    """The AutoTrain provider's runtime: a venv of its own, built once."""
    ctx.obj = Path(resolve_setting(home, ["FTSDK_HOME"]) or "~/.cache/ftsdk").expanduser()


def _runtime(ctx: click.Context) -> Any:
    from ftsdk_autotrain.runtime import runtime_for

    return runtime_for(ctx.obj)


@autotrain.command("install-runtime")
@click.pass_context
def install_runtime(ctx: click.Context) -> None:
    """Build the AutoTrain runtime venv (minutes, ~3 GB); a no-op when it is ready."""
    from ftsdk_autotrain.runtime import RuntimeBuildError

    started = time.monotonic()
    try:
        python = _runtime(ctx).ensure()
    except RuntimeBuildError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"{python} ({time.monotonic() - started:.0f} s)")


@autotrain.command("runtime-info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def runtime_info(ctx: click.Context, as_json: bool) -> None:
    """Where the runtime venv is and whether it is ready."""
    runtime = _runtime(ctx)
    info = {"python": str(runtime.python), "ready": runtime.is_ready(), "key": runtime.key}
    if as_json:
        click.echo(json.dumps(info, indent=1))
    else:
        state = "ready" if info["ready"] else "not built (ftsdk autotrain install-runtime)"
        click.echo(f"{info['python']}  {state}  key={info['key']}")
