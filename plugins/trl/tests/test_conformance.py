"""Hugging Face TRL (local) runs the ftsdk conformance kit: its declaration, and its
behaviour on the tiny model (a two-step job, chat in this process; 404 an unknown job, the
other errors a push to a stand-in Hub that refuses every request)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ftsdk import SFT, Client, JobSpec, JobStatus, ModelInfo
from ftsdk.testing.behaviour import ERRORS, QUESTION, Harness, ProviderBehaviour
from ftsdk.testing.conformance import ProviderConformance
from ftsdk.testing.local import date_files
from ftsdk.testing.refusing import refusing_server
from ftsdk_trl import TRLProvider, tiny

SECRET = "hf_conformance_secret"
STATUSES = {  # the words TRL's runner writes to status.json
    "starting": JobStatus.QUEUED,
    "resuming": JobStatus.QUEUED,
    "queued": JobStatus.QUEUED,
    "loading": JobStatus.RUNNING,
    "training": JobStatus.RUNNING,
    "saving": JobStatus.RUNNING,
    "paused": JobStatus.PAUSED,
    "succeeded": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "process_died": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
}


class TestTRLDeclaration(ProviderConformance):
    provider_class = TRLProvider
    provider_kwargs = {"hf_token": SECRET}
    secret_values = (SECRET,)
    entry_point = "trl"


def pushed_to_a_refusing_hub(status: int, folder: Path) -> Callable[[Client], object]:
    """A push of ``folder`` to a Hub that answers every request ``status``."""

    def call(client: Client) -> object:
        before = os.environ.get("HF_ENDPOINT")
        with refusing_server(status) as url:
            os.environ["HF_ENDPOINT"] = url
            try:
                return client.model("tiny", path=folder).push_to_hub("me/tiny")
            finally:
                if before is None:
                    del os.environ["HF_ENDPOINT"]
                else:
                    os.environ["HF_ENDPOINT"] = before

    return call


@pytest.fixture(scope="module")
def answering_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model, taught to answer the kit's question (untaught, it says nothing)."""
    conversation = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "March seventh, two thousand twenty-four"},
    ]
    return tiny.teach(tiny_model, tmp_path_factory.mktemp("answering"), [conversation])


class TestTRLBehaviour(ProviderBehaviour):
    @pytest.fixture
    def harness(
        self, home: Path, tiny_model: Path, answering_model: Path, tmp_path: Path
    ) -> Harness:
        train, _ = date_files(tmp_path, train=16, held_out=0)
        return Harness(
            TRLProvider(home=str(home), hf_token=SECRET),
            training=JobSpec(
                base_model=str(tiny_model),
                training_data=train,
                method=SFT(max_steps=2, batch_size=4),
                provider_options={"num_threads": 1},
            ),
            chat_model=ModelInfo(id="tiny", provider="trl", kind="base", path=answering_model),
            statuses=STATUSES,
            errors={
                **{status: pushed_to_a_refusing_hub(status, tiny_model) for status in ERRORS},
                404: lambda client: client.job("trljob-20260101000000-abcdef01"),
            },
            secrets=(SECRET,),
        )
