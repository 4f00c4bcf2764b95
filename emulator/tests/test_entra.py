"""The real azure-identity credentials (and openai's Azure client) against the emulated
Entra ID and managed identity endpoints."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.policies import _authentication
from azure.identity import (
    ClientSecretCredential,
    CredentialUnavailableError,
    DefaultAzureCredential,
    EnvironmentCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
    get_bearer_token_provider,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ftsdk_emulator.entra import (
    CONTRIBUTOR,
    DATA_SCOPE,
    MANAGEMENT_SCOPE,
    USER,
    EntraEmulator,
    TokenIssuer,
    bearer_token,
    decode_jwt_claims,
    entra_routes,
    make_assertion,
)
from ftsdk_emulator.serving import LocalCA, ServerThread

# Variables that steer azure-identity, MSAL or requests; none may leak in from the machine.
_ENV_PREFIXES = ("AZURE_", "IDENTITY_", "MSI_", "MSAL_")
_ENV_NAMES = (
    "IMDS_ENDPOINT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(scope="module")
def ca() -> Iterator[LocalCA]:
    with LocalCA() as local_ca:
        yield local_ca


@pytest.fixture(scope="module")
def running(ca: LocalCA) -> Iterator[EntraEmulator]:
    with EntraEmulator(ca=ca) as emulator:
        yield emulator


@pytest.fixture
def emu(running: EntraEmulator, monkeypatch: pytest.MonkeyPatch) -> EntraEmulator:
    """The module's emulator with a fresh issuer state and a clean environment."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name)
    running.issuer.reset()
    return running


def _trust(ca_path: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_path)


def _set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


