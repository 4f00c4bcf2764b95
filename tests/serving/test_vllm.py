"""vLLM (its CPU build, from its own runtime venv) serves a TRL LoRA job's adapters: the
real ``openai`` client gets the same greedy text as ``Model.chat``, two adapters of one
base answer on one server, each under its own name, and the key is enforced."""

from __future__ import annotations

import os
from pathlib import Path

import openai
import pytest

import ftsdk
from ftsdk.serving import EngineServer
from tests.serving.conftest import LoraJob

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

KEY = "vllm-test-key-8c1d"
MAX_TOKENS = 24


def test_vllm_serves_two_adapters_with_model_chats_answers(
    lora_job: LoraJob, vllm_python: Path, tmp_path: Path
) -> None:
    with ftsdk.client("trl", home=str(lora_job.home)) as client:
        tuned = client.model(str(lora_job.adapter))
        early = client.model(str(lora_job.checkpoint))
        expected = {
            label: [model.chat(p, max_tokens=MAX_TOKENS).content for p in lora_job.prompts]
            for label, model in (("tuned", tuned), ("early", early))
        }
        server = EngineServer(
            tuned,
            engine="vllm",
            name="tuned",
            adapters={"early": early},
            api_key=KEY,
            python=str(vllm_python),
            home=tmp_path,
        )
        with server:
            assert server.running
            assert server.log_path.is_file()
            assert KEY not in " ".join(server.command())  # the key is in its environment
            assert KEY not in "\n".join(server.banner()) + repr(server)
            api = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
            listed = {model.id for model in api.models.list()}
            assert {"tuned", "early"} <= listed
            for label, answers in expected.items():
                got = [
                    api.chat.completions.create(
                        model=label, messages=prompt, max_tokens=MAX_TOKENS, temperature=0
                    )
                    .choices[0]
                    .message.content
                    for prompt in lora_job.prompts
                ]
                assert got == answers, label
            with pytest.raises(openai.AuthenticationError):
                openai.OpenAI(
                    base_url=server.base_url, api_key="wrong", max_retries=0
                ).models.list()
            group = server.pid
        assert not server.running
        assert group is not None
        with pytest.raises(ProcessLookupError):  # no worker outlived it
            os.killpg(group, 0)
    assert any(answers for answers in expected["tuned"])  # the job learnt to answer
