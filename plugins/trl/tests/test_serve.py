"""``ftsdk serve`` puts a locally trained model behind OpenAI's chat API: a real ``ftsdk
serve`` process, the real ``openai`` client, and greedy answers equal to ``Model.chat``'s."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

import ftsdk
from ftsdk.testing.data import date_to_words_examples, write_jsonl

pytestmark = pytest.mark.slow

KEY = "trl-serve-key-5d2b8e41"


@dataclass
class Trained:
    home: Path
    job_id: str
    held_out: list[dict[str, Any]]
    env: dict[str, str]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Trained:
    """A short full SFT run of the tiny model (measured: ~7 s): it answers in dates."""
    folder = tmp_path_factory.mktemp("serve")
    rows = date_to_words_examples(330, seed=0)
    train = write_jsonl(folder / "train.jsonl", rows[:300])
    home = folder / "home"
    with ftsdk.client("trl", home=str(home)) as client:
        job = client.train(
            base_model=str(tiny_model),
            training_data=train,
            method=ftsdk.SFT(max_steps=40, batch_size=16, learning_rate=3e-3),
            seed=0,
            provider_options={"num_threads": 1, "logging_steps": 10},
        )
        job.wait(poll_interval=0.5, progress=False)
    env = dict(os.environ)
    env |= {
        "FTSDK_HOME": str(home),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "OMP_NUM_THREADS": "1",
    }
    return Trained(home=home, job_id=job.id, held_out=rows[300:], env=env)


@dataclass
class Served:
    process: subprocess.Popen[str]
    info: dict[str, Any]
    output: str = ""

    def stop(self) -> int:
        """Ctrl-C, then everything the server printed."""
        if self.process.stdout is None or self.process.stdout.closed:
            return self.process.returncode
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=60)
        self.output += out + err
        return self.process.returncode


@contextmanager
def ftsdk_serve(*args: str, env: dict[str, str]) -> Iterator[Served]:
    """``python -m ftsdk serve ARGS --port 0 --json``, once it says where it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ftsdk", "serve", *args, "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        _, err = process.communicate(timeout=60)
        pytest.fail(f"ftsdk serve did not start: {err}")
    served = Served(process, json.loads(line), line)
    try:
        yield served
    finally:
        served.stop()


def test_a_trained_job_served_to_the_openai_client(trained: Trained) -> None:
    with ftsdk.client("trl", home=str(trained.home)) as client:
        model = client.job(trained.job_id).model
    assert model is not None
    args = ("--job", trained.job_id, "-p", "trl", "--name", "dates", "--warm-up")
    with (
        ftsdk_serve(*args, "--api-key", KEY, env=trained.env) as served,
        openai.OpenAI(base_url=served.info["base_url"], api_key=KEY, max_retries=0) as oai,
    ):
        assert served.info["model"] == "dates"
        assert [m.id for m in oai.models.list()] == ["dates"]
        for row in trained.held_out[:3]:
            question = row["messages"][:-1]
            direct = model.chat(question, max_tokens=16)
            answer = oai.chat.completions.create(model="dates", messages=question, max_tokens=16)
            assert answer.choices[0].message.content == direct.content
            assert direct.content  # the trained model writes a date, not nothing
            assert answer.usage is not None
            assert answer.usage.prompt_tokens == direct.usage.prompt_tokens
            assert answer.usage.completion_tokens == direct.usage.completion_tokens
            assert answer.choices[0].finish_reason == direct.finish_reason
        question = trained.held_out[0]["messages"][:-1]
        direct = model.chat(question, max_tokens=16)
        stream = oai.chat.completions.create(
            model=trained.job_id, messages=question, max_tokens=16, stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream) == direct.content

        with pytest.raises(openai.BadRequestError, match="n must be 1"):
            oai.chat.completions.create(model="dates", messages=question, n=2)
        with pytest.raises(openai.NotFoundError, match="serves 'dates'"):
            oai.chat.completions.create(model="gpt-4o", messages=question)
        with (
            openai.OpenAI(base_url=served.info["base_url"], api_key="nope", max_retries=0) as bad,
            pytest.raises(openai.AuthenticationError),
        ):
            bad.models.list()
        assert served.stop() == 0
    assert "POST /v1/chat/completions 200" in served.output
    assert "POST /v1/chat/completions 401" not in served.output
    assert "GET /v1/models 401" in served.output
    assert served.output.rstrip().endswith("stopped")
    assert KEY not in served.output


def test_a_model_folder_is_served_and_a_bad_one_refused_at_start(
    trained: Trained, tiny_model: Path, tmp_path: Path
) -> None:
    with (
        ftsdk_serve(str(tiny_model), "-p", "trl", "--quiet", env=trained.env) as served,
        openai.OpenAI(base_url=served.info["base_url"], api_key="any", max_retries=0) as oai,
    ):
        assert [m.id for m in oai.models.list()] == [str(tiny_model)]
        answer = oai.chat.completions.create(
            model=str(tiny_model), messages=[{"role": "user", "content": "hi"}], max_tokens=3
        )
        assert answer.usage is not None
        assert answer.usage.completion_tokens == 3
        assert answer.choices[0].finish_reason == "length"
    assert "POST" not in served.output  # --quiet

    result = subprocess.run(
        [sys.executable, "-m", "ftsdk", "serve", str(tmp_path), "-p", "trl", "--warm-up"],
        check=False,
        capture_output=True,
        text=True,
        env=trained.env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "error: InvalidRequest" in result.stderr
    assert "not a transformers model, adapter or checkpoint folder" in result.stderr


def test_a_million_tokens_are_capped_by_the_context_and_ctrl_c_ends_cleanly(
    tiny_model: Path, subprocess_env: dict[str, str]
) -> None:
    """``max_completion_tokens: 1000000`` ends where the model's context (256) does, and
    Ctrl-C while an answer is asked for stops the server cleanly: exit 0, no abort."""
    env = subprocess_env | {"OMP_NUM_THREADS": "1"}
    question = [{"role": "user", "content": "hi"}]
    with (
        ftsdk_serve(str(tiny_model), "-p", "trl", "--quiet", env=env) as served,
        openai.OpenAI(
            base_url=served.info["base_url"], api_key="any", max_retries=0, timeout=120
        ) as oai,
    ):
        answer = oai.chat.completions.create(
            model=str(tiny_model), messages=question, max_completion_tokens=1_000_000
        )
        assert answer.usage is not None
        assert answer.usage.total_tokens == 256  # the untrained model never stops by itself
        assert answer.choices[0].finish_reason == "length"
        asked: list[str] = []

        def ask() -> None:
            try:
                oai.chat.completions.create(
                    model=str(tiny_model), messages=question, max_completion_tokens=1_000_000
                )
                asked.append("answered")
            except openai.APIError as err:
                asked.append(type(err).__name__)

        asking = threading.Thread(target=ask)
        asking.start()
        code = served.stop()  # Ctrl-C, wherever the answer stands
        asking.join(60)
    assert code == 0, served.output
    assert "terminate called" not in served.output
    assert "Traceback" not in served.output
    assert served.output.rstrip().endswith("stopped")
    assert len(asked) == 1
