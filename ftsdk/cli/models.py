"""``ftsdk models``: list fine-tuned models, chat with one, export it (GGUF), deploy it,
undeploy it, delete it."""

from __future__ import annotations

import sys

import click

from ftsdk.cli.common import client_from, emit, handle_errors, provider_options
from ftsdk.cli.style import paint, to_terminal

__all__ = ["models"]


@click.group()
def models() -> None:
    """List, chat with, export, deploy, undeploy and delete models."""


@models.command("list")
@click.option("--limit", default=20, show_default=True, help="Look through this many jobs.")
@provider_options
@handle_errors
def list_models(
    *, limit: int, provider: str | None, settings: tuple[str, ...], as_json: bool
) -> None:
    """The models your fine-tuning jobs made, newest first."""
    found = client_from(provider, settings).models(limit=limit)
    rows = [model.info.model_dump(mode="json", exclude_none=True) for model in found]
    lines = [f"{m.id}  base={m.info.base_model}  job={m.info.job_id}" for m in found]
    if lines and to_terminal():
        lines.insert(0, paint("MODEL  BASE MODEL  JOB", bold=True))
    emit(as_json, rows, "\n".join(lines) or "no fine-tuned models yet")


@models.command()
@click.argument("model_id")
@click.argument("message")
@click.option("--system", help="A system message before yours.")
@click.option("--max-tokens", type=int, help="Most tokens in the answer (default: the model's).")
@click.option("--temperature", type=float, help="Sampling temperature; 0 is most deterministic.")
@click.option("--stream", is_flag=True, help="Print the answer as the model writes it.")
@provider_options
@handle_errors
def chat(
    *,
    model_id: str,
    message: str,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
    stream: bool,
    provider: str | None,
    settings: tuple[str, ...],
    as_json: bool,
) -> None:
    """Send MESSAGE to MODEL_ID and print the answer."""
    conversation = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": message}
    ]
    params = {
        k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature)) if v is not None
    }
    model = client_from(provider, settings).model(model_id)
    if stream and not as_json:
        with model.stream(conversation, **params) as pieces:
            for piece in pieces:
                click.echo(piece, nl=False)
        click.echo()
        return
    answer = model.chat(conversation, **params)
    emit(as_json, answer.model_dump(mode="json"), answer.content)


@models.command()
@click.argument("model_id")
@click.argument("name", required=False)
@click.option("--sku", default="standard", show_default=True, help="Deployment type (Azure SKU).")
@click.option(
    "--capacity", default=1, show_default=True, help="Capacity units (thousands of tokens/minute)."
)
@provider_options
@handle_errors
def deploy(
    *,
    model_id: str,
    name: str | None,
    sku: str,
    capacity: int,
    provider: str | None,
    settings: tuple[str, ...],
    as_json: bool,
) -> None:
    """Deploy MODEL_ID (as NAME) where the provider serves through deployments."""
    click.echo(
        "note: a deployment is billed by the hour while it exists; "
        "`ftsdk models undeploy` removes it",
        err=True,
    )
    deployed = (
        client_from(provider, settings).model(model_id).deploy(name, sku=sku, capacity=capacity)
    )
    emit(as_json, deployed.info.model_dump(mode="json"), f"deployed as {deployed.id}")


@models.command()
@click.argument("deployment")
@provider_options
@handle_errors
def undeploy(
    deployment: str, provider: str | None, settings: tuple[str, ...], as_json: bool
) -> None:
    """Remove a deployment."""
    client = client_from(provider, settings)
    client.model(deployment, kind="deployment", deployment=deployment).undeploy()
    emit(as_json, {"undeployed": deployment}, f"removed deployment {deployment}")


@models.command()
@click.argument("model_id")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking first.")
@provider_options
@handle_errors
def delete(
    model_id: str, yes: bool, provider: str | None, settings: tuple[str, ...], as_json: bool
) -> None:
    """Delete a fine-tuned model (asks first; --yes does not). It cannot be undone."""
    client = client_from(provider, settings)
    if not yes:
        if not sys.stdin.isatty():  # no one to ask
            raise click.UsageError(f"deleting {model_id} cannot be undone: add --yes to confirm")
        click.confirm(
            f"Delete {model_id} from {client.name}? This cannot be undone", abort=True, err=True
        )
    client.model(model_id, kind="fine-tuned").delete()
    emit(as_json, {"deleted": model_id}, f"deleted {model_id}")


@models.command()
@click.argument("model_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["gguf"]),
    default="gguf",
    show_default=True,
    help="gguf: for llama.cpp and Ollama.",
)
@click.option(
    "--quantization",
    type=click.Choice(["f32", "f16", "bf16", "q8_0"]),
    default="f16",
    show_default=True,
    help="Weight type written by llama.cpp's converters.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False),
    help="Folder to write to (default: ./<model folder name>-gguf).",
)
@provider_options
@handle_errors
def export(
    *,
    model_id: str,
    fmt: str,
    quantization: str,
    output: str | None,
    provider: str | None,
    settings: tuple[str, ...],
    as_json: bool,
) -> None:
    """Write MODEL_ID's local weights (a model or LoRA adapter folder) as GGUF with
    llama.cpp's own converters, and an Ollama Modelfile beside them."""
    model = client_from(provider, settings).model(model_id)
    click.echo(f"exporting {model_id} to {fmt} ({quantization}) ...", err=True)
    exported = model.export(fmt, output, quantization=quantization)
    files = {
        "model": str(exported.model),
        "adapter": str(exported.adapter) if exported.adapter else None,
        "modelfile": str(exported.modelfile),
    }
    lines = [f"model: {exported.model}"]
    if exported.adapter is not None:
        lines.append(f"adapter: {exported.adapter}")
    lines += [
        f"Modelfile: {exported.modelfile}",
        f"  ollama create NAME -f {exported.modelfile}",
    ]
    emit(as_json, files, "\n".join(lines))
