"""The example plugin passes both halves of the conformance kit and chats through ftsdk."""

from __future__ import annotations

import pytest
from ftsdk_echo import EchoProvider

import ftsdk
from ftsdk.errors import AuthenticationError, UnsupportedOperation
from ftsdk.testing.behaviour import Harness, ProviderBehaviour
from ftsdk.testing.conformance import ProviderConformance

SECRET = "echo-secret-42"


class TestEchoDeclaration(ProviderConformance):
    provider_class = EchoProvider
    provider_kwargs = {"api_key": SECRET}
    secret_values = (SECRET,)
    entry_point = "echo"


class TestEchoBehaviour(ProviderBehaviour):
    @pytest.fixture
    def harness(self) -> Harness:
        wrong_key = ftsdk.Client(EchoProvider(api_key="not-an-echo-key"))
        return Harness(
            EchoProvider(api_key=SECRET),
            chat_model="echo-1",
            errors={  # echo has no server: the refusals it makes itself
                401: lambda client: wrong_key.model("echo-1").chat("hi"),
                404: lambda client: client.model("echo-2").chat("hi"),
            },
            secrets=(SECRET,),
        )


def test_chat_through_the_installed_plugin() -> None:
    client = ftsdk.client("echo", api_key=SECRET)
    answer = client.model("echo-1").chat("hello there world", max_tokens=2)
    assert answer.content == "HELLO THERE"
    assert answer.usage.prompt_tokens == 3


def test_wrong_key_and_no_training() -> None:
    client = ftsdk.client("echo", api_key="wrong-key")
    with pytest.raises(AuthenticationError):
        client.model("echo-1").chat("hi")
    with pytest.raises(UnsupportedOperation, match="echo does not support 'train'"):
        client.job("job-1")
