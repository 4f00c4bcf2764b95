"""Azure with Microsoft Entra ID: real azure-identity credentials get tokens from the
emulator; the data plane and Azure Resource Manager accept them, by scope and role."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import openai
import pytest
from azure.identity import ClientSecretCredential, get_bearer_token_provider

from ftsdk_emulator import Emulator
from ftsdk_emulator.entra import CONTRIBUTOR, DATA_SCOPE, MANAGEMENT_SCOPE, USER

BASE = "gpt-4o-mini-2024-07-18"
API = "2024-10-01"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_")) or name in (
            "REQUESTS_CA_BUNDLE",
            "CURL_CA_BUNDLE",
            "SSL_CERT_FILE",
        ):
            monkeypatch.delenv(name)


def credential(
    emulator: Emulator, roles: tuple[str, ...] = (CONTRIBUTOR,)
) -> tuple[ClientSecretCredential, str]:
    app = emulator.issuer.add_app(roles=roles)
    cred = ClientSecretCredential(
        app.tenant_id, app.client_id, app.client_secret, **emulator.entra.credential_kwargs()
    )
    return cred, app.object_id


def deployment_url(emulator: Emulator, name: str) -> str:
    sub, rg, account = emulator.config.azure_account
    return (
        f"{emulator.url}/subscriptions/{sub}/resourceGroups/{rg}/providers/"
        f"Microsoft.CognitiveServices/accounts/{account}/deployments/{name}"
    )


def test_fine_tune_deploy_chat_undeploy_with_entra(emulator: Emulator, tmp_path: Path) -> None:
    from ftsdk.testing.data import date_to_words_examples, write_jsonl

    cred, _ = credential(emulator)
    azure = openai.AzureOpenAI(
        azure_endpoint=emulator.url,
        api_version="2024-10-21",
        max_retries=0,
        azure_ad_token_provider=get_bearer_token_provider(cred, DATA_SCOPE),
    )
    path = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(12))
    with path.open("rb") as stream:
        file_id = azure.files.create(file=stream, purpose="fine-tune").id
    job = azure.fine_tuning.jobs.create(model=BASE, training_file=file_id)
    emulator.advance(3600)
    model = azure.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert model is not None

    arm = {"Authorization": f"Bearer {cred.get_token(MANAGEMENT_SCOPE).token}"}
    url = deployment_url(emulator, "dates")
    body = {
        "sku": {"name": "standard", "capacity": 1},
        "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}},
    }
    created = httpx.put(url, params={"api-version": API}, json=body, headers=arm)
    assert created.status_code == 201
    assert created.json()["properties"]["provisioningState"] == "Creating"
    operation = created.headers["azure-asyncoperation"]
    assert httpx.get(operation, headers=arm).json()["status"] == "InProgress"
    with pytest.raises(openai.NotFoundError, match=r"DeploymentNotFound|does not exist"):
        azure.chat.completions.create(model="dates", messages=[{"role": "user", "content": "hi"}])
    emulator.advance(emulator.config.deploy_seconds)
    assert httpx.get(operation, headers=arm).json()["status"] == "Succeeded"
    got = httpx.get(url, params={"api-version": API}, headers=arm).json()
    assert got["properties"]["provisioningState"] == "Succeeded"
    assert got["sku"] == {"name": "Standard", "capacity": 1}
    question = date_to_words_examples(12)[3]["messages"]
    answer = azure.chat.completions.create(
        model="dates", messages=[{"role": "user", "content": question[1]["content"]}]
    )
    assert answer.choices[0].message.content == question[2]["content"]
    assert httpx.delete(url, params={"api-version": API}, headers=arm).status_code == 200
    assert httpx.get(url, params={"api-version": API}, headers=arm).status_code == 404
    assert httpx.delete(url, params={"api-version": API}, headers=arm).status_code == 204


def test_arm_refuses_a_data_plane_token_and_a_missing_role(emulator: Emulator) -> None:
    cred, object_id = credential(emulator, roles=(USER,))
    url = deployment_url(emulator, "x1")
    body = {
        "sku": {"name": "Standard", "capacity": 1},
        "properties": {"model": {"format": "OpenAI", "name": BASE, "version": "1"}},
    }
    wrong_scope = {"Authorization": f"Bearer {cred.get_token(DATA_SCOPE).token}"}
    refused = httpx.put(url, params={"api-version": API}, json=body, headers=wrong_scope)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "InvalidAuthenticationToken"
    arm = {"Authorization": f"Bearer {cred.get_token(MANAGEMENT_SCOPE).token}"}
    forbidden = httpx.put(url, params={"api-version": API}, json=body, headers=arm)
    assert forbidden.status_code == 403
    error = forbidden.json()["error"]
    assert error["code"] == "AuthorizationFailed"
    assert object_id in error["message"]
    assert "accounts/deployments/write" in error["message"]
    emulator.issuer.assign_role(object_id, CONTRIBUTOR)
    assert httpx.put(url, params={"api-version": API}, json=body, headers=arm).status_code == 201


def test_arm_checks_name_sku_model_quota_and_account(emulator: Emulator) -> None:
    cred, _ = credential(emulator)
    arm = {"Authorization": f"Bearer {cred.get_token(MANAGEMENT_SCOPE).token}"}

    def put(
        name: str,
        sku: str = "Standard",
        model: str = BASE,
        capacity: int = 1,
        url: str | None = None,
    ) -> httpx.Response:
        body = {
            "sku": {"name": sku, "capacity": capacity},
            "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}},
        }
        return httpx.put(
            url or deployment_url(emulator, name),
            params={"api-version": API},
            json=body,
            headers=arm,
        )

    assert put("a b").json()["error"]["code"] == "InvalidResourceName"
    assert put("ok1", sku="Premium").json()["error"]["code"] == "InvalidResourceProperties"
    assert put("ok1", model="gpt-5-pro").json()["error"]["code"] == "DeploymentModelNotSupported"
    assert put("ok1", capacity=101).json()["error"]["code"] == "InsufficientQuota"
    other = deployment_url(emulator, "ok1").replace("emulator-aoai", "someone-else")
    assert put("ok1", url=other).status_code == 404
    assert (
        httpx.put(deployment_url(emulator, "ok1"), json={}, headers=arm).json()["error"]["code"]
        == "MissingApiVersionParameter"
    )


def test_data_plane_roles(emulator: Emulator) -> None:
    cred, object_id = credential(emulator, roles=(USER,))
    token = get_bearer_token_provider(cred, DATA_SCOPE)
    azure = openai.AzureOpenAI(
        azure_endpoint=emulator.url,
        api_version="2024-10-21",
        azure_ad_token_provider=token,
        max_retries=0,
    )
    with pytest.raises(openai.AuthenticationError, match="lacks the required data action"):
        azure.files.list()
    emulator.issuer.assign_role(object_id, CONTRIBUTOR)
    assert azure.files.list().data == []
    arm_token = cred.get_token(MANAGEMENT_SCOPE).token
    wrong = openai.AzureOpenAI(
        azure_endpoint=emulator.url,
        api_version="2024-10-21",
        azure_ad_token=arm_token,
        max_retries=0,
    )
    with pytest.raises(openai.AuthenticationError, match="audience is incorrect"):
        wrong.files.list()


def test_managed_identity_reaches_the_data_plane(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.identity import ManagedIdentityCredential

    identity = emulator.issuer.add_managed_identity(system_assigned=True)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.entra.imds_url)
    cred = ManagedIdentityCredential()
    azure = openai.AzureOpenAI(
        azure_endpoint=emulator.url,
        api_version="2024-10-21",
        max_retries=0,
        azure_ad_token_provider=get_bearer_token_provider(cred, DATA_SCOPE),
    )
    assert azure.files.list().data == []
    assert identity is not None
