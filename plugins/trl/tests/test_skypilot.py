"""The skypilot engine, offline: the ``sky.Task`` SkyPilot itself builds and checks from a
job, the options it refuses (each error naming the field), and a launch with no cloud.

SkyPilot cannot launch here (no cloud: ``sky.jobs.launch`` raises NoCloudAccessError from
its API server), so the tests stop at what a user sees then. They run SkyPilot 0.14.1 from
its runtime venv, built by ``scripts/setup`` into ``.cache/engines-home`` (or here on first
use, ~2 min), as a user's job would. HOME is a temporary folder (SkyPilot writes ``~/.sky``)
and the API server a launch starts is killed by its PID at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import ftsdk
from ftsdk import JobSpec
from ftsdk.errors import FtsdkError, InvalidRequest
from ftsdk.testing.local import child_env
from ftsdk_trl.engines.skypilot import PYTHON_ENV_VAR, runtime_for

ENGINES_HOME = Path(__file__).resolve().parents[3] / ".cache" / "engines-home"
SECRET = "hf_skypilot_secret_never_written"
STORAGE = "s3://ftsdk-test-bucket/jobs"


@pytest.fixture(scope="session")
def sky_python() -> str:
    """An interpreter with SkyPilot: ``FTSDK_SKYPILOT_PYTHON``, else the runtime venv of
    ``.cache/engines-home`` (built now if ``scripts/setup`` did not)."""
    return os.environ.get(PYTHON_ENV_VAR) or str(runtime_for(ENGINES_HOME).ensure())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def sky_env(
    tmp_path: Path, sky_python: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """SkyPilot's interpreter, a HOME of its own and a port for its API server, which is
    killed (its whole session) by PID at the end."""
    port = _free_port()
    env = {
        PYTHON_ENV_VAR: sky_python,
        "HOME": str(tmp_path / "user"),
        "SKYPILOT_API_SERVER_LOCAL_PORT": str(port),
        "SKYPILOT_DISABLE_USAGE_COLLECTION": "1",
        "HF_TOKEN": SECRET,
    }
    (tmp_path / "user").mkdir()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        yield env
    finally:
        for process in psutil.process_iter(["pid", "cmdline"]):
            cmdline = process.info["cmdline"] or []
            if "sky.server.server" in cmdline and f"--port={port}" in cmdline:
                # Started with start_new_session: its workers share its process group.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.info["pid"], signal.SIGKILL)


def _options(**skypilot: Any) -> dict[str, Any]:
    return {"engine": "skypilot", "skypilot": {"storage": STORAGE, **skypilot}}


def _spec(tiny_model: Path, data: Path, options: dict[str, Any]) -> JobSpec:
    return JobSpec.model_validate(
        {
            "base_model": str(tiny_model),
            "training_data": str(data),
            "method": {"type": "sft", "adapter": "lora", "batch_size": 8, "epochs": 1},
            "provider_options": options,
        }
    )


def _sky_reads(sky_python: str, task_file: Path) -> dict[str, Any]:
    """What SkyPilot itself reads from ``sky.yaml`` (``sky.Task.from_yaml``)."""
    script = """
