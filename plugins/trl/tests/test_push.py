"""Pushing a local model to the Hugging Face Hub with huggingface_hub, against a local
stand-in of the Hub's endpoints (HF_ENDPOINT); the token never lands on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import AuthenticationError, MissingCredentials
from ftsdk.testing.hub import HubEmulator


def test_push_a_local_model(tiny_model: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with HubEmulator(token="hf_secret_push_token_42") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        client = ftsdk.client("trl", home=str(home), hf_token=hub.token)
        url = client.model(str(tiny_model)).push_to_hub("me/tiny-dates")
        assert url == f"{hub.url}/me/tiny-dates"
        repo = hub.repos["me/tiny-dates"]
        assert repo.private
        local = {p.name for p in tiny_model.iterdir() if p.is_file()}
        assert set(repo.files) == local
        assert repo.files["config.json"] == (tiny_model / "config.json").read_bytes()
        client.model(str(tiny_model)).push_to_hub("me/tiny-dates")  # again: same repo
        assert len(repo.commits) == 2
        for path in home.rglob("*"):
            if path.is_file():
                assert hub.token.encode() not in path.read_bytes()

        wrong = ftsdk.client(
            "trl",
            home=str(home),
            hf_token="hf_wrong_token_123",
            retry=ftsdk.RetryPolicy(max_attempts=1),
        )
        with pytest.raises(AuthenticationError) as caught:
            wrong.model(str(tiny_model)).push_to_hub("me/other")
        assert "hf_wrong_token_123" not in str(caught.value)


def test_push_needs_a_token(tiny_model: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    client = ftsdk.client("trl", home=str(home))
    with pytest.raises(MissingCredentials, match="set HF_TOKEN"):
        client.model(str(tiny_model)).push_to_hub("me/x")
