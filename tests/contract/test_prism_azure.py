"""Every operation the Azure plugin declares, through the real ftsdk client and the real
``openai`` client over HTTP, against Prism serving Azure's published descriptions: the v1 API
(``specs/azure/dataplane-v1``, served under ``{endpoint}/openai/v1``), the dated 2024-10-21
API (``specs/azure/dataplane-authoring-2024-10-21`` for fine-tuning and
``specs/azure/dataplane-inference-2024-10-21`` for chat, both under ``{endpoint}/openai`` with
``?api-version=``), and Azure Resource Manager 2024-10-01 for deployments
(``specs/azure/arm-2024-10-01``, with the common types it points at). The proxy takes the
data-plane prefixes off, as Prism serves the declared paths.

Chat and streaming on the v1 API are skipped: the v1 edition brought in declares no
``/chat/completions`` (see ``specs/SOURCES.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import re
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

import ftsdk
from ftsdk import DPO, SFT, FileRef, JobStatus, Operation
from ftsdk.errors import InvalidRequest, UnsupportedOperation
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk_azure import AzureOpenAIProvider
from tests.conftest import schema_errors
from tests.contract.conftest import SPECS, load, serving
from tests.contract.prism import Exchange, Prism, RecordingProxy

BASE = "gpt-4o-mini-2024-07-18"
JOB = r"/fine_tuning/jobs/[^/]+"
VERSIONS = {"v1": ("azure-v1", "/openai/v1"), "2024-10-21": ("azure-2024-10-21", "/openai")}
V1_HAS_NO_CHAT = (
    "the v1 edition brought in (specs/azure/dataplane-v1, 184 kB) declares no "
    "/chat/completions; chat is checked on the dated API's inference.json"
)
ARM = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg-ft"}
DEPLOYMENT = (
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.CognitiveServices"
    r"/accounts/[^/]+/deployments/[^/]+"
)


class StaticToken:
    """An Entra ID credential that hands out a fixed token. Enough here: Prism checks no
    bearer token on Resource Manager (its description declares no ``security`` to apply), so
    the emulator's token service (``ftsdk_azure.testing``) is not needed. The plugin still
    asks for the token through azure-identity's ``get_bearer_token_provider``, as on Azure."""

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken("contract-arm-token", int(time.time()) + 3600)


