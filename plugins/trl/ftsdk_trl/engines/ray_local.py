"""A Ray head on this machine for tests and benchmarks of the ray engine::

    with local_ray_head(num_cpus=2) as head:
        client.train(..., provider_options={"engine": "ray", "ray": {"address": head.url}})

It runs ``ray start --head`` from this interpreter's environment (so the cluster's
``python`` is this one) with a fresh ``HOME`` (Ray writes ``~/.ray``) and temp folder (short:
Ray's sockets must fit the Unix path limit), every port a free one (other heads on the
machine do not collide) and the dashboard on 127.0.0.1. Ray still registers the node under
the machine's address and its GCS and raylet listen on every interface
(``--node-ip-address 127.0.0.1`` is ignored). On leaving, every process of the head is
killed by PID: those whose environment carries the head's marker, or that hold a file in
its temp folder (Ray's agents write their process title over their environment); never
``ray stop``, which kills every Ray on the machine by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]

__all__ = ["LocalRayHead", "local_ray_head"]

MARKER = "FTSDK_LOCAL_RAY_HEAD"
"""Set in the head's environment: every process of the cluster inherits it."""


@dataclass(frozen=True)
class LocalRayHead:
    """A running head: its dashboard URL (the Jobs API) and Ray Client address."""

    url: str
    """``http://127.0.0.1:<port>``, the ray engine's ``address``."""
    client_address: str
    """``ray://127.0.0.1:<port>``, also an ``address`` the ray engine takes."""


@contextlib.contextmanager
def local_ray_head(*, num_cpus: int = 2, timeout: float = 120.0) -> Iterator[LocalRayHead]:
    """Start a Ray head with ``num_cpus`` CPUs, wait for its Jobs API, and kill it on
    leaving.

    :raises RuntimeError: ``ray start`` failed, or the Jobs API did not answer within
        ``timeout`` seconds (the head is killed first); or processes of the head outlived
        SIGKILL.
    """
    root = Path(tempfile.mkdtemp(prefix="ftray"))
    marker = uuid.uuid4().hex
    bin_dir = Path(sys.executable).parent
    env = {name: value for name, value in os.environ.items() if name not in ("RAY_ADDRESS",)} | {
        "HOME": str(root / "home"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "RAY_USAGE_STATS_ENABLED": "0",
        MARKER: marker,
    }
    (root / "home").mkdir()
    ports = {
        flag: _free_port()
        for flag in (
            "--dashboard-port",
            "--ray-client-server-port",
            "--dashboard-agent-listen-port",
            "--dashboard-agent-grpc-port",
            "--metrics-export-port",
            "--runtime-env-agent-port",
        )
    }
    command = [
        str(bin_dir / "ray"),
        "start",
        "--head",
        "--port=0",
        "--dashboard-host=127.0.0.1",
        f"--num-cpus={num_cpus}",
        "--disable-usage-stats",
        f"--temp-dir={root / 't'}",
        *(f"{flag}={port}" for flag, port in ports.items()),
    ]
    url = f"http://127.0.0.1:{ports['--dashboard-port']}"
    try:
        started = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if started.returncode != 0:
            raise RuntimeError(f"ray start failed:\n{started.stdout}{started.stderr}")
        _wait_for_jobs_api(url, timeout)
        yield LocalRayHead(url, f"ray://127.0.0.1:{ports['--ray-client-server-port']}")
    finally:
        left = _kill(marker, root)
        shutil.rmtree(root, ignore_errors=True)
        if left:
            raise RuntimeError(f"processes of the Ray head outlived SIGKILL: {left}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_jobs_api(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/api/jobs/", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Ray dashboard at {url} did not answer in {timeout:.0f}s")
        time.sleep(0.3)


def _processes(marker: str, root: Path) -> list[psutil.Process]:
    """This user's processes of the head (this process never)."""
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(MARKER) == marker or _holds_file_under(proc.pid, root):
                found.append(proc)
        except (psutil.Error, OSError):
            continue  # ended, or another user's
    return found


def _holds_file_under(pid: int, root: Path) -> bool:
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).startswith(f"{root}{os.sep}"):
                return True
    return False


def _kill(marker: str, root: Path) -> list[int]:
    """SIGKILL every process of the head (Ray's daemons ignore SIGTERM for seconds), again
    until none is seen for a second (a raylet killed last may have started an agent);
    the pids still there after 30 s."""
    quiet_since = time.monotonic()
    deadline = quiet_since + 30
    while time.monotonic() < deadline:
        found = _processes(marker, root)
        if found:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.0:
            return []
        for proc in found:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(found, timeout=5)
        time.sleep(0.2)
    return [proc.pid for proc in _processes(marker, root)]