import json, sys
import sky
task = sky.Task.from_yaml(sys.argv[1])
[res] = list(task.resources)
print(json.dumps({
    "name": task.name,
    "cloud": str(res.cloud) if res.cloud else None,
    "region": res.region,
    "accelerators": res.accelerators,
    "cpus": res.cpus,
    "memory": res.memory,
    "disk_size": res.disk_size,
    "use_spot": res.use_spot,
    "num_nodes": task.num_nodes,
    "setup": task.setup,
    "run": task.run,
    "envs": task.envs,
    "file_mounts": task.file_mounts,
    "storage": {path: store.source for path, store in task.storage_mounts.items()},
}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sky_python, "-c", script, str(task_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_skypilot_launch_without_a_cloud_says_run_sky_check(
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    home: Path,
    sky_env: dict[str, str],
    tmp_path: Path,
) -> None:
    spec_file = tmp_path / "spec.json"
    options = _options(cpus="8+", memory="32+", disk_size=100, use_spot=True)
    options["num_processes"] = 2
    spec_file.write_text(_spec(tiny_model, dates[0], options).model_dump_json())
    # The user's command, as they would type it: a clear error, no traceback.
    done = subprocess.run(
        [sys.executable, "-m", "ftsdk", "train", str(spec_file), "-p", "trl", "--no-wait"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=child_env(home, **sky_env),
    )
    assert done.returncode != 0
    assert "no cloud" in done.stderr
    assert "run `sky check`" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout

    [task_file] = home.rglob("sky.yaml")
    job = task_file.parent
    seen = _sky_reads(sky_env[PYTHON_ENV_VAR], task_file)
    assert seen["name"] == job.name
    assert seen["cloud"] is None  # SkyPilot picks the cheapest enabled cloud
    assert (seen["cpus"], seen["memory"], seen["disk_size"]) == ("8+", "32+", 100)
    assert seen["use_spot"] is True
    assert seen["num_nodes"] == 1
    # Two ranks under ftsdk's launcher (accelerate launch), in the job folder the bucket holds.
    assert 'python -m ftsdk_trl.engines.ranks . --num-processes 2 "$@"' in seen["run"]
    assert f"cd ~/ftsdk-bucket/jobs/{job.name}" in seen["run"]
    assert "pip install ftsdk-trl==" in seen["setup"]
    assert seen["storage"] == {"~/ftsdk-bucket": "s3://ftsdk-test-bucket"}
    assert seen["file_mounts"] == {
        "~/ftsdk-input/job": str(job),
        "~/ftsdk-input/base-model": str(tiny_model),
    }
    assert seen["envs"]["HF_HUB_OFFLINE"] == "1"
    # The spec the VM's runner reads: the same job, with the paths it sees there.
    remote = json.loads((job / "sky-spec.json").read_text())
    local = json.loads((job / "spec.json").read_text())
    assert remote["train_file"] == "../ftsdk-input/job/train.jsonl"
    assert remote["model_path"] == "../ftsdk-input/base-model"
    assert remote["method"] == local["method"]
    assert remote["options"] == local["options"]

    # The job is failed with SkyPilot's reason, not left queued.
    with ftsdk.client("trl", home=str(home)) as client:
        [job_handle] = client.jobs()
        assert job_handle.status == "failed"
        assert job_handle.error is not None
        assert "sky check" in job_handle.error.message
        events = [event.message for event in job_handle.events()]
    assert any("SkyPilot task written to sky.yaml" in message for message in events)
    # A SkyPilot job cannot pause or resume: SkyPilot recovers it by itself.
    with pytest.raises(InvalidRequest, match="a SkyPilot managed job, where a job cannot pause"):
        job_handle.pause()

    # A job launched earlier (as a launch with a cloud records it), watched once SkyPilot's
    # jobs controller is gone: its status is kept, saying why, and cancel has nothing to
    # stop. SkyPilot's own API server answers (ClusterNotUpError).
    (job / "sky-job.json").write_text(json.dumps({"job_id": 1}))
    status = json.loads((job / "status.json").read_text())
    status.update(status="running", raw_status="RUNNING", error=None, finished_at=None)
    (job / "status.json").write_text(json.dumps(status))
    with ftsdk.client("trl", home=str(home)) as client:
        watched = client.job(job.name)
        assert watched.status == "running"
        assert "unknown to SkyPilot" in watched.raw_status
        assert "No in-progress managed jobs" in watched.raw_status
        watched.cancel()
        assert watched.refresh().status == "cancelled"
        assert any("nothing to cancel" in event.message for event in watched.events())

    # No credential travels with the task or lands in the job folder.
    for path in job.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path


def test_skypilot_gpu_task_takes_its_processes_from_the_accelerators(
    client: ftsdk.Client,
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    home: Path,
    sky_env: dict[str, str],
) -> None:
    options = _options(cloud="aws/us-east-1", accelerators="A100:4")
    # Offline, SkyPilot cannot download its GPU catalog; with a network, it finds no cloud.
    with pytest.raises(FtsdkError, match=r"no network|no cloud") as err:
        client.train(_spec(tiny_model, dates[0], options))
    assert err.value.code in ("skypilot_offline", "no_cloud")
    [task_file] = home.rglob("sky.yaml")
    seen = _sky_reads(sky_env[PYTHON_ENV_VAR], task_file)
    assert (seen["cloud"], seen["region"]) == ("AWS", "us-east-1")
    assert seen["accelerators"] == {"A100": 4}
    assert "-m ftsdk_trl.engines.ranks . --num-processes 4" in seen["run"]


@pytest.mark.usefixtures("sky_env")
def test_skypilot_refuses_a_batch_that_does_not_split_over_the_vms_gpus(
    client: ftsdk.Client,
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    home: Path,
) -> None:
    # 8 examples per step over the 3 GPUs of the VM (this machine has none): refused
    # before anything is launched, and the job says why.
    with pytest.raises(InvalidRequest, match="batch_size") as err:
        client.train(_spec(tiny_model, dates[0], _options(accelerators="L4:3")))
    assert err.value.field == "method.batch_size"
    assert not list(home.rglob("sky.yaml"))
    [job] = client.jobs()
    assert job.status == "failed"


@pytest.mark.usefixtures("sky_env")
@pytest.mark.parametrize(
    "case",
    [
        ({"accelerators": "A100:two"}, "provider_options.skypilot.accelerators", "<name>:<cnt>"),
        ({"cloud": "nocloud"}, "provider_options.skypilot.cloud", "not a valid cloud"),
        ({"cpus": "lots"}, "provider_options.skypilot.cpus", "number"),
        ({"memory": "-3"}, "provider_options.skypilot.memory", "positive"),
    ],
)
def test_skypilot_refuses_bad_resources_naming_the_field(
    client: ftsdk.Client,
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    home: Path,
    case: tuple[dict[str, Any], str, str],
) -> None:
    skypilot, field, says = case
    with pytest.raises(InvalidRequest, match=f"{field}: SkyPilot refused it: .*{says}") as err:
        client.train(_spec(tiny_model, dates[0], _options(**skypilot)))
    assert err.value.field == field
    assert not list(home.rglob("spec.json")), "refused before the job's folder is made"


@pytest.mark.parametrize(
    "case",
    [
        ({"storage": None}, "provider_options.skypilot.storage", "needs a bucket"),
        ({"storage": "/tmp/here"}, "provider_options.skypilot.storage", "a bucket URL"),
        ({"storage": "ftp://host/x"}, "provider_options.skypilot.storage", "a bucket URL"),
        ({"disk_size": 0}, "provider_options.skypilot.disk_size", "greater than 0"),
        ({"accelerator": "A100"}, "provider_options.skypilot.accelerator", "xtra"),
    ],
)
def test_skypilot_refuses_bad_options_before_asking_skypilot(
    client: ftsdk.Client,
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    case: tuple[dict[str, Any], str, str],
) -> None:
    skypilot, field, says = case
    with pytest.raises(InvalidRequest, match=says) as err:
        client.check(_spec(tiny_model, dates[0], _options(**skypilot)))
    assert err.value.field == field