@pytest.fixture(scope="module", params=list(VERSIONS))
def version(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def referee(prisms: dict[str, Prism], version: str) -> Iterator[RecordingProxy]:
    name, prefix = VERSIONS[version]
    try:
        prism = serving(prisms, name)
    except RuntimeError as err:
        pytest.skip(str(err))
    with RecordingProxy(prism, strip_prefix=prefix, budget=15) as proxy:
        yield proxy


@pytest.fixture
def client(referee: RecordingProxy, version: str, tmp_path: Path) -> Iterator[ftsdk.Client]:
    """ftsdk's Azure client on the referee with an API key; one attempt, so every error shows."""
    referee.reset()
    with ftsdk.client(
        "azure",
        endpoint=referee.url,
        api_key="contract-key",
        api_version=version,
        home=tmp_path / "home",
        retry=ftsdk.RetryPolicy(max_attempts=1),
    ) as c:
        assert isinstance(c.provider, AzureOpenAIProvider)
        c.provider.uploader.poll_interval = 0.05
        c.provider.uploader.processing_timeout = 0.3
        yield c


@pytest.fixture(scope="module")
def inference(prisms: dict[str, Prism]) -> Iterator[RecordingProxy]:
    """The recording proxy in front of Prism serving the dated inference description."""
    try:
        prism = serving(prisms, "azure-inference-2024-10-21")
    except RuntimeError as err:
        pytest.skip(str(err))
    with RecordingProxy(prism, strip_prefix="/openai", budget=15) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def arm(prisms: dict[str, Prism]) -> Iterator[RecordingProxy]:
    """The recording proxy in front of Prism serving Resource Manager 2024-10-01."""
    try:
        prism = serving(prisms, "azure-arm-2024-10-01")
    except RuntimeError as err:
        pytest.skip(str(err))
    with RecordingProxy(prism, budget=15) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def chat_schema() -> Callable[[Any], list[str]]:
    """createChatCompletionRequest of the dated inference description, with jsonschema."""
    spec = SPECS["azure-inference-2024-10-21"]
    if not spec.exists():
        pytest.skip(f"{spec} is not here")
    return schema_errors(load(spec), "createChatCompletionRequest")


@pytest.fixture
def chat_client(inference: RecordingProxy, version: str, tmp_path: Path) -> Iterator[ftsdk.Client]:
    """ftsdk's Azure client with the inference referee as its endpoint (dated API only)."""
    if version == "v1":
        pytest.skip(V1_HAS_NO_CHAT)
    inference.reset()
    with ftsdk.client(
        "azure",
        endpoint=inference.url,
        api_key="contract-key",
        api_version=version,
        home=tmp_path / "home",
        retry=ftsdk.RetryPolicy(max_attempts=1),
    ) as c:
        yield c


@pytest.fixture
def arm_client(arm: RecordingProxy, version: str, tmp_path: Path) -> Iterator[ftsdk.Client]:
    """ftsdk's Azure client whose Resource Manager is the ARM referee (``arm_endpoint``, as
    ``AZURE_RESOURCE_MANAGER_ENDPOINT`` would set it), with a fixed Entra ID token."""
    arm.reset()
    with ftsdk.client(
        "azure",
        endpoint="https://contract.openai.azure.com",
        api_version=version,
        credential=StaticToken(),
        account="contract",
        arm_endpoint=arm.url,
        deploy_poll_interval=0.01,
        home=tmp_path / "home",
        retry=ftsdk.RetryPolicy(max_attempts=1),
        **ARM,
    ) as c:
        yield c


@pytest.fixture
def train_path(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(12))


LIVE_ADDITIONS = {"POST /fine_tuning/jobs: body trainingType"}
"""Sent though the copied v1 edition does not declare it: the training tier, which the live
service requires on job creation (BerriAI/litellm PR #24687; docs/providers/azure.md)."""
CHAT_MODEL_IN_BODY = re.compile(r"POST /deployments/[^/]+/chat/completions\?[^:]*: body model")
"""``model`` in a dated chat body: openai-python's ``AzureOpenAI`` sends it as well as the
deployment in the path, and 2024-10-21's ``createChatCompletionRequest`` does not declare it.
Let through in :func:`valid` so the rest of each chat request is checked; reported by
:func:`test_chat_sends_only_declared_fields`."""


def valid(
    referee: RecordingProxy, method: str, path: str, *, lenient: bool = True
) -> list[Exchange]:
    """The requests ``method path`` (a regex) that went to Prism; fails when there were none,
    when Prism found any request of the test invalid, or when one sent a query parameter or
    body field its operation does not declare in this API version (but for
    :data:`CHAT_MODEL_IN_BODY`, unless ``lenient`` is off)."""
    seen = "\n".join(e.describe() for e in referee.exchanges)
    assert not referee.invalid(), "Prism refused:\n" + "\n".join(
        e.describe() for e in referee.invalid()
    )
    assert not referee.over_budget, f"the client kept asking:\n{seen}"
    undeclared = [
        u
        for u in referee.undeclared()
        if u not in LIVE_ADDITIONS and not (lenient and CHAT_MODEL_IN_BODY.fullmatch(u))
    ]
    assert not undeclared, "sent what this version does not declare:\n" + "\n".join(undeclared)
    sent = referee.requests(method, path)
    assert sent, f"no {method} {path} reached Prism; what did:\n{seen}"
    return sent


def expect_failure(
    request: pytest.FixtureRequest,
    version: str,
    raises: type[Exception] = AssertionError,
    **reasons: str,
) -> None:
    """Mark this run a strict xfail where ``reasons`` names its API version (``v1``, ``dated``)."""
    reason = reasons.get("v1" if version == "v1" else "dated")
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, raises=raises, reason=reason))


def raw(referee: RecordingProxy, version: str, method: str, path: str, body: object) -> int:
    """A request sent by hand, as the client would send it, through the referee."""
    prefix = VERSIONS[version][1]
    query = "" if version == "v1" else f"?api-version={version}"
    host, port = referee.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"api-key": "contract-key", "Content-Type": "application/json"}
    conn.request(method, f"{prefix}{path}{query}", body=json.dumps(body), headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


def send(referee: RecordingProxy, method: str, path: str, body: object) -> int:
    """A request sent by hand to ``path`` (prefix and query included) through the referee."""
    host, port = referee.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"api-key": "contract-key", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body), headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


def nothing(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "data": [], "has_more": False}


def last_page(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "has_more": False}


def processed(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "id": "file-contract", "purpose": "fine-tune", "status": "processed"}


def uploaded(name: str) -> FileRef:
    return FileRef(id=name, provider="azure", filename=f"{name}.jsonl", status="processed")


