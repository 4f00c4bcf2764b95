"""Identifiers that go into Azure Resource Manager URLs are checked as ARM names before any
request, and escaped as one path segment: a name can never address another resource."""

from __future__ import annotations

from typing import Any

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"
HOSTILE = [
    "../../../../..",  # DELETE on the resource group
    "../../other-account/deployments/prod",  # PUT / DELETE in another account
    "prod#x",  # the fragment is cut: DELETE on "prod"
    "prod?api-version=1",
    "prod/x",
    "..",
    "a",  # ARM wants 2-64 characters
    "x" * 65,
    "-starts-with-a-dash",
    "pr%2Fod",
]


def _arm_requests(emulator: Emulator) -> list[str]:
    return [r.path for r in emulator.requests if r.path.startswith("/subscriptions/")]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_bad_deployment_name_sends_nothing_to_arm(
    emulator: Emulator, settings: Any, name: str
) -> None:
    client = ftsdk.client("azure", **settings("api-key"))
    model = client.model(BASE, deployment=name, kind="deployment")
    with pytest.raises(InvalidRequest, match="not a valid Azure name") as caught:
        model.undeploy()
    assert caught.value.field == "deployment"
    with pytest.raises(InvalidRequest, match="not a valid Azure name"):
        client.model(BASE).deploy(name)
    assert _arm_requests(emulator) == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("subscription_id", "../../subscriptions/other"),
        ("subscription_id", "not-a-guid"),
        ("resource_group", "rg/../other"),
        ("resource_group", "rg."),
        ("account", "acct/deployments/prod"),
        ("account", "acct#"),
    ],
)
def test_bad_arm_coordinates_send_nothing(
    emulator: Emulator, settings: Any, setting: str, value: str
) -> None:
    client = ftsdk.client("azure", **settings("api-key", **{setting: value}))
    with pytest.raises(InvalidRequest, match="not a valid Azure name") as caught:
        client.model(BASE, deployment="dates-1", kind="deployment").undeploy()
    assert caught.value.field == setting
    assert _arm_requests(emulator) == []


def test_a_valid_name_reaches_only_its_own_deployment(emulator: Emulator, settings: Any) -> None:
    emulator.config.deploy_seconds = 0
    client = ftsdk.client("azure", **settings("api-key"))
    deployed = client.model(BASE).deploy("v1.2_dates-x")
    deployed.undeploy()
    sub, group, account = emulator.config.azure_account
    prefix = (
        f"/subscriptions/{sub}/resourceGroups/{group}"
        f"/providers/Microsoft.CognitiveServices/accounts/{account}/deployments/v1.2_dates-x"
    )
    assert _arm_requests(emulator)
    assert all(p.startswith(prefix) for p in _arm_requests(emulator))


def test_a_status_url_on_another_host_is_not_followed(
    emulator: Emulator, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bearer token goes only to ARM's own host, whatever an answer names."""
    import httpx

    from ftsdk_azure import arm

    sent: list[str] = []
    real = httpx.request

    def spy(method: str, url: Any, **kwargs: Any) -> httpx.Response:
        sent.append(str(url))
        response = real(method, url, **kwargs)
        if method == "PUT":
            response.headers["azure-asyncoperation"] = "https://evil.example/op?x=1"
        return response

    monkeypatch.setattr(arm.httpx, "request", spy)
    emulator.config.deploy_seconds = 5  # still Creating after the PUT: the status is polled
    emulator.clock.speed = 500
    client = ftsdk.client("azure", **settings("api-key"))
    client.model(BASE).deploy("dates-2").undeploy()
    assert not any("evil.example" in url for url in sent)


@pytest.mark.parametrize("job_id", ["..", ".", "../files", "ftjob-1/cancel", "ftjob-1?x=1", "a#b"])
def test_a_bad_job_id_sends_nothing(emulator: Emulator, settings: Any, job_id: str) -> None:
    """Job ids reach the data plane's URLs: checked before any request, as ARM names are."""
    client = ftsdk.client("azure", **settings("api-key"))
    with pytest.raises(InvalidRequest, match="not an Azure OpenAI fine-tuning job id"):
        client.job(job_id)
    assert emulator.requests_to("GET /fine_tuning/jobs/{job_id}") == []


def test_a_deployment_that_ends_deleting_is_not_waited_on(
    emulator: Emulator, settings: Any
) -> None:
    """ARM's provisioning states are all read: ``Deleting`` ends the wait at once."""
    emulator.faults.add(
        "PUT /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.CognitiveServices/"
        "accounts/{a}/deployments/{d}",
        status=201,
        body={"name": "dates-3", "properties": {"provisioningState": "Deleting"}},
    )
    client = ftsdk.client("azure", **settings("api-key"))
    with pytest.raises(ftsdk.errors.FtsdkError, match="deployment dates-3 ended Deleting"):
        client.model(BASE).deploy("dates-3")
    assert [r.method for r in emulator.requests if r.path.startswith("/subscriptions/")] == ["PUT"]
