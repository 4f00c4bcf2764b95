"""What the engine tests share: a TRL LoRA job on the tiny model (head_dim 32: vLLM's CPU
attention needs 32 or more), and the engines' runtime venvs, built once per checkout
through the public ``ftsdk serve install-engine`` (minutes the first time: CI builds them
once per run; here they are reused from ``.cache/engines-home``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.local import stop_runners

ENGINES_HOME = Path(__file__).resolve().parents[2] / ".cache" / "engines-home"
"""The ftsdk home whose ``engines/`` holds the engines' venvs for the tests."""
INSTALL_TIMEOUT_S = 1800


@dataclass
class LoraJob:
    """A finished TRL LoRA job: its adapter and merged folders, and held-out prompts."""

    home: Path
    base: Path
    adapter: Path
    checkpoint: Path
    """The adapter at step 20 of 40: a second fine-tune of the same base."""
    merged: Path
    prompts: list[list[dict[str, Any]]]


@pytest.fixture(scope="session")
def lora_job(tmp_path_factory: pytest.TempPathFactory, engine_builds: None) -> LoraJob:
    """A LoRA run (r=8, attention and MLP) of the 2-head tiny model, merged too (~15 s)."""
    from ftsdk_trl import tiny

    folder = tmp_path_factory.mktemp("lora-job")
    base = tiny.build(folder / "tiny", seed=0, heads=2)
    rows = date_to_words_examples(330, seed=0)
    train = write_jsonl(folder / "train.jsonl", rows[:300])
    home = folder / "home"
    try:
        with ftsdk.client("trl", home=str(home)) as client:
            job = client.train(
                base_model=str(base),
                training_data=train,
                method=ftsdk.SFT(
                    adapter="lora", lora_r=8, max_steps=40, batch_size=16, learning_rate=1e-2
                ),
                seed=0,
                provider_options={
                    "num_threads": 1,
                    "logging_steps": 10,
                    "save_steps": 20,
                    "merge": True,
                },
            )
            job.wait(poll_interval=0.5, progress=False)
    finally:
        stop_runners(home / "trl" / "jobs")
    assert job.status.value == "succeeded", job.state.error
    merged = Path(job.state.result_model or "")
    [checkpoint] = [path.parent for path in home.rglob("checkpoint-20/adapter_config.json")]
    prompts = [row["messages"][:-1] for row in rows[300:303]]
    return LoraJob(
        home=home,
        base=base,
        adapter=merged.parent / "model",
        checkpoint=checkpoint,
        merged=merged,
        prompts=prompts,
    )


_BUILDS: dict[str, subprocess.Popen[str]] = {}


def _start_install(name: str) -> subprocess.Popen[str]:
    """``ftsdk serve install-engine NAME --json``, started once per session."""
    if name not in _BUILDS:
        env = dict(os.environ, FTSDK_HOME=str(ENGINES_HOME))
        env.pop(f"FTSDK_{name.upper()}_PYTHON", None)
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        _BUILDS[name] = subprocess.Popen(
            [sys.executable, "-m", "ftsdk", "serve", "install-engine", name, "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its pip and compiler can be stopped with it
        )
    return _BUILDS[name]


@pytest.fixture(scope="session")
def engine_builds() -> Iterator[None]:
    """Both engines' builds, started together: vLLM's is mostly downloads, llama.cpp's
    mostly compiling, so side by side they take about as long as the longer one. A build
    no test waited for is stopped at the end (the next one starts it afresh)."""
    for name in ("llamacpp", "vllm"):
        _start_install(name)
    yield
    for build in _BUILDS.values():
        if build.poll() is None:
            os.killpg(build.pid, signal.SIGTERM)
            build.communicate(timeout=60)


def install_engine(name: str) -> Path:
    """The engine's interpreter, built by ``ftsdk serve install-engine`` if needed."""
    build = _start_install(name)
    out, err = build.communicate(timeout=INSTALL_TIMEOUT_S)
    assert build.returncode == 0, err[-3000:]
    return Path(json.loads(out)["python"])


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    return install_engine("vllm")


@pytest.fixture(scope="session")
def llamacpp_python() -> Path:
    return install_engine("llamacpp")
