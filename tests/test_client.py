"""The core checks a spec against the provider's declaration before anything leaves the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

import ftsdk
from ftsdk import SFT, JobSpec, JobStatus, Operation
from ftsdk.errors import (
    ConfigurationError,
    InvalidDataset,
    InvalidRequest,
    MissingCredentials,
    RateLimited,
    UnsupportedOperation,
)


def test_train_uploads_both_files_and_starts_a_job(client: ftsdk.Client, train_file: Path) -> None:
    valid = train_file.with_name("valid.jsonl")
    valid.write_text(train_file.read_text().replace("hello", "hey"))
    job = client.train(
        base_model="tiny",
        training_data=train_file,
        validation_data=valid,
        method=SFT(epochs=2),
        suffix="demo",
        provider_options={"priority": 2},
    )
    request = client.provider.jobs[job.id]["request"]
    assert job.status == JobStatus.VALIDATING
    assert request.training_file.content_hash != request.validation_file.content_hash
    assert request.options.priority == 2
    assert request.spec.suffix == "demo"


def test_same_content_is_uploaded_once(client: ftsdk.Client, train_file: Path) -> None:
    first = client.upload(train_file)
    copy = train_file.with_name("copy.jsonl")
    copy.write_bytes(train_file.read_bytes())
    assert client.upload(copy).id == first.id
    assert client.upload(first) is first


def test_typo_in_hyperparameter_names_its_field(client: ftsdk.Client, train_file: Path) -> None:
    with pytest.raises(InvalidRequest) as caught:
        client.train(
            base_model="tiny", training_data=train_file, method={"type": "sft", "epoch": 3}
        )
    assert caught.value.field == "method.epoch"
    assert "method.epoch: unknown field; did you mean epochs?" in str(caught.value)
    assert client.provider.calls == []  # nothing uploaded


def test_hyperparameter_the_provider_ignores_is_an_error_before_upload(
    client: ftsdk.Client, train_file: Path
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        client.train(
            JobSpec(
                base_model="tiny",
                training_data=train_file,
                method=SFT(epochs=2, learning_rate=1e-4),
            )
        )
    err = caught.value
    assert err.field == "method.learning_rate"
    assert "memory does not accept 'learning_rate' for sft" in str(err)
    assert "batch_size, epochs" in str(err)
    assert client.provider.calls == []


def test_auto_values_count_as_unset(client: ftsdk.Client) -> None:
    spec = JobSpec(
        base_model="tiny",
        training_data=Path("x.jsonl"),
        method=SFT(learning_rate_multiplier="auto"),
    )
    assert client.check(spec, check_data=False).region == "local"


def test_unknown_provider_option_names_its_path(client: ftsdk.Client, train_file: Path) -> None:
    spec = JobSpec(base_model="tiny", training_data=train_file, provider_options={"regoin": "eu"})
    with pytest.raises(InvalidRequest) as caught:
        client.train(spec)
    assert caught.value.field == "provider_options.regoin"
    assert client.provider.calls == []


def test_wrong_option_type_names_its_path(client: ftsdk.Client) -> None:
    spec = JobSpec(
        base_model="tiny", training_data=Path("t.jsonl"), provider_options={"priority": "high"}
    )
    with pytest.raises(InvalidRequest, match=r"provider_options\.priority"):
        client.check(spec, check_data=False)


def test_method_the_provider_does_not_train(client: ftsdk.Client, train_file: Path) -> None:
    with pytest.raises(UnsupportedOperation) as caught:
        client.train(base_model="tiny", training_data=train_file, method=ftsdk.DPO())
    assert caught.value.supported == ("sft",)
    assert caught.value.provider == "memory"


def test_unsupported_operation_names_provider_operation_and_what_works(
    client: ftsdk.Client, train_file: Path
) -> None:
    job = client.train(base_model="tiny", training_data=train_file)
    with pytest.raises(UnsupportedOperation) as caught:
        job.pause()
    message = str(caught.value)
    assert "memory does not support 'pause'" in message
    assert "cancel, chat, events, list_jobs, train, upload" in message
    assert caught.value.operation == "pause"
    assert "pause_job" not in client.provider.calls


def test_missing_training_file_is_reported_before_calling(
    client: ftsdk.Client, tmp_path: Path
) -> None:
    with pytest.raises(InvalidRequest, match="training_data: no such file") as caught:
        client.train(base_model="tiny", training_data=tmp_path / "nope.jsonl")
    assert caught.value.field == "training_data"
    assert client.provider.calls == []


def test_a_retried_create_makes_one_job(client: ftsdk.Client, train_file: Path) -> None:
    client.provider.failures = []
    ref = client.upload(train_file)
    # The provider creates the job, then the answer is lost: the retry must find it.
    provider = client.provider
    original = provider.create_job

    dropped: list[str] = []

    def create_then_drop(request: ftsdk.TrainingRequest) -> ftsdk.JobState:
        state = original(request)
        if not dropped:
            dropped.append(request.idempotency_key)
            raise RateLimited("connection dropped", retry_after=0.0)
        assert request.idempotency_key == dropped[0]  # the same key on the retry
        return state

    provider.create_job = create_then_drop  # type: ignore[method-assign]
    job = client.train(base_model="tiny", training_data=ref)
    assert list(provider.jobs) == [job.id]


def test_unknown_provider_lists_the_known_ones(registry: ftsdk.ProviderRegistry) -> None:
    with pytest.raises(ConfigurationError, match="no provider named 'opnai'; registered: memory"):
        ftsdk.client("opnai", registry=registry)


def test_unknown_setting_lists_accepted_ones(registry: ftsdk.ProviderRegistry) -> None:
    with pytest.raises(ConfigurationError, match="it takes: api_key"):
        ftsdk.client("memory", registry=registry, apikey="x")


def test_missing_key_says_which_variable_to_set(
    registry: ftsdk.ProviderRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMORY_API_KEY", raising=False)
    with pytest.raises(
        MissingCredentials, match="memory needs credentials: set MEMORY_API_KEY or pass api_key="
    ):
        ftsdk.client("memory", registry=registry)
    monkeypatch.setenv("MEMORY_API_KEY", "from-env-1234")
    assert ftsdk.client("memory", registry=registry).provider.secrets() == ["from-env-1234"]


def test_chat_on_a_model(client: ftsdk.Client) -> None:
    answer = client.model("tiny").chat("ping", max_tokens=5)
    assert answer.content == "tiny heard: ping"
    assert answer.usage.total_tokens == 7


def test_bad_chat_parameter_is_an_invalid_request(client: ftsdk.Client) -> None:
    with pytest.raises(InvalidRequest, match="temperature"):
        client.model("tiny").chat("ping", temperature=9)


def test_capabilities_of_the_client(client: ftsdk.Client) -> None:
    assert client.capabilities.supports(Operation.CHAT)
    assert not client.capabilities.supports("deploy")


def test_check_refuses_what_train_refuses_before_uploading(
    client: ftsdk.Client, tmp_path: Path
) -> None:
    """``check`` runs the data checks ``train`` runs, not the spec's alone (issue 18.13)."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    for data, refused in ((bad, InvalidDataset), (tmp_path / "gone.jsonl", InvalidRequest)):
        spec = JobSpec(base_model="tiny", training_data=data)
        with pytest.raises(refused) as by_train:
            client.train(spec)
        with pytest.raises(refused) as by_check:
            client.check(spec)
        assert str(by_check.value) == str(by_train.value)
    assert client.provider.calls == []
