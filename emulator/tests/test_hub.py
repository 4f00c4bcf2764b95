"""The Hub emulator against the real ``huggingface_hub`` client: the repos, files and Space
calls a push and AutoTrain's hosted backends make, the token checked and never recorded."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

from ftsdk_emulator.hub import HubEmulator


def test_a_dataset_is_pushed_listed_and_read_back(
    hub: HubEmulator, api: HfApi, tmp_path: Path
) -> None:
    url = api.create_repo("data-1", repo_type="dataset", private=True)
    assert url == f"{hub.url}/datasets/alice/data-1"
    api.upload_file(
        path_or_fileobj=b'{"a": 1}\n',
        path_in_repo="train/part-0.jsonl",
        repo_id="alice/data-1",
        repo_type="dataset",
        commit_message="add the data",
    )
    repo = hub.repos["datasets/alice/data-1"]
    assert (repo.private, repo.commits) == (True, ["add the data"])
    assert api.list_repo_files("alice/data-1", repo_type="dataset") == ["train/part-0.jsonl"]
    path = api.hf_hub_download(
        "alice/data-1", "train/part-0.jsonl", repo_type="dataset", cache_dir=tmp_path
    )
    assert Path(path).read_bytes() == b'{"a": 1}\n'
    with pytest.raises(EntryNotFoundError):
        api.hf_hub_download("alice/data-1", "missing.txt", repo_type="dataset", cache_dir=tmp_path)


def test_a_space_keeps_its_secrets_out_of_the_request_log(hub: HubEmulator, api: HfApi) -> None:
    api.create_repo("run-1", repo_type="space", space_sdk="docker", private=True)
    api.add_space_secret("alice/run-1", "HF_TOKEN", hub.token)
    api.add_space_secret("alice/run-1", "PARAMS", "{}")
    space = hub.repos["spaces/alice/run-1"]
    assert space.secrets == {"HF_TOKEN": hub.token, "PARAMS": "{}"}
    assert space.settings["sdk"] == "docker"
    assert api.get_space_runtime("alice/run-1").stage == "RUNNING"
    hub.space_stage = "PAUSED"
    assert api.get_space_runtime("alice/run-1").stage == "PAUSED"
    assert hub.token not in repr(hub.requests)
    assert hub.token not in repr(hub.repos)
    assert all(r.authorized for r in hub.requests)


def test_a_wrong_token_is_refused_and_nothing_is_created(hub: HubEmulator) -> None:
    wrong = HfApi(endpoint=hub.url, token="hf_not_the_one")
    with pytest.raises(HfHubHTTPError) as caught:
        wrong.create_repo("model-1")
    assert caught.value.response.status_code == 401
    assert hub.repos == {}
    assert [(r.method, r.path, r.authorized) for r in hub.requests] == [
        ("POST", "/api/repos/create", False)
    ]


def test_a_model_that_exists_already_is_found_and_creating_it_again_conflicts(
    hub: HubEmulator, api: HfApi
) -> None:
    hub.add_repo("alice/pushed-by-a-space")
    assert api.model_info("alice/pushed-by-a-space").id == "alice/pushed-by-a-space"
    assert api.create_repo("alice/pushed-by-a-space", exist_ok=True).repo_id == (
        "alice/pushed-by-a-space"
    )
    with pytest.raises(HfHubHTTPError) as caught:
        api.create_repo("alice/pushed-by-a-space")
    assert caught.value.response.status_code == 409


def test_an_unknown_route_is_a_404_on_the_record(hub: HubEmulator) -> None:
    answer = httpx.post(f"{hub.url}/api/not-a-route", headers={"authorization": "x"})
    assert answer.status_code == 404
    assert "no such Hub route: POST /api/not-a-route" in answer.text
    assert hub.calls() == [("POST", "/api/not-a-route")]
