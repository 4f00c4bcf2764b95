"""``ftsdk emulator``: serve the OpenAI / Azure OpenAI emulator until interrupted."""

from __future__ import annotations

import json
import time

import click

__all__ = ["emulator"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--clock-speed",
    default=1.0,
    show_default=True,
    help="Emulated seconds per real second (jobs run faster when higher).",
)
@click.option(
    "--strict/--no-strict",
    default=True,
    show_default=True,
    help="Check OpenAI request bodies against the published OpenAPI description.",
)
@click.option(
    "--latency",
    default=0.0,
    show_default=True,
    help="Seconds added to every answer (to measure clients under latency).",
)
@click.option(
    "--bandwidth",
    type=float,
    default=None,
    help="Bytes per second each request body is read at (a wide-area link).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the addresses as one JSON line.")
def emulator(
    *,
    host: str,
    port: int,
    clock_speed: float,
    strict: bool,
    latency: float,
    bandwidth: float | None,
    as_json: bool,
) -> None:
    """Serve an offline emulator of OpenAI's and Azure OpenAI's fine-tuning APIs, and print
    what to export for each provider (OpenAI; Azure with an API key; Azure with Entra ID
    and Resource Manager, for deployments)."""
    try:
        from ftsdk.testing.emulator import Emulator, EmulatorConfig
    except ModuleNotFoundError as err:  # ftsdk without its testing extra
        raise click.ClickException(str(err)) from None

    emu = Emulator(
        config=EmulatorConfig(strict=strict, latency=latency, bandwidth=bandwidth),
        clock_speed=clock_speed,
        host=host,
        port=port,
    ).start()
    # A system-assigned managed identity, so that DefaultAzureCredential() in any shell
    # gets Entra ID tokens (data plane and Resource Manager) from the emulated IMDS.
    emu.issuer.add_managed_identity(system_assigned=True)
    subscription, group, account = emu.config.azure_account
    exports = {
        "openai": {"OPENAI_BASE_URL": emu.openai_base_url, "OPENAI_API_KEY": emu.api_key},
        "azure_api_key": {"AZURE_OPENAI_ENDPOINT": emu.url, "AZURE_OPENAI_API_KEY": emu.api_key},
        "azure_entra": {
            "AZURE_OPENAI_ENDPOINT": emu.url,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": emu.entra.imds_url,
            "AZURE_SUBSCRIPTION_ID": subscription,
            "AZURE_RESOURCE_GROUP": group,
            "AZURE_OPENAI_ACCOUNT": account,
            "AZURE_RESOURCE_MANAGER_ENDPOINT": emu.url,
        },
    }
    info = {
        "url": emu.url,
        "openai_base_url": emu.openai_base_url,
        "azure_endpoint": emu.url,
        "azure_v1_base_url": emu.azure_v1_base_url,
        "api_key": emu.api_key,
        "env": exports,
    }
    if as_json:
        click.echo(json.dumps(info), nl=True)
    else:
        titles = {
            "openai": "OpenAI",
            "azure_api_key": "Azure OpenAI with an API key",
            "azure_entra": "Azure OpenAI with Entra ID, and deployments (ftsdk models deploy)",
        }
        for name, variables in exports.items():
            click.echo(f"# {titles[name]}:")
            click.echo("export " + " ".join(f"{k}={v}" for k, v in variables.items()))
        click.echo("# Then, e.g.: ftsdk jobs list -p openai. Press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
