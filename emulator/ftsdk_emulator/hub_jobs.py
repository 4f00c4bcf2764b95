"""Hugging Face Jobs on the emulated Hub: the routes ``huggingface_hub``'s ``run_job``,
``inspect_job``, ``list_jobs``, ``fetch_job_logs``, ``cancel_job`` and ``list_jobs_hardware``
call, answered as the service answers them (checked against huggingface_hub 2.4's client).

A job's command runs as a real local subprocess, standing in for the container: the image is
**not** pulled; this Python environment (its ``bin`` folder first on ``PATH``) is the image.
The process gets a small environment of its own, as a container would (``PATH``, ``HOME``
set to a fresh folder, the job's ``environment`` and ``secrets``), its output (stdout and
stderr, line by line) is the job's log, and it moves through the stages the service
reports: ``RUNNING``, then ``COMPLETED`` (exit 0), ``ERROR`` (another exit code, or
``timeoutSeconds`` passed: its process group is killed) or ``CANCELED`` (``POST .../cancel``
kills its process group). Secret values are kept out of every answer and of the request log.

The logs route streams server-sent events as the service does: ``data: {"timestamp", "data"}``
lines, a ``===== Job started ...`` line first, the history then what the job prints next, a
keep-alive comment while it is quiet, and the end of the stream once the job has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["HARDWARE", "HubJob", "HubJobs", "TERMINAL_STAGES"]

TERMINAL_STAGES = frozenset({"COMPLETED", "CANCELED", "ERROR", "DELETED"})
"""Stages a job never leaves (huggingface_hub's ``TERMINAL_JOB_STAGES``)."""

HARDWARE: list[dict[str, Any]] = [
    {
        "name": "cpu-basic",
        "prettyName": "CPU Basic",
        "cpu": "2 vCPU",
        "ram": "16 GB",
        "ephemeralStorage": "50 GB",
        "accelerator": None,
        "unitCostMicroUSD": 167,
        "unitCostUSD": 0.000167,
        "unitLabel": "minute",
    },
    {
        "name": "a10g-small",
        "prettyName": "Nvidia A10G - small",
        "cpu": "4 vCPU",
        "ram": "15 GB",
        "accelerator": {
            "type": "gpu",
            "model": "A10G",
            "quantity": "1",
            "vram": "24 GB",
            "manufacturer": "Nvidia",
        },
        "ephemeralStorage": "110 GB",
        "unitCostMicroUSD": 16667,
        "unitCostUSD": 0.016667,
        "unitLabel": "minute",
    },
]
"""What ``GET /api/jobs/hardware`` lists (two of the service's flavors, its field names)."""

KEEP_ALIVE_S = 30.0
"""Seconds between ``: keep-alive`` comments on a quiet log stream, as the service sends."""

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class HubJob:
    """One job on the emulated service."""

    id: str
    namespace: str
    spec: dict[str, Any]
    """What ``POST /api/jobs/{ns}`` sent, the secret values left out."""
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    stage: str = "RUNNING"
    message: str | None = None
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    lines: list[tuple[str, str]] = field(default_factory=list, repr=False)
    """The log: ``(timestamp, text)``, oldest first."""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    exit_code: int | None = None

    @property
    def labels(self) -> dict[str, str]:
        """The job's labels (``name`` among them when given)."""
        labels = self.spec.get("labels") or {}
        return {str(k): str(v) for k, v in labels.items()}

    def info(self, owner: str) -> dict[str, Any]:
        """The job as the service's JSON shows it (``JobInfo`` reads it)."""
        return {
            "id": self.id,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "dockerImage": self.spec.get("dockerImage"),
            "spaceId": self.spec.get("spaceId"),
            "owner": {"id": f"id-{self.namespace}", "name": self.namespace, "type": "user"},
            "command": self.spec.get("command") or [],
            "arguments": self.spec.get("arguments") or [],
            "environment": self.spec.get("environment") or {},
            # the names only: a secret's value never leaves the service
            "secrets": dict.fromkeys(self.secrets),
            "flavor": self.spec.get("flavor") or "cpu-basic",
            "labels": self.labels,
            "status": {"stage": self.stage, "message": self.message},
            "initiator": {"type": "user", "id": f"id-{owner}", "name": owner},
        }


class HubJobs:
    """The Jobs part of :class:`~ftsdk_emulator.hub.HubEmulator` (``hub.jobs``).

    :param record: the emulator's request check: records the request, returns the 401 to
        answer when it lacks the token.
    :param user: the token's account, the namespace jobs run under by default.
    """

    def __init__(
        self,
        record: Callable[[Request, Any], Coroutine[Any, Any, Response | None]],
        *,
        user: str,
    ) -> None:
        self._record = record
        self.user = user
        self.jobs: dict[str, HubJob] = {}
        """Every job by id, oldest first."""
        self.bin = str(Path(sys.executable).parent)
        """The folder first on a job's ``PATH``: this Python environment stands in for the
        image (so ``python`` is this interpreter)."""
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._workdir: Path | None = None
        """Where each job gets a fresh folder (its ``HOME`` and working directory)."""

    def routes(self) -> list[Route]:
        """The Jobs routes, to mount before the Hub's catch-all."""
        one = "/api/jobs/{ns}/{job_id}"
        return [
            Route("/api/jobs/hardware", self._hardware, methods=["GET"]),
            Route("/api/jobs/{ns}", self._create, methods=["POST"]),
            Route("/api/jobs/{ns}", self._list, methods=["GET"]),
            Route(one + "/cancel", self._cancel, methods=["POST"]),
            Route(one + "/logs", self._logs, methods=["GET"]),
            Route(one, self._inspect, methods=["GET"]),
        ]

    # -- the jobs themselves -----------------------------------------------------------
    def job(self, job_id: str) -> HubJob:
        """Job ``job_id`` (``KeyError`` when there is none)."""
        return self.jobs[job_id]

    def log_text(self, job_id: str) -> str:
        """The whole log of job ``job_id``, one line per log line."""
        with self._lock:
            return "".join(text + "\n" for _, text in self.jobs[job_id].lines)

    def wait(self, job_id: str, timeout: float = 60.0) -> HubJob:
        """Wait for job ``job_id`` to end, its process reaped; return it (``TimeoutError``
        after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            job = self.jobs[job_id]
            while job.stage not in TERMINAL_STAGES or (
                job.process is not None and job.exit_code is None
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"job {job_id} still {job.stage} after {timeout}s")
                self._changed.wait(left)
            return job

    def stop_all(self) -> None:
        """Kill every job still running (the emulator is stopping) and forget the folders."""
        with self._lock:
            running = [job for job in self.jobs.values() if job.stage not in TERMINAL_STAGES]
        for job in running:
            self._end(job, "CANCELED", "the emulated Hub stopped")
        if self._workdir is not None:
            import shutil

            shutil.rmtree(self._workdir, ignore_errors=True)

    def _start(self, job: HubJob) -> None:
        """Run the job's command as the container would."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="ftsdk-hub-jobs-"))
        folder = self._workdir / job.id
        folder.mkdir()
        env = {
            "PATH": self.bin + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(folder),
            "LANG": "C.UTF-8",
            "JOB_ID": job.id,
            **{str(k): str(v) for k, v in (job.spec.get("environment") or {}).items()},
            **job.secrets,
        }
        command = [*job.spec.get("command", []), *job.spec.get("arguments", [])]
        job.lines.append((_now(), f"===== Job started at {_now()} ====="))
        try:
            job.process = subprocess.Popen(
                [str(part) for part in command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=folder,
                env=env,
                start_new_session=True,  # its own group: cancel and timeout kill all of it
            )
        except OSError as err:  # no such program in the "image"
            job.lines.append((_now(), f"exec failed: {err}"))
            job.stage, job.message, job.finished_at = "ERROR", str(err), _now()
            return
        job.started_at = _now()
        threading.Thread(target=self._read, args=(job,), daemon=True).start()
        timeout = job.spec.get("timeoutSeconds")
        if timeout:
            timer = threading.Timer(
                float(timeout), self._end, (job, "ERROR", f"Job timed out after {timeout}s")
            )
            timer.daemon = True
            timer.start()

    def _read(self, job: HubJob) -> None:
        """Copy the process's output into the log, then record how it ended."""
        process = job.process
        assert process is not None
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._changed:
                job.lines.append((_now(), text))
                self._changed.notify_all()
        code = process.wait()
        with self._changed:
            job.exit_code = code
            if job.stage not in TERMINAL_STAGES:
                job.stage = "COMPLETED" if code == 0 else "ERROR"
                job.message = None if code == 0 else f"Job failed with exit code: {code}"
                job.finished_at = _now()
            self._changed.notify_all()

    def _end(self, job: HubJob, stage: str, message: str) -> None:
        """Kill the job's process group and mark it ``stage``; returns once it is gone."""
        with self._changed:
            if job.stage in TERMINAL_STAGES:
                return
            job.stage, job.message, job.finished_at = stage, message, _now()
            self._changed.notify_all()
        process = job.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        # a stopped container leaves nothing behind: whatever of the group is left goes
        deadline = time.monotonic() + 5
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
            while time.monotonic() < deadline:
                os.killpg(process.pid, 0)
                time.sleep(0.05)
        process.wait()

    # -- routes ------------------------------------------------------------------------
    def _find(self, request: Request) -> HubJob | None:
        job = self.jobs.get(request.path_params["job_id"])
        return job if job is not None and job.namespace == request.path_params["ns"] else None

    async def _hardware(self, request: Request) -> Response:
        return await self._record(request, None) or JSONResponse(HARDWARE)

    async def _create(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        spec = {k: v for k, v in body.items() if k != "secrets"} if isinstance(body, dict) else {}
        shown = {**spec, "secrets": dict.fromkeys((body or {}).get("secrets") or {})}
        if (denied := await self._record(request, shown)) is not None:
            return denied
        if request.path_params["ns"] != self.user:
            return _error(403, f"you cannot run jobs in {request.path_params['ns']}")
        command = spec.get("command")
        if not (spec.get("dockerImage") or spec.get("spaceId")):
            return _error(400, "dockerImage or spaceId is required")
        if not isinstance(command, list) or not command:
            return _error(400, "command must be a non-empty list of strings")
        job = HubJob(
            id=secrets.token_hex(12),
            namespace=request.path_params["ns"],
            spec=spec,
            secrets={str(k): str(v) for k, v in (body.get("secrets") or {}).items()},
        )
        with self._lock:
            self.jobs[job.id] = job
        await asyncio.to_thread(self._start, job)
        return JSONResponse(job.info(self.user))

    async def _list(self, request: Request) -> Response:
        if (denied := await self._record(request, None)) is not None:
            return denied
        stages = {s.upper() for s in request.query_params.getlist("stage")}
        wanted = [tuple(x.split("=", 1)) for x in request.query_params.getlist("label")]
        with self._lock:
            found = [
                job.info(self.user)
                for job in self.jobs.values()
                if job.namespace == request.path_params["ns"]
                and (not stages or job.stage in stages)
                and all(len(w) == 2 and job.labels.get(w[0]) == w[1] for w in wanted)
            ]
        return JSONResponse(found)

    async def _inspect(self, request: Request) -> Response:
        if (denied := await self._record(request, None)) is not None:
            return denied
        job = self._find(request)
        if job is None:
            return _error(404, "Job not found")
        with self._lock:
            return JSONResponse(job.info(self.user))

    async def _cancel(self, request: Request) -> Response:
        if (denied := await self._record(request, None)) is not None:
            return denied
        job = self._find(request)
        if job is None:
            return _error(404, "Job not found")
        await asyncio.to_thread(self._end, job, "CANCELED", "Job canceled by user")
        return JSONResponse({})

    async def _logs(self, request: Request) -> Response:
        if (denied := await self._record(request, None)) is not None:
            return denied
        job = self._find(request)
        if job is None:
            return _error(404, "Job not found")
        tail = request.query_params.get("tail")
        with self._lock:
            start = max(0, len(job.lines) - int(tail)) if tail and tail.isdigit() else 0
        return StreamingResponse(self._stream(job, start), media_type="text/event-stream")

    async def _stream(self, job: HubJob, start: int) -> AsyncIterator[bytes]:
        """The log from line ``start``, then each new line, until the job has ended."""
        sent, quiet_since = start, time.monotonic()
        while True:
            with self._lock:
                new, ended = job.lines[sent:], job.stage in TERMINAL_STAGES
            for stamp, text in new:
                yield f"data: {json.dumps({'timestamp': stamp, 'data': text})}\n\n".encode()
            sent += len(new)
            if new:
                quiet_since = time.monotonic()
            elif ended:
                return
            elif time.monotonic() - quiet_since >= KEEP_ALIVE_S:
                quiet_since = time.monotonic()
                yield b": keep-alive\n\n"
            await asyncio.sleep(0.05)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
