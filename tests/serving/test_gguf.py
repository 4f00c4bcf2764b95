"""GGUF export with llama.cpp's own converters, and llama.cpp serving a TRL LoRA job: the
merged model and the base + LoRA adapter become GGUF files with an Ollama Modelfile, and
``ftsdk serve --engine llamacpp`` answers the real ``openai`` client with ``Model.chat``'s
greedy text."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest

import ftsdk
from ftsdk.errors import InvalidRequest
from ftsdk.serving.gguf import UnsupportedArchitecture
from tests.serving.conftest import ENGINES_HOME, LoraJob

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

KEY = "llamacpp-test-key-31fa"
MAX_TOKENS = 24


def _gguf_magic(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(4)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, FTSDK_HOME=str(ENGINES_HOME), **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def test_gguf_export_of_the_merged_model_on_the_command_line(
    lora_job: LoraJob, tmp_path: Path
) -> None:
    out = tmp_path / "merged-gguf"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "ftsdk", "models", "export", str(lora_job.merged), "-p", "trl"),
            *("--quantization", "f32", "--output", str(out), "--json"),
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    files = json.loads(done.stdout)
    model = Path(files["model"])
    assert files["adapter"] is None
    assert model.parent == out
    assert model.suffix == ".gguf"
    assert _gguf_magic(model) == b"GGUF"
    modelfile = (out / "Modelfile").read_text(encoding="utf-8")
    assert modelfile.splitlines()[0] == f"FROM ./{model.name}"
    assert 'PARAMETER stop "<|im_end|>"' in modelfile
    assert "ADAPTER" not in modelfile


def test_gguf_export_of_the_adapter_with_its_base(lora_job: LoraJob, tmp_path: Path) -> None:
    with ftsdk.client("trl", home=str(lora_job.home)) as client:
        exported = client.model(str(lora_job.adapter)).export(
            "gguf", tmp_path / "adapter-gguf", quantization="q8_0"
        )
    assert exported.adapter is not None
    assert _gguf_magic(exported.model) == _gguf_magic(exported.adapter) == b"GGUF"
    assert exported.adapter.stat().st_size < exported.model.stat().st_size
    lines = exported.modelfile.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == [f"FROM ./{exported.model.name}", f"ADAPTER ./{exported.adapter.name}"]


def test_gguf_export_names_an_architecture_the_converters_do_not_know(
    lora_job: LoraJob, tmp_path: Path
) -> None:
    strange = shutil.copytree(lora_job.merged, tmp_path / "strange")
    config = json.loads((strange / "config.json").read_text(encoding="utf-8"))
    config["architectures"] = ["WeirdNetForCausalLM"]
    (strange / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with ftsdk.client("trl", home=str(lora_job.home)) as client:
        model = client.model(str(strange))
        with pytest.raises(UnsupportedArchitecture, match="WeirdNetForCausalLM") as caught:
            model.export("gguf", tmp_path / "out")
        assert str(strange) in str(caught.value)
        with pytest.raises(InvalidRequest, match="q4_k_m"):
            model.export("gguf", tmp_path / "out", quantization="q4_k_m")


def test_llamacpp_serves_the_lora_job_like_model_chat(
    lora_job: LoraJob, llamacpp_python: Path
) -> None:
    with ftsdk.client("trl", home=str(lora_job.home)) as client:
        tuned = client.model(str(lora_job.adapter))
        expected = [tuned.chat(p, max_tokens=MAX_TOKENS).content for p in lora_job.prompts]
    assert any(expected)  # the job learnt to answer
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "ftsdk", "serve", str(lora_job.adapter), "-p", "trl"),
            *("--engine", "llamacpp", "--name", "tuned", "--port", "0", "--json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(FTSDK_SERVE_API_KEY=KEY, FTSDK_LLAMACPP_PYTHON=str(llamacpp_python)),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"ftsdk serve did not start: {process.communicate(timeout=60)[1]}")
        info = json.loads(line)
        assert info["engine"] == "llamacpp"
        assert info["model"] == "tuned"
        assert info["api_key"] is None
        assert info["api_key_required"] is True
        assert Path(info["log"]).is_file()
        api = openai.OpenAI(base_url=info["base_url"], api_key=KEY, max_retries=0)
        assert [m.id for m in api.models.list()] == ["tuned"]
        got = [
            api.chat.completions.create(
                model="tuned", messages=prompt, max_tokens=MAX_TOKENS, temperature=0
            )
            .choices[0]
            .message.content
            for prompt in lora_job.prompts
        ]
        assert got == expected
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=info["base_url"], api_key="wrong", max_retries=0).models.list()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "stopped" in err
    assert KEY not in out + err