def answered(exchange: Exchange) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(exchange.answer)
    return found


# -- the referee itself ------------------------------------------------------------------


def test_prism_refuses_an_invalid_request(referee: RecordingProxy, version: str) -> None:
    """The check can fail: a job without its training file is caught."""
    referee.reset()
    assert raw(referee, version, "POST", "/fine_tuning/jobs", {"model": BASE}) == 422
    [refused] = referee.invalid()
    assert "must have required property 'training_file'" in refused.describe()


def test_undeclared_names_are_caught(referee: RecordingProxy, version: str) -> None:
    """The check can fail: a body field the version does not declare is caught."""
    referee.reset()
    body = {"model": BASE, "training_file": "file-1", "not_in_the_spec": 1}
    raw(referee, version, "POST", "/fine_tuning/jobs", body)
    assert [u.rsplit(": ", 1)[1] for u in referee.undeclared()] == ["body not_in_the_spec"]


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="Prism 5.15.0 checks no request body of POST /deployments/{deployment-id}/chat/"
    "completions in inference.json (it answers 200 to a body without messages, as it does "
    "for OpenAI's description: stoplightio/prism#2574), so chat bodies are also checked "
    "against createChatCompletionRequest with jsonschema",
)
def test_prism_checks_chat_bodies(inference: RecordingProxy) -> None:
    inference.reset()
    path = "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
    assert send(inference, "POST", path, {"max_tokens": 5}) == 422


def test_chat_bodies_are_checked(chat_schema: Callable[[Any], list[str]]) -> None:
    """The check that stands in for Prism's can fail: a chat without messages is caught."""
    assert chat_schema({"max_tokens": 5}) == ["'messages' is a required property"]


def test_prism_refuses_an_invalid_deployment(arm: RecordingProxy) -> None:
    """The check can fail on Resource Manager's description: a PUT without api-version."""
    arm.reset()
    path = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"
    assert send(arm, "PUT", f"{path}/deployments/d", {"sku": {"name": "Standard"}}) == 422
    [refused] = arm.invalid()
    assert "api-version" in refused.describe()


def test_every_declared_operation_is_driven(client: ftsdk.Client, version: str) -> None:
    """A new operation declared by the plugin needs its contract test here (or a reason)."""
    expected = set(COVERED)
    if version != "v1":
        expected -= {Operation.PAUSE, Operation.RESUME}  # the dated API has neither
    assert client.capabilities.operations == expected


# -- files -------------------------------------------------------------------------------


def test_upload_through_the_files_api(
    request: pytest.FixtureRequest,
    client: ftsdk.Client,
    referee: RecordingProxy,
    version: str,
    train_path: Path,
) -> None:
    expect_failure(
        request,
        version,
        v1="POST /files sends expires_after as the openai client sends it, bracketed form "
        "fields (expires_after[anchor], expires_after[seconds]); Prism reads an object in "
        "multipart/form-data only as one part (OpenAPI's default encoding) and answers 422 "
        "'must have required property expires_after'. Which form Azure's service takes is "
        "not verified here",
    )
    referee.rewrites[("GET", "/files")] = nothing
    referee.rewrites[("POST", "/files")] = processed
    try:
        ref: FileRef | None = client.upload(train_path)
    except InvalidRequest:
        ref = None  # valid() says what Prism refused
    [sent] = valid(referee, "POST", "/files")
    assert ref is not None
    assert ref.id == "file-contract"
    assert b'name="purpose"\r\n\r\nfine-tune' in sent.body


