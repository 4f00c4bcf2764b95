"""Pushing a local model to the Hugging Face Hub with huggingface_hub, against a local
stand-in of the Hub's endpoints (HF_ENDPOINT); the token never lands on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import AuthenticationError, InvalidRequest, MissingCredentials
from ftsdk_emulator.hub import HubEmulator


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


@pytest.fixture(scope="module")
def lora_adapter(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter saved by PEFT itself, with the README.md model card PEFT writes."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("adapter")
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    lora = LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"])
    get_peft_model(base, lora).save_pretrained(folder)
    assert (folder / "README.md").read_text(encoding="utf-8").startswith("---")
    return folder


def test_push_a_lora_adapter_with_its_model_card(
    lora_adapter: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder with a README.md: huggingface_hub checks its metadata with the Hub first
    (issue 18.13: a raw JSONDecodeError before the Hub emulation served that check)."""
    with HubEmulator() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        client = ftsdk.client("trl", home=str(home), hf_token=hub.token)
        client.model(str(lora_adapter)).push_to_hub("me/dates-lora")
        files = hub.repos["me/dates-lora"].files
        assert files["README.md"] == (lora_adapter / "README.md").read_bytes()
        assert "adapter_config.json" in files
        assert ("POST", "/api/validate-yaml") in hub.calls()


def test_a_broken_model_card_says_which_file_to_fix(
    lora_adapter: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    folder = Path(shutil.copytree(lora_adapter, tmp_path / "adapter"))
    (folder / "README.md").write_text("---\nbase_model: [unclosed\n---\n# Card\n")
    with HubEmulator() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        client = ftsdk.client("trl", home=str(home), hf_token=hub.token)
        with pytest.raises(InvalidRequest) as caught:
            client.model(str(folder)).push_to_hub("me/dates-lora")
        assert "Invalid metadata in README.md" in str(caught.value)
        assert str(folder / "README.md") in str(caught.value)
        assert hub.repos["me/dates-lora"].files == {}  # nothing committed


def test_an_endpoint_that_is_not_a_hub_is_said_so(
    tiny_model: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy's HTML page, a wrong HF_ENDPOINT: not a raw JSONDecodeError."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from ftsdk.errors import ProviderUnavailable
    from ftsdk.serving.thread import ServerThread

    async def page(request: object) -> HTMLResponse:
        return HTMLResponse("<html><body>Sign in to the network</body></html>")

    app = Starlette(routes=[Route("/{path:path}", page, methods=["GET", "POST"])])
    with ServerThread(app, name="not-a-hub") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        client = ftsdk.client(
            "trl", home=str(home), hf_token="hf_x", retry=ftsdk.RetryPolicy(max_attempts=1)
        )
        with pytest.raises(ProviderUnavailable, match=r"not a Hugging Face Hub.*HF_ENDPOINT"):
            client.model(str(tiny_model)).push_to_hub("me/x")
