"""Hugging Face AutoTrain runs the ftsdk conformance kit: its declaration, and its
behaviour with a stand-in runtime (this interpreter, which has no AutoTrain: every job
fails in seconds, as a real one whose runtime breaks). Chat needs the real runtime, so
that test skips here; AutoTrain's own tests chat with it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ftsdk import SFT, JobSpec, JobStatus
from ftsdk.testing.behaviour import Harness, ProviderBehaviour
from ftsdk.testing.conformance import ProviderConformance
from ftsdk.testing.local import date_files
from ftsdk_autotrain import AutoTrainProvider

SECRET = "hf_conformance_secret"


class TestAutoTrainDeclaration(ProviderConformance):
    provider_class = AutoTrainProvider
    provider_kwargs = {"hf_token": SECRET}
    secret_values = (SECRET,)
    entry_point = "autotrain"


class TestAutoTrainBehaviour(ProviderBehaviour):
    @pytest.fixture
    def harness(self, home: Path, tiny_model: Path, tmp_path: Path) -> Harness:
        train, _ = date_files(tmp_path, train=16, held_out=0)
        return Harness(
            AutoTrainProvider(home=str(home), hf_token=SECRET, python=sys.executable),
            training=JobSpec(base_model=str(tiny_model), training_data=train, method=SFT(epochs=1)),
            errors={404: lambda client: client.job("atjob-not-there")},
            secrets=(SECRET,),
            ends=JobStatus.FAILED,
        )
