"""The example plugin passes the conformance kit and chats through ftsdk."""

from __future__ import annotations

import pytest
from ftsdk_echo import EchoProvider

import ftsdk
from ftsdk.errors import AuthenticationError, UnsupportedOperation
from ftsdk.testing.conformance import ProviderConformance


class TestEchoConformance(ProviderConformance):
    provider_class = EchoProvider
    provider_kwargs = {"api_key": "echo-secret-42"}
    secret_values = ("echo-secret-42",)
    entry_point = "echo"


def test_chat_through_the_installed_plugin() -> None:
    client = ftsdk.client("echo", api_key="echo-secret-42")
    answer = client.model("echo-1").chat("hello there world", max_tokens=2)
    assert answer.content == "HELLO THERE"
    assert answer.usage.prompt_tokens == 3


def test_wrong_key_and_no_training() -> None:
    client = ftsdk.client("echo", api_key="wrong-key")
    with pytest.raises(AuthenticationError):
        client.model("echo-1").chat("hi")
    with pytest.raises(UnsupportedOperation, match="echo does not support 'train'"):
        client.job("job-1")