def test_upload_through_the_uploads_api(
    request: pytest.FixtureRequest,
    client: ftsdk.Client,
    referee: RecordingProxy,
    version: str,
    train_path: Path,
) -> None:
    expect_failure(
        request,
        version,
        raises=InvalidRequest,
        v1="the v1 description declares no /uploads, so every file goes to POST /files, where "
        "Prism refuses the bracketed expires_after (see test_upload_through_the_files_api)",
    )
    assert isinstance(client.provider, AzureOpenAIProvider)
    client.provider.uploader.threshold = 1
    client.provider.uploader.part_size = 1024
    size = train_path.stat().st_size

    def completed(answer: dict[str, Any]) -> dict[str, Any]:
        done = {"id": "file-parts", "object": "file", "bytes": size, "created_at": 0}
        done |= {"filename": "train.jsonl", "purpose": "fine-tune", "status": "processed"}
        return {**answer, "status": "completed", "file": done}

    referee.rewrites[("GET", "/files")] = nothing
    referee.rewrites[("POST", "/uploads/[^/]+/complete")] = completed
    assert client.upload(train_path).id == "file-parts"
    valid(referee, "POST", "/uploads")
    assert len(valid(referee, "POST", "/uploads/[^/]+/parts")) == -(-size // 1024)
    valid(referee, "POST", "/uploads/[^/]+/complete")


def test_file_listing_stops(
    request: pytest.FixtureRequest,
    client: ftsdk.Client,
    referee: RecordingProxy,
    version: str,
    train_path: Path,
) -> None:
    """GET /files is read once (no version declares after on it), however the list ends."""
    expect_failure(
        request,
        version,
        raises=InvalidRequest,
        v1="the upload itself is refused by Prism (see test_upload_through_the_files_api)",
    )
    referee.rewrites[("POST", "/files")] = processed
    client.upload(train_path)
    assert len(valid(referee, "GET", "/files")) <= 2  # the count check and the reuse look-up


# -- jobs --------------------------------------------------------------------------------


def test_train_sft(
    request: pytest.FixtureRequest, client: ftsdk.Client, referee: RecordingProxy, version: str
) -> None:
    referee.rewrites[("GET", "/fine_tuning/jobs")] = nothing  # the active-job check
    job = client.train(
        base_model=BASE,
        training_data=uploaded("file-train"),
        validation_data=uploaded("file-valid"),
        method=SFT(epochs=3, batch_size=8, learning_rate_multiplier=0.5),
        suffix="dates",
        seed=42,
    )
    [sent] = valid(referee, "POST", "/fine_tuning/jobs")
    assert job.raw_status == answered(sent)["status"]
    body = json.loads(sent.body)
    assert (body["training_file"], body["validation_file"]) == ("file-train", "file-valid")


def test_train_dpo(
    request: pytest.FixtureRequest, client: ftsdk.Client, referee: RecordingProxy, version: str
) -> None:
    referee.rewrites[("GET", "/fine_tuning/jobs")] = nothing
    if version != "v1":  # 2024-10-21 declares no method, so no DPO: refused before sending
        with pytest.raises(UnsupportedOperation):
            client.train(base_model=BASE, training_data=uploaded("file-pairs"), method=DPO())
        assert not referee.requests("POST", "/fine_tuning/jobs")
        return
    client.train(base_model=BASE, training_data=uploaded("file-pairs"), method=DPO(beta=0.2))
    [sent] = valid(referee, "POST", "/fine_tuning/jobs")
    assert json.loads(sent.body)["method"]["type"] == "dpo"


def test_train_creates_the_job_when_the_lookup_answers_another(
    client: ftsdk.Client, referee: RecordingProxy
) -> None:
    """The look-up's one page holds a job with other metadata (Prism's example)."""
    referee.rewrites[("GET", "/fine_tuning/jobs")] = last_page
    assert isinstance(client.provider, AzureOpenAIProvider)
    client.provider.max_active_jobs = 2  # that job is active: room for one more
    client.train(base_model=BASE, training_data=uploaded("file-train"), method=SFT())
    assert referee.requests("POST", "/fine_tuning/jobs")


def test_get_and_list_jobs(client: ftsdk.Client, referee: RecordingProxy) -> None:
    job = client.job("ftjob-abc")
    [got] = valid(referee, "GET", JOB)
    assert (job.id, job.raw_status) == (answered(got)["id"], answered(got)["status"])
    assert job.status == client.provider.statuses[job.raw_status]  # type: ignore[attr-defined]
    assert [j.id for j in client.jobs(limit=5)] == ["string"]
    assert all("limit=5" in e.path for e in valid(referee, "GET", "/fine_tuning/jobs"))


def test_cancel(client: ftsdk.Client, referee: RecordingProxy) -> None:
    assert client.job("ftjob-abc").cancel().id == "string"
    valid(referee, "POST", f"{JOB}/cancel")


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_pause_resume(
    client: ftsdk.Client, referee: RecordingProxy, version: str, action: str
) -> None:
    """The v1 API pauses and resumes; the dated one declares neither, and ftsdk says so
    before sending anything."""
    job = client.job("ftjob-abc")
    if version == "v1":
        assert getattr(job, action)().status in set(JobStatus)
        valid(referee, "POST", f"{JOB}/{action}")
    else:
        with pytest.raises(UnsupportedOperation):
            getattr(job, action)()
        assert not referee.requests("POST", f"{JOB}/{action}")


def test_events_and_metrics(client: ftsdk.Client, referee: RecordingProxy) -> None:
    referee.rewrites[("GET", f"{JOB}/events")] = last_page
    job = client.job("ftjob-abc")
    [event] = job.events()
    assert (event.level, event.message, event.type) == ("info", "string", "message")
    assert job.metrics() == []
    valid(referee, "GET", f"{JOB}/events")


def test_checkpoints(client: ftsdk.Client, referee: RecordingProxy) -> None:
    referee.rewrites[("GET", f"{JOB}/checkpoints")] = last_page
    [checkpoint] = client.job("ftjob-abc").checkpoints()
    [sent] = valid(referee, "GET", f"{JOB}/checkpoints")
    assert checkpoint.step == answered(sent)["data"][0]["step_number"]


@pytest.mark.parametrize("read", ["events", "metrics", "checkpoints"])
def test_paging_stops_when_the_cursor_does_not_move(client: ftsdk.Client, read: str) -> None:
    getattr(client.job("ftjob-abc"), read)()


MINIMAL: dict[str, dict[str, Any]] = {
    JOB: {"model": BASE, "training_file": "file-train"},
    f"{JOB}/events": {
        "object": "list",
        "data": [{"created_at": 0, "level": "info", "message": "Job started", "type": "message"}],
    },
    f"{JOB}/checkpoints": {
        "object": "list",
        "data": [
            {
                "created_at": 0,
                "fine_tuned_model_checkpoint": "ft:gpt-4o-mini:ckpt-step-10",
                "fine_tuning_job_id": "ftjob-abc",
                "metrics": {},
                "step_number": 10,
            }
        ],
    },
}
"""Answers holding only what 2024-10-21 requires (its job, event and checkpoint require no
``id``, its lists no ``has_more``)."""


@pytest.mark.parametrize("read", ["refresh", "events", "checkpoints"])
def test_minimal_dated_answers(
    client: ftsdk.Client, referee: RecordingProxy, version: str, read: str
) -> None:
    """The user gets what the answer says, or an ftsdk error; never a raw exception."""
    if version == "v1":
        pytest.skip("v1 requires id, status and the rest on jobs, events and checkpoints")
    job = client.job("ftjob-abc")
    path = JOB if read == "refresh" else f"{JOB}/{read}"
    referee.rewrites[("GET", path)] = partial(replace, MINIMAL[path])
    with contextlib.suppress(ftsdk.errors.FtsdkError):
        getattr(job, read)()
    valid(referee, "GET", path)


def replace(answer: dict[str, Any], _: dict[str, Any]) -> dict[str, Any]:
    return answer


# -- chat (dated inference API) -----------------------------------------------------------

FINE_TUNED = "gpt-4o-mini-2024-07-18.ft-0123456789abcdef"
MODELS = {
    "base deployment": ({"deployment": "gpt-4o-mini"}, BASE, "gpt-4o-mini"),
    "fine-tuned model": (
        {"job_id": "ftjob-abc", "deployment": "dates-ft"},
        FINE_TUNED,
        "dates-ft",
    ),
}
"""How a user names what to chat with, and the deployment the request must go to."""


@pytest.mark.parametrize("which", list(MODELS))
def test_chat(
    chat_client: ftsdk.Client,
    inference: RecordingProxy,
    chat_schema: Callable[[Any], list[str]],
    which: str,
) -> None:
    info, model_id, deployment = MODELS[which]
    model = chat_client.model(model_id, **info)
    answer = model.chat("Say hi", max_tokens=5, temperature=0.5, top_p=0.9, seed=7, stop=["\n"])
    [sent] = valid(inference, "POST", f"/deployments/{deployment}/chat/completions")
    assert "api-version=2024-10-21" in sent.path
    assert answer.content == answered(sent)["choices"][0]["message"]["content"]
    body = json.loads(sent.body)
    assert body["messages"] == [{"role": "user", "content": "Say hi"}]
    assert chat_schema(body) == []


@pytest.mark.parametrize("which", list(MODELS))
def test_stream(
    chat_client: ftsdk.Client,
    inference: RecordingProxy,
    chat_schema: Callable[[Any], list[str]],
    which: str,
) -> None:
    """The description gives chat completions a JSON answer only, so Prism cannot stream: the
    request is checked, and the JSON answer must not break the reader."""
    info, model_id, deployment = MODELS[which]
    list(chat_client.model(model_id, **info).stream("Say hi", max_tokens=5))
    [sent] = valid(inference, "POST", f"/deployments/{deployment}/chat/completions")
    body = json.loads(sent.body)
    assert body["stream"] is True
    assert "stream_options" not in body  # 2024-10-21 does not define it
    assert chat_schema(body) == []


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="sent what this version does not declare: POST /deployments/gpt-4o-mini/chat/"
    "completions?api-version=2024-10-21: body model (openai-python's AzureOpenAI puts the "
    "deployment in the path and keeps model in the body; 2024-10-21's "
    "createChatCompletionRequest has no model, and leaves additionalProperties open)",
)
def test_chat_sends_only_declared_fields(
    chat_client: ftsdk.Client, inference: RecordingProxy
) -> None:
    chat_client.model(BASE, deployment="gpt-4o-mini").chat("Say hi")
    valid(inference, "POST", "/deployments/gpt-4o-mini/chat/completions", lenient=False)


