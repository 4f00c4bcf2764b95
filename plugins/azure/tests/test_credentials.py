"""Microsoft Entra ID failures say what to set, not azure-identity's dump (issue 18.2).

Real azure-identity credentials, against the emulated Entra ID and IMDS."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential

import ftsdk
from ftsdk.errors import AuthenticationError, MissingCredentials
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"
HOW = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "managed identity", "az login")


@pytest.fixture
def nothing_configured(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine with no Azure sign-in: no service principal in the environment, no
    managed identity (the emulated IMDS knows none), no ``az`` on the PATH."""
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.entra.imds_url)
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no shared token cache, no azd login


def _says_what_to_set(err: Exception, *, api_key: bool) -> None:
    message = str(err)
    for way in HOW:
        assert way in message, (way, message)
    assert ("AZURE_OPENAI_API_KEY" in message) is api_key
    assert isinstance(err.__cause__, ClientAuthenticationError)


@pytest.mark.usefixtures("nothing_configured")
def test_deploy_without_any_credential_says_what_to_set(settings: Any) -> None:
    config = settings("api-key")
    del config["credential"]  # DefaultAzureCredential, as a user gets it
    model = ftsdk.client("azure", **config).model(f"{BASE}.ft-abc", job_id="ftjob-abc")
    with pytest.raises(MissingCredentials) as caught:
        model.ensure_deployed()
    # Resource Manager takes Entra ID only: an API key is no answer there.
    _says_what_to_set(caught.value, api_key=False)
    assert "Resource Manager" in str(caught.value)


@pytest.mark.usefixtures("nothing_configured")
def test_chat_without_key_or_credential_says_what_to_set(settings: Any) -> None:
    config = settings("entra")
    del config["credential"]
    client = ftsdk.client("azure", **config)
    with pytest.raises(MissingCredentials) as caught:
        client.model(BASE).chat("What is 2+2?")
    _says_what_to_set(caught.value, api_key=True)


@pytest.mark.usefixtures("nothing_configured")
@pytest.mark.parametrize("api_version", ["v1", "2024-10-21"])
def test_async_calls_say_the_same(settings: Any, api_version: str) -> None:
    config = settings("entra", api_version=api_version)
    del config["credential"]
    client = ftsdk.async_client("azure", **config)
    with pytest.raises(MissingCredentials) as caught:
        asyncio.run(client.jobs())
    _says_what_to_set(caught.value, api_key=True)


def test_a_refused_secret_is_an_authentication_error(emulator: Emulator, settings: Any) -> None:
    app = emulator.issuer.add_app()
    wrong = "not-the-secret-0123456789"
    credential = ClientSecretCredential(
        app.tenant_id, app.client_id, wrong, **emulator.entra.credential_kwargs()
    )
    client = ftsdk.client("azure", **settings("entra", credential=credential))
    with pytest.raises(AuthenticationError) as caught:
        client.jobs()
    message = str(caught.value)
    assert "AADSTS7000215" in message  # Entra ID's own reason
    assert "AZURE_OPENAI_API_KEY" in message
    assert wrong not in message
    assert app.client_secret not in message
    assert isinstance(caught.value.__cause__, ClientAuthenticationError)


def test_a_default_chain_that_met_a_refusal_says_so(
    emulator: Emulator, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DefaultAzureCredential stops at a service principal Entra ID refuses: that refusal is
    the reason given, not "no credential"."""
    from azure.identity import DefaultAzureCredential

    app = emulator.issuer.add_app()
    wrong = "also-not-the-secret-987"
    for name, value in emulator.entra.service_principal_env(app).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", wrong)
    credential = DefaultAzureCredential(**emulator.entra.credential_kwargs())
    client = ftsdk.client("azure", **settings("entra", credential=credential))
    with pytest.raises(AuthenticationError) as caught:
        client.jobs()
    assert "AADSTS7000215: Invalid client secret provided" in str(caught.value)
    assert wrong not in str(caught.value)
