"""``ftsdk serve``: one model as a local OpenAI-compatible endpoint, until interrupted, by
ftsdk's own server or a real engine (``--engine vllm|llamacpp``); ``ftsdk serve
install-engine NAME`` builds an engine's runtime venv ahead of time."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import click

from ftsdk.cli.common import client_from, handle_errors, provider_options

if TYPE_CHECKING:
    from ftsdk import Model
    from ftsdk.serving import EngineServer, ModelServer

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


class _ServeGroup(click.Group):
    """``ftsdk serve [MODEL] [OPTIONS]`` that also has subcommands: arguments that do not
    start with a subcommand's name are the serve command's own, parsed as a command's
    (options after MODEL included; a stray argument is an error)."""

    allow_interspersed_args = True
    allow_extra_args = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            # the subcommand gets every argument after its name; serve's own take defaults
            click.Command.parse_args(self, ctx, [])
            ctx._protected_args, ctx.args = args[:1], args[1:]
            return ctx.args
        return click.Command.parse_args(self, ctx, args)


class _ModelArgument(click.Argument):
    """MODEL, left out of the command line shown for a subcommand (``ftsdk serve
    install-engine``, not ``ftsdk serve [MODEL] install-engine``)."""

    def get_usage_pieces(self, ctx: click.Context) -> list[str]:
        return super().get_usage_pieces(ctx) if isinstance(ctx.command, _ServeGroup) else []


@click.group(cls=_ServeGroup, invoke_without_command=True)
@click.argument("model_id", metavar="[MODEL]", required=False, cls=_ModelArgument)
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
@click.option(
    "--engine",
    type=click.Choice(["transformers", "vllm", "llamacpp"]),
    default="transformers",
    show_default=True,
    help="What answers: ftsdk's own server (transformers), or a real engine run from its "
    "own venv (built the first time: minutes; see `ftsdk serve install-engine`).",
)
@click.option(
    "--adapter",
    "adapters",
    multiple=True,
    metavar="NAME=MODEL",
    help="Also serve this LoRA adapter of the same base as NAME (--engine vllm; repeat it).",
)
@click.option(
    "--engine-python",
    metavar="PYTHON",
    help="Run the engine with this interpreter (it has the engine installed) instead of "
    "its managed venv; default $FTSDK_VLLM_PYTHON / $FTSDK_LLAMACPP_PYTHON.",
)
@click.option("--quiet", is_flag=True, help="No log line per request.")
@provider_options
@handle_errors
def serve(
    *,
    engine: str,
    adapters: tuple[str, ...],
    engine_python: str | None,
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
    (/v1/chat/completions, /v1/responses, /v1/models; /health) until Ctrl-C.

    With --engine vllm or llamacpp the model's local weights are served by that engine
    (/v1/chat/completions, /v1/models), whose log file the banner shows."""
    import ftsdk
    from ftsdk.capabilities import Operation
    from ftsdk.errors import Conflict

    if click.get_current_context().invoked_subcommand is not None:
        return
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

    more = {}
    for pair in adapters:
        label, sep, other = pair.partition("=")
        if not (sep and label and other):
            raise click.BadParameter(f"{pair!r}: give NAME=MODEL", param_hint="--adapter")
        more[label] = client.model(other)

    def ready(server: ModelServer | EngineServer) -> None:
        if as_json:
            info: dict[str, object] = {
                **server.client_settings(),
                "api_key_required": server.requires_key,
                "provider": server.model.provider,
                "engine": engine,
                "host": server.host,
                "port": server.port,
                "health_url": server.health_url,
            }
            log_path = getattr(server, "log_path", None)
            if log_path is not None:
                info["log"] = str(log_path)
            click.echo(json.dumps(info))
        else:
            click.echo("\n".join(server.banner()))

    if warm_up is None:  # a local provider reads no uploads: its weights are on this machine
        warm_up = engine == "transformers" and not client.capabilities.supports(Operation.UPLOAD)
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
        engine=engine,
        adapters=more,
        engine_python=engine_python,
    )
    click.echo("stopped", err=True)


@serve.command("install-engine")
@click.argument("engine", type=click.Choice(["vllm", "llamacpp"]))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def install_engine(*, engine: str, as_json: bool) -> None:
    """Build ENGINE's runtime venv now (minutes, once; nothing if it is there) and say
    where it is. `ftsdk serve --engine ENGINE` would build it on first use."""
    from ftsdk.runtimes import say_on_stderr
    from ftsdk.serving.engines import runtime_for

    runtime = runtime_for(engine)
    python = runtime.ensure(say_on_stderr("ftsdk serve"))
    if engine == "llamacpp":
        runtime.ensure_converters(say_on_stderr("ftsdk serve"))
    info = {"engine": engine, "python": str(python), "key": runtime.key}
    click.echo(json.dumps(info) if as_json else f"{engine} engine ready: {python}")