def test_async_chat_and_stream(inference: RecordingProxy, version: str, tmp_path: Path) -> None:
    """The same chat through AsyncAzureOpenAI, the async client's own code path."""
    if version == "v1":
        pytest.skip(V1_HAS_NO_CHAT)

    async def drive() -> None:
        async with ftsdk.async_client(
            "azure",
            endpoint=inference.url,
            api_key="contract-key",
            api_version=version,
            home=tmp_path,
            retry=ftsdk.RetryPolicy(max_attempts=1),
        ) as client:
            model = client.model(FINE_TUNED, job_id="ftjob-abc", deployment="dates-ft")
            assert (await model.chat("Say hi", max_tokens=5)).content == "string"
            [chunk async for chunk in model.stream("Say hi")]

    inference.reset()
    asyncio.run(drive())
    assert len(valid(inference, "POST", "/deployments/dates-ft/chat/completions")) == 2


# -- deployments (Resource Manager 2024-10-01) ---------------------------------------------


def succeeded(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "properties": {**answer["properties"], "provisioningState": "Succeeded"}}


def test_deploy(arm_client: ftsdk.Client, arm: RecordingProxy) -> None:
    """PUT the deployment, then poll GET until Resource Manager says it has succeeded."""
    arm.rewrites[("GET", DEPLOYMENT)] = succeeded
    model = arm_client.model(FINE_TUNED, job_id="ftjob-abc")
    served = model.deploy("dates-ft", sku="globalstandard", capacity=2)
    assert (served.id, served.info.deployment, served.info.base_model) == (
        "dates-ft",
        "dates-ft",
        FINE_TUNED,
    )
    [put] = valid(arm, "PUT", DEPLOYMENT)
    assert put.path.split("?")[0].endswith("/accounts/contract/deployments/dates-ft")
    assert "api-version=2024-10-01" in put.path
    body = json.loads(put.body)
    assert body["sku"] == {"name": "GlobalStandard", "capacity": 2}
    assert body["properties"]["model"]["name"] == FINE_TUNED
    assert valid(arm, "GET", DEPLOYMENT)  # the polling


