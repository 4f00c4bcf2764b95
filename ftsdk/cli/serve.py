"""``ftsdk serve``: one model as a local OpenAI-compatible endpoint, until interrupted."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import click

from ftsdk.cli.common import client_from, handle_errors, provider_options

if TYPE_CHECKING:
    from ftsdk import Model
    from ftsdk.serving import ModelServer

__all__ = ["serve"]


def _check_answers(model: Model, provider: str) -> None:
    """Ask ``model`` for one token before serving it (a local one loads now), so that a
    model that does not exist or cannot load stops here, not at every request."""
    from ftsdk.errors import FtsdkError

    click.echo(f"checking that {model.id} answers (loading it) ...", err=True)
    hint = f"`ftsdk models list -p {provider}` lists the models your jobs made"
    try:
        model.chat("Hello", max_tokens=1)
    except FtsdkError as err:
        err.message = f"cannot serve {model.id}: {err.message}; {hint}"
        err.args = (err.message, *err.args[1:])
        raise
    except Exception as err:  # a provider's bug or a broken model: say which model
        raise FtsdkError(
            f"cannot serve {model.id}: {type(err).__name__}: {err}", provider=provider
        ) from err


@click.command()
@click.argument("model_id", metavar="[MODEL]", required=False)
@click.option("--job", "job_id", metavar="JOB_ID", help="Serve the model this job produced.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port; 0 picks a free one.",
)
@click.option("--name", help="The id clients pass as `model` (default: the model's id).")
@click.option(
    "--api-key",
    envvar="FTSDK_SERVE_API_KEY",
    help="Require this key (Authorization: Bearer KEY); default $FTSDK_SERVE_API_KEY, "
    "else no key is asked for.",
)
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Chat calls run at once (others wait); keep 1 for a local model.",
)
@click.option(
    "--warm-up/--no-warm-up",
    default=None,
    help="Ask the model for one token before serving: it loads now, and a model that "
    "cannot answer stops here with the reason. Default: on for local providers "
    "(weights on this machine), off for hosted ones.",
)
@click.option("--quiet", is_flag=True, help="No log line per request.")
@provider_options
@handle_errors
def serve(
    *,
    model_id: str | None,
    job_id: str | None,
    host: str,
    port: int,
    name: str | None,
    api_key: str | None,
    concurrency: int,
    warm_up: bool | None,
    quiet: bool,
    provider: str | None,
    settings: tuple[str, ...],
    as_json: bool,
) -> None:
    """Serve MODEL (or the model of --job JOB_ID) as an OpenAI-compatible endpoint
    (/v1/chat/completions, /v1/responses, /v1/models; /health) until Ctrl-C."""
    import ftsdk
    from ftsdk.capabilities import Operation
    from ftsdk.errors import Conflict

    if (model_id is None) == (job_id is None):
        raise click.UsageError("give MODEL or --job JOB_ID (one of them)")
    client = client_from(provider, settings)
    aliases: list[str] = []
    if job_id is not None:
        job = client.job(job_id)
        if job.model is None:
            raise Conflict(
                f"job {job_id} has no model yet (it is {job.status.value}); "
                f"follow it with: ftsdk jobs watch {job_id} -p {client.name}",
                provider=provider,
            )
        model, aliases = job.model, [job_id]
    else:
        assert model_id is not None
        model = client.model(model_id)
    if not quiet:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger = logging.getLogger("ftsdk.serving")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)

    def ready(server: ModelServer) -> None:
        if as_json:
            info = {
                **server.client_settings(),
                "api_key_required": server.requires_key,
                "provider": server.model.provider,
                "host": server.host,
                "port": server.port,
                "health_url": server.health_url,
            }
            click.echo(json.dumps(info))
        else:
            click.echo("\n".join(server.banner()))

    if warm_up is None:  # a local provider reads no uploads: its weights are on this machine
        warm_up = not client.capabilities.supports(Operation.UPLOAD)
    if warm_up:
        _check_answers(model, client.name)
    ftsdk.serve(
        model,
        host=host,
        port=port,
        name=name,
        aliases=aliases,
        api_key=api_key,
        concurrency=concurrency,
        on_ready=ready,
    )
    click.echo("stopped", err=True)