# -- serving -------------------------------------------------------------------------
def test_https_server_starts_fast_and_stops_clean(ca: LocalCA) -> None:
    started = time.perf_counter()
    server = ServerThread(
        Starlette(routes=entra_routes(TokenIssuer(tenant_id="t1"))),
        ssl_context=ca.server_context(),
        name="probe-server",
    ).start()
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"start took {elapsed:.3f}s"
    assert server.port > 0
    assert server.url == f"https://127.0.0.1:{server.port}"

    with httpx.Client(verify=_trust(str(ca.ca_path))) as client:
        reply = client.get(f"{server.url}/t1/v2.0/.well-known/openid-configuration")
    assert reply.status_code == 200

    server.stop()
    assert not server.running
    assert all(t.name != "probe-server" for t in threading.enumerate())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_openid_configuration_and_unknown_tenant(emu: EntraEmulator) -> None:
    tenant = emu.issuer.tenant_id
    emu.issuer.add_tenant("contoso-tenant-id", domains=["contoso.onmicrosoft.com"])
    with httpx.Client(verify=_trust(emu.ca_path)) as client:
        config = client.get(f"{emu.authority}/{tenant}/v2.0/.well-known/openid-configuration")
        by_domain = client.get(
            f"{emu.authority}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        )
        missing = client.get(f"{emu.authority}/nope/v2.0/.well-known/openid-configuration")
    assert config.status_code == 200
    body = config.json()
    assert body["token_endpoint"] == f"{emu.authority}/{tenant}/oauth2/v2.0/token"
    assert body["issuer"] == f"{emu.authority}/{tenant}/v2.0"
    assert body["authorization_endpoint"].startswith("https://")
    # A domain resolves to the tenant id, as Entra's discovery does.
    assert by_domain.json()["token_endpoint"].endswith("/contoso-tenant-id/oauth2/v2.0/token")
    assert missing.status_code == 400
    error = missing.json()
    assert error["error"] == "invalid_tenant"
    assert error["error_codes"] == [90002]
    assert error["error_description"].startswith("AADSTS90002: Tenant 'nope' not found.")


# -- client secret -------------------------------------------------------------------
def test_client_secret_credential(emu: EntraEmulator) -> None:
    app = emu.issuer.add_app()
    credential = ClientSecretCredential(
        app.tenant_id, app.client_id, app.client_secret, **emu.credential_kwargs()
    )
    started = time.perf_counter()
    token = credential.get_token(DATA_SCOPE)
    round_trip = time.perf_counter() - started
    assert round_trip < 1.0

    principal = emu.issuer.validate(token.token, DATA_SCOPE)
    assert principal is not None
    assert (principal.kind, principal.client_id, principal.tenant_id) == (
        "ServicePrincipal",
        app.client_id,
        app.tenant_id,
    )
    assert principal.name == app.object_id
    assert principal.roles == {CONTRIBUTOR}
    # The data-plane token is no good for Resource Manager, and vice versa.
    assert emu.issuer.validate(token.token, MANAGEMENT_SCOPE) is None
    arm = credential.get_token(MANAGEMENT_SCOPE)
    assert emu.issuer.validate(arm.token, "https://management.azure.com/") is not None
    assert emu.issuer.validate(arm.token, DATA_SCOPE) is None

    claims = decode_jwt_claims(token.token)
    assert claims is not None
    assert claims["aud"] == "https://cognitiveservices.azure.com"
    assert claims["appid"] == app.client_id
    assert claims["oid"] == app.object_id
    assert abs(token.expires_on - time.time() - 3600) < 5

    # MSAL caches: asking again costs no request.
    assert credential.get_token(DATA_SCOPE).token == token.token
    issued = emu.issuer.issued(client_id=app.client_id)
    assert [r.scope for r in issued] == [DATA_SCOPE, MANAGEMENT_SCOPE]
    assert issued[0].grant_type == "client_credentials"
    assert issued[0].access_token == token.token


def test_wrong_secret_is_client_authentication_error(emu: EntraEmulator) -> None:
    app = emu.issuer.add_app()
    credential = ClientSecretCredential(
        app.tenant_id, app.client_id, "not-the-secret", **emu.credential_kwargs()
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215: Invalid client secret"):
        credential.get_token(DATA_SCOPE)
    [request] = emu.issuer.requests
    assert (request.status_code, request.error, request.error_code) == (
        401,
        "invalid_client",
        7000215,
    )
    assert emu.issuer.issued() == []


def test_unknown_client_and_unknown_tenant(emu: EntraEmulator) -> None:
    kwargs = emu.credential_kwargs()
    tenant = emu.issuer.tenant_id
    with pytest.raises(
        ClientAuthenticationError, match="AADSTS700016: Application with identifier"
    ):
        ClientSecretCredential(tenant, "no-such-app", "s", **kwargs).get_token(DATA_SCOPE)
    # An unknown tenant fails at discovery; MSAL reports it without Entra's body.
    with pytest.raises(ClientAuthenticationError, match="Unable to get authority configuration"):
        ClientSecretCredential("no-such-tenant", "c", "s", **kwargs).get_token(DATA_SCOPE)
    assert [(r.status_code, r.error_code) for r in emu.issuer.requests] == [(400, 700016)]


def test_token_endpoint_errors_have_entras_shape(emu: EntraEmulator) -> None:
    app = emu.issuer.add_app()
    url = f"{emu.authority}/{app.tenant_id}/oauth2/v2.0/token"
    form = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": "client_credentials",
        "scope": DATA_SCOPE,
    }
    with httpx.Client(verify=_trust(emu.ca_path)) as client:
        wrong = client.post(
            url, data={**form, "client_secret": "x"}, headers={"client-request-id": "corr-1"}
        )
        non_ascii = client.post(url, data={**form, "client_secret": "sécret"})
        no_default = client.post(url, data={**form, "scope": "https://ai.azure.com/user"})
        unknown = client.post(url, data={**form, "scope": "https://unknown.example/.default"})
        no_secret = client.post(url, data={k: v for k, v in form.items() if k != "client_secret"})
        grant = client.post(url, data={**form, "grant_type": "password"})
        basic = client.post(
            url,
            data={"grant_type": "client_credentials", "scope": DATA_SCOPE},
            auth=(app.client_id, app.client_secret),
        )
    assert wrong.status_code == 401
    body = wrong.json()
    assert set(body) == {
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
        "error_uri",
    }
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["correlation_id"] == "corr-1"
    assert wrong.headers["client-request-id"] == "corr-1"
    assert f"for a secret added to app '{app.client_id}'." in body["error_description"]
    assert "Trace ID: " in body["error_description"]
    assert (non_ascii.status_code, non_ascii.json()["error_codes"]) == (401, [7000215])
    assert (no_default.status_code, no_default.json()["error_codes"]) == (400, [1002012])
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_resource")
    assert (no_secret.status_code, no_secret.json()["error_codes"]) == (401, [7000218])
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
    assert basic.status_code == 200
    assert basic.json()["token_type"] == "Bearer"
    assert basic.headers["cache-control"] == "no-store, no-cache"


# -- environment and default credentials ---------------------------------------------
def test_environment_credential(emu: EntraEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    app = emu.issuer.add_app()
    _set_env(monkeypatch, emu.service_principal_env(app))
    credential = EnvironmentCredential(
        disable_instance_discovery=True, connection_verify=emu.ca_path, retry_total=0
    )
    token = credential.get_token(DATA_SCOPE)
    assert emu.issuer.validate(token.token, DATA_SCOPE) is not None
    assert len(emu.issuer.issued(client_id=app.client_id)) == 1


def test_default_azure_credential_from_environment(
    emu: EntraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = emu.issuer.add_app()
    _set_env(monkeypatch, emu.service_principal_env(app))
    credential = DefaultAzureCredential(
        disable_instance_discovery=True, connection_verify=emu.ca_path, retry_total=0
    )
    principal = emu.issuer.validate(credential.get_token(DATA_SCOPE).token, DATA_SCOPE)
    assert principal is not None
    assert principal.client_id == app.client_id


def test_workload_identity(
    emu: EntraEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = emu.issuer.add_app()
    emu.issuer.add_federated_credential(
        app.client_id, issuer="https://oidc.example", subject="system:serviceaccount:ft:trainer"
    )
    token_file = tmp_path / "token"
    token_file.write_text(
        make_assertion("https://oidc.example", "system:serviceaccount:ft:trainer")
    )
    _set_env(
        monkeypatch,
        {
            "AZURE_TENANT_ID": app.tenant_id,
            "AZURE_CLIENT_ID": app.client_id,
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
            "AZURE_AUTHORITY_HOST": emu.authority,
        },
    )
    kwargs = emu.credential_kwargs()
    del kwargs["authority"]  # AZURE_AUTHORITY_HOST says it
    token = WorkloadIdentityCredential(**kwargs).get_token(DATA_SCOPE)
    assert emu.issuer.validate(token.token, DATA_SCOPE) is not None

    token_file.write_text(make_assertion("https://oidc.example", "system:serviceaccount:x:y"))
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021: No matching federated"):
        WorkloadIdentityCredential(**kwargs).get_token(DATA_SCOPE)


# -- managed identity ----------------------------------------------------------------
def test_managed_identity_imds(emu: EntraEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    _set_env(monkeypatch, emu.imds_env())
    system = emu.issuer.add_managed_identity(system_assigned=True)
    user = emu.issuer.add_managed_identity(roles=[USER])

    token = ManagedIdentityCredential().get_token(DATA_SCOPE)
    principal = emu.issuer.validate(token.token, DATA_SCOPE)
    assert principal is not None
    assert (principal.kind, principal.object_id) == ("ManagedIdentity", system.object_id)

    token = ManagedIdentityCredential(client_id=user.client_id).get_token(MANAGEMENT_SCOPE)
    principal = emu.issuer.validate(token.token, MANAGEMENT_SCOPE)
    assert principal is not None
    assert principal.client_id == user.client_id
    assert principal.roles == {USER}

    with pytest.raises(CredentialUnavailableError, match="Identity not found"):
        ManagedIdentityCredential(client_id="not-assigned").get_token(DATA_SCOPE)
    requests = emu.issuer.requests
    assert [(r.endpoint, r.status_code) for r in requests] == [
        ("imds", 200),
        ("imds", 200),
        ("imds", 400),
    ]
    assert requests[1].scope == "https://management.azure.com"  # a resource, not a scope
    assert emu.issuer.issued(scope=DATA_SCOPE, endpoint="imds") == requests[:1]


def test_imds_requires_metadata_header(emu: EntraEmulator) -> None:
    emu.issuer.add_managed_identity(system_assigned=True)
    url = f"{emu.imds_url}/metadata/identity/oauth2/token"
    params = {"api-version": "2018-02-01", "resource": "https://cognitiveservices.azure.com"}
    with httpx.Client() as client:
        refused = client.get(url, params=params)
        answered = client.get(url, params=params, headers={"Metadata": "true"})
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_request",
        "error_description": "Required metadata header not specified",
    }
    body = answered.json()
    assert body["token_type"] == "Bearer"
    assert body["resource"] == "https://cognitiveservices.azure.com"
    assert body["expires_in"] == "3600"  # IMDS sends numbers as strings
    assert int(body["expires_on"]) == pytest.approx(time.time() + 3600, abs=5)


def test_managed_identity_app_service(emu: EntraEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    _set_env(monkeypatch, emu.app_service_env())
    identity = emu.issuer.add_managed_identity(system_assigned=True)
    token = ManagedIdentityCredential().get_token(DATA_SCOPE)
    principal = emu.issuer.validate(token.token, DATA_SCOPE)
    assert principal is not None
    assert principal.object_id == identity.object_id
    assert abs(token.expires_on - time.time() - 3600) < 5  # from App Service's expires_on

    monkeypatch.setenv("IDENTITY_HEADER", "wrong")
    with pytest.raises(CredentialUnavailableError, match="401"):
        ManagedIdentityCredential().get_token(DATA_SCOPE)
    assert [(r.endpoint, r.status_code) for r in emu.issuer.requests] == [
        ("app_service", 200),
        ("app_service", 401),
    ]


def test_default_azure_credential_picks_managed_identity(
    emu: EntraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set_env(monkeypatch, emu.imds_env())
    emu.issuer.add_managed_identity(system_assigned=True)
    token = DefaultAzureCredential().get_token(DATA_SCOPE)
    assert emu.issuer.validate(token.token, DATA_SCOPE) is not None
    assert [r.endpoint for r in emu.issuer.requests] == ["imds"]


# -- caching and refresh -------------------------------------------------------------
def test_bearer_token_provider_caches(emu: EntraEmulator) -> None:
    app = emu.issuer.add_app()
    credential = ClientSecretCredential(
        app.tenant_id, app.client_id, app.client_secret, **emu.credential_kwargs()
    )
    provider = get_bearer_token_provider(credential, DATA_SCOPE)
    tokens = {provider() for _ in range(5)}
    assert len(tokens) == 1
    assert len(emu.issuer.issued()) == 1


def test_refresh_after_expiry(emu: EntraEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # MSAL counts a token with under 300 s left as expired, so 302 s leaves two seconds of
    # caching. azure-core's BearerTokenCredentialPolicy (behind get_bearer_token_provider)
    # refreshes at 300 s minus a random jitter of up to 60 s; pin the jitter to 0, or the
    # provider may hold the token for up to a minute more.
    monkeypatch.setattr(_authentication, "MAX_REFRESH_JITTER_SECONDS", 0)
    app = emu.issuer.add_app(expires_in=302)
    kwargs = emu.credential_kwargs()
    credential = ClientSecretCredential(app.tenant_id, app.client_id, app.client_secret, **kwargs)
    provider = get_bearer_token_provider(
        ClientSecretCredential(app.tenant_id, app.client_id, app.client_secret, **kwargs),
        DATA_SCOPE,
    )
    first, first_from_provider = credential.get_token(DATA_SCOPE).token, provider()
    assert credential.get_token(DATA_SCOPE).token == first
    assert provider() == first_from_provider
    assert len(emu.issuer.issued()) == 2

    latest = emu.issuer.lookup(first_from_provider)
    assert latest is not None
    time.sleep(max(0.0, latest.expires_on - 300 - time.time()) + 0.05)
    second, second_from_provider = credential.get_token(DATA_SCOPE).token, provider()
    assert second != first
    assert second_from_provider != first_from_provider
    assert len(emu.issuer.issued()) == 4
    assert emu.issuer.validate(second_from_provider, DATA_SCOPE) is not None
    assert emu.issuer.validate(first, DATA_SCOPE) is not None  # still 5 minutes to live


def test_validate_checks_expiry_revocation_and_roles() -> None:
    now = [1_000_000.0]
    issuer = TokenIssuer(clock=lambda: now[0], expires_in=600)
    app = issuer.add_app(roles=())
    token = issuer.issue_token(app.client_id, DATA_SCOPE)
    principal = issuer.validate(token, "https://cognitiveservices.azure.com")
    assert principal is not None
    assert not principal.has_role(CONTRIBUTOR, USER)
    issuer.assign_role(app.object_id, USER)
    principal = issuer.validate(token, DATA_SCOPE)
    assert principal is not None
    assert principal.has_role(CONTRIBUTOR, USER)
    first = issuer.lookup(token)
    assert first is not None
    assert first.principal.has_role(USER)  # a role given after issuing shows in lookup too
    assert issuer.requests == []  # issue_token is not a token request

    now[0] += 599
    assert issuer.validate(token, DATA_SCOPE) is not None
    now[0] += 1
    assert issuer.validate(token, DATA_SCOPE) is None
    other = issuer.issue_token(app.client_id, DATA_SCOPE)
    assert issuer.revoke(other)
    assert issuer.validate(other, DATA_SCOPE) is None
    assert issuer.validate("not-a-token", DATA_SCOPE) is None
    looked_up = issuer.lookup(other)
    assert looked_up is not None
    assert looked_up.revoked
    assert looked_up.endpoint == "direct"


# -- openai's Azure client -----------------------------------------------------------
@pytest.fixture(scope="module")
def openai_service(running: EntraEmulator) -> Iterator[str]:
    """A tiny Azure OpenAI chat route that authenticates through the issuer."""
    issuer = running.issuer

    async def chat(request: Request) -> JSONResponse:
        token = bearer_token(request)
        principal = issuer.validate(token, DATA_SCOPE) if token else None
        if principal is None:
            return JSONResponse(
                {
                    "error": {
                        "code": "401",
                        "message": "Unauthorized. Access token is missing, invalid, audience "
                        "is incorrect (https://cognitiveservices.azure.com), or have expired.",
                    }
                },
                status_code=401,
            )
        if not principal.has_role(CONTRIBUTOR, USER):
            return JSONResponse(
                {
                    "error": {
                        "code": "PermissionDenied",
                        "message": f"The principal `{principal.name}` lacks the required data "
                        "action `Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/"
                        f"completions/action` to perform `POST {request.url.path}` operation.",
                    }
                },
                status_code=403,
            )
        deployment = request.path_params["deployment"]
        return JSONResponse(
            {
                "id": "chatcmpl-emulated",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": deployment,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"hello {principal.name}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            }
        )

    app = Starlette(
        routes=[Route("/openai/deployments/{deployment}/chat/completions", chat, methods=["POST"])]
    )
    with ServerThread(app, name="azure-openai-probe") as server:
        yield server.url


def _azure_openai(
    endpoint: str, credential: ClientSecretCredential, scope: str
) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=endpoint,
        api_version="2024-10-21",
        azure_ad_token_provider=get_bearer_token_provider(credential, scope),
        max_retries=0,
    )


def _credential(
    emu: EntraEmulator, roles: tuple[str, ...] = (CONTRIBUTOR,)
) -> ClientSecretCredential:
    app = emu.issuer.add_app(roles=roles)
    return ClientSecretCredential(
        app.tenant_id, app.client_id, app.client_secret, **emu.credential_kwargs()
    )


def test_azure_openai_with_token_provider(emu: EntraEmulator, openai_service: str) -> None:
    client = _azure_openai(openai_service, _credential(emu), DATA_SCOPE)
    for _ in range(3):
        reply = client.chat.completions.create(
            model="ft-deployment", messages=[{"role": "user", "content": "hi"}]
        )
    [request] = emu.issuer.issued()
    principal = emu.issuer.validate(request.access_token or "", DATA_SCOPE)
    assert principal is not None
    assert reply.choices[0].message.content == f"hello {principal.name}"
    assert reply.model == "ft-deployment"


def test_azure_openai_rejects_wrong_audience_and_missing_role(
    emu: EntraEmulator, openai_service: str
) -> None:
    wrong_scope = _azure_openai(openai_service, _credential(emu), MANAGEMENT_SCOPE)
    with pytest.raises(openai.AuthenticationError, match="audience is incorrect"):
        wrong_scope.chat.completions.create(model="d", messages=[{"role": "user", "content": "x"}])

    no_role = _azure_openai(openai_service, _credential(emu, roles=()), DATA_SCOPE)
    with pytest.raises(openai.PermissionDeniedError, match="lacks the required data action"):
        no_role.chat.completions.create(model="d", messages=[{"role": "user", "content": "x"}])