def test_ensure_deployed_then_undeploy(arm_client: ftsdk.Client, arm: RecordingProxy) -> None:
    arm.rewrites[("GET", DEPLOYMENT)] = succeeded
    served = arm_client.model(FINE_TUNED, job_id="ftjob-abc").ensure_deployed("dates-ft")
    assert served.info.deployment == "dates-ft"
    served.undeploy()
    valid(arm, "PUT", DEPLOYMENT)
    [deleted] = valid(arm, "DELETE", DEPLOYMENT)
    assert deleted.path.split("?")[0].endswith("/deployments/dates-ft")


def test_undeploy(arm_client: ftsdk.Client, arm: RecordingProxy) -> None:
    arm_client.model("dates-ft", kind="deployment", deployment="dates-ft").undeploy()
    [deleted] = valid(arm, "DELETE", DEPLOYMENT)
    assert "api-version=2024-10-01" in deleted.path


COVERED = {
    Operation.UPLOAD: test_upload_through_the_files_api,
    Operation.TRAIN: test_train_sft,
    Operation.LIST_JOBS: test_get_and_list_jobs,
    Operation.CANCEL: test_cancel,
    Operation.PAUSE: test_pause_resume,
    Operation.RESUME: test_pause_resume,
    Operation.EVENTS: test_events_and_metrics,
    Operation.METRICS: test_events_and_metrics,
    Operation.CHECKPOINTS: test_checkpoints,
    Operation.CHAT: test_chat,
    Operation.STREAM: test_stream,
    Operation.DEPLOY: test_deploy,
}
"""Each operation Azure declares, and the test that drives it through Prism."""
