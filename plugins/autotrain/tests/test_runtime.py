"""The runtime venv manager: idempotent, locked, survives an interrupted build, removes a
failed one (with stand-in install steps, so it runs in seconds)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ftsdk_autotrain import runtime
from ftsdk_autotrain.runtime import PYTHON_ENV_VAR, Runtime, RuntimeBuildError, runtime_for


class QuickRuntime(Runtime):
    """A runtime whose steps are quick stand-ins for the pip installs."""

    sleep = 0.0
    fail = False

    def steps(self) -> list[tuple[str, list[str]]]:
        python = str(self.python)
        script = f"import time; time.sleep({self.sleep}); raise SystemExit({int(self.fail)})"
        return [
            ("installing (stand-in)", [python, "-c", script]),
            ("checking the runtime", [python, "-c", "import json"]),
        ]


def quick(root: Path) -> QuickRuntime:
    return QuickRuntime(root, pins=("nothing==1",), health_check="import json")


def test_the_key_hashes_pins_and_python(tmp_path: Path) -> None:
    a = Runtime(tmp_path)
    assert a.path.name == f"venv-{a.key}"
    assert Runtime(tmp_path).key == a.key
    assert Runtime(tmp_path, pins=("autotrain-advanced==0.8.35",)).key != a.key
    assert Runtime(tmp_path, constraints="torch==2.12.0\n").key != a.key


def test_the_real_steps_follow_the_recipe(tmp_path: Path) -> None:
    steps = [" ".join(argv) for _, argv in Runtime(tmp_path).steps()]
    assert all(" -c " in step for step in steps if " install " in step)  # constraints always
    assert any(
        step.endswith(
            "install -q -c " + str(Runtime(tmp_path).path / "constraints.txt") + " torch==2.13.0"
        )
        for step in steps
    )
    assert any("autotrain-advanced==0.8.36" in step for step in steps)
    assert any("uninstall -q -y torchvision timm" in step for step in steps)
    assert "import autotrain" in steps[-1]
    assert runtime.CONSTRAINTS == "torch==2.13.0\n"


def test_build_is_idempotent(tmp_path: Path) -> None:
    rt = quick(tmp_path)
    messages: list[str] = []
    python = rt.ensure(progress=messages.append)
    assert python.is_file()
    assert rt.is_ready()
    assert any("building the AutoTrain runtime" in m for m in messages)
    stamp = rt.marker.stat().st_mtime_ns
    again: list[str] = []
    assert rt.ensure(progress=again.append) == python
    assert again == []  # nothing rebuilt, nothing said
    assert rt.marker.stat().st_mtime_ns == stamp


def test_a_failed_build_removes_its_folder(tmp_path: Path) -> None:
    rt = quick(tmp_path)
    rt.fail = True
    with pytest.raises(RuntimeBuildError, match="installing"):
        rt.ensure(progress=None)
    assert not rt.path.exists()


def test_an_interrupted_build_is_rebuilt(tmp_path: Path) -> None:
    """kill -9 in the middle of the build: the next ensure() removes the half-built venv."""
    plugin_root = Path(__file__).resolve().parents[1]
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(plugin_root)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_runtime import quick
        rt = quick(Path({str(tmp_path)!r})); rt.sleep = 60
        rt.ensure()
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    builder = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    rt = quick(tmp_path)
    deadline = time.monotonic() + 60
    while not (rt.path / "constraints.txt").is_file():  # the venv exists, pip is "running"
        assert time.monotonic() < deadline, "the build did not start"
        assert builder.poll() is None
        time.sleep(0.1)
    os.killpg(builder.pid, signal.SIGKILL)
    builder.wait()
    assert rt.path.exists()
    assert not rt.is_ready()  # no marker: half-built
    messages: list[str] = []
    rt.ensure(progress=messages.append)
    assert rt.is_ready()
    assert any("half-built" in m for m in messages)


def test_a_second_builder_waits_for_the_lock(tmp_path: Path) -> None:
    import threading

    first, second = quick(tmp_path), quick(tmp_path)
    first.sleep = 2.0
    said: list[str] = []
    worker = threading.Thread(target=first.ensure, kwargs={"progress": None})
    worker.start()
    while not first.path.exists():
        time.sleep(0.05)
    second.ensure(progress=said.append)
    worker.join()
    assert any("waiting for another process" in m for m in said)
    assert not any("building" in m for m in said if "waiting" not in m)  # built once


def test_an_existing_interpreter_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PYTHON_ENV_VAR, sys.executable)
    rt = runtime_for(tmp_path)
    assert rt.ensure(progress=None) == Path(sys.executable)
    assert not (tmp_path / "autotrain").exists()
    with pytest.raises(RuntimeBuildError, match=PYTHON_ENV_VAR):
        runtime_for(tmp_path, python=str(tmp_path / "nope")).ensure(progress=None)


def test_the_ftsdk_command_line_says_where_the_runtime_is(tmp_path: Path) -> None:
    ftsdk = Path(sys.executable).with_name("ftsdk")
    env = {**os.environ, "FTSDK_HOME": str(tmp_path)}
    env.pop(PYTHON_ENV_VAR, None)
    info = subprocess.run(
        [str(ftsdk), "autotrain", "runtime-info", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    shown = json.loads(info.stdout)
    assert shown["ready"] is False
    assert shown["python"].startswith(str(tmp_path / "autotrain" / f"venv-{shown['key']}"))
    assert shown == json.loads(
        subprocess.run(
            [sys.executable, "-m", "ftsdk_autotrain", "runtime-info", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    )
