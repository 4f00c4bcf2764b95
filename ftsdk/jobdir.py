"""A local job's folder: the only place its state lives, read by any process.

Shared by the local providers (TRL, AutoTrain): the layout below is TRL's; other
providers use the parts they need (status, events, metrics, process, log)::

    <home>/<provider>/jobs/<job_id>/
        spec.json        the resolved job (what the runner trains), written once
        status.json      status, step, error...; replaced atomically (temp + os.replace)
        events.jsonl     one event a line, appended; an event's id is its line number
        metrics.jsonl    one step's metrics a line, appended (a resumed run may repeat steps)
        process.json     pid and start time of the runner (a reused pid is never the job)
        control          "pause" when a pause was asked for
        checkpoints/     the trainer's checkpoint-<step>/ folders
        model/           the result: full weights or the adapter; merged/ when asked
        train.jsonl      the training data, copied in (a job resumes without the original)
        log              the runner's stdout and stderr

Beside the folder itself, the machinery every local provider needs and none should write
twice: :meth:`JobDir.start_runner` (a detached runner whose output goes to the log),
:meth:`JobDir.check_runner` (a job whose runner died unfinished becomes ``failed`` with the
end of its log), :meth:`JobDir.job_state`, :meth:`JobDir.job_events` and
:meth:`JobDir.job_metrics` (the folder as the core's types), :func:`newest_first` and
:func:`stop_process`.

Imports nothing heavy: the provider reads job folders from the user's process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from ftsdk.errors import NotFound
from ftsdk.jobs import JobError, JobEvent, JobState, JobStatus, Metric

__all__ = [
    "JobDir",
    "JobStore",
    "append_jsonl",
    "newest_first",
    "now_iso",
    "read_jsonl",
    "stop_process",
    "write_json_atomic",
]

LOG_TAIL_BYTES = 4000
STARTING_GRACE_S = 30.0
"""How long a job may show no runner process while it is being started."""
_STATUSES = frozenset(status.value for status in JobStatus)


def now_iso() -> str:
    """The current UTC time as ISO 8601."""
    return datetime.now(UTC).isoformat()


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` so a reader sees the old or the new file, whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line; one ``write`` of an ``O_APPEND`` file, so lines never interleave."""
    line = (json.dumps(row, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete line of ``path`` (a last line being written is left out)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    rows = []
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            rows.append({})  # keeps line numbers (event ids) stable
    return rows


class JobDir:
    """The files of one job. Every method reads or writes the disk; nothing is cached."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def id(self) -> str:
        """The job id: the folder's name."""
        return self.path.name

    @property
    def spec_file(self) -> Path:
        return self.path / "spec.json"

    @property
    def status_file(self) -> Path:
        return self.path / "status.json"

    @property
    def events_file(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def process_file(self) -> Path:
        return self.path / "process.json"

    @property
    def control_file(self) -> Path:
        return self.path / "control"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def merged_dir(self) -> Path:
        return self.path / "merged"

    @property
    def log_file(self) -> Path:
        return self.path / "log"

    # -- spec and status -------------------------------------------------------------
    def read_spec(self) -> dict[str, Any]:
        """The resolved job, as the provider wrote it."""
        spec: dict[str, Any] = json.loads(self.spec_file.read_text(encoding="utf-8"))
        return spec

    def read_status(self) -> dict[str, Any]:
        """The last status written."""
        status: dict[str, Any] = json.loads(self.status_file.read_text(encoding="utf-8"))
        return status

    def update_status(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into status.json (atomically) and return the new status."""
        try:
            status = self.read_status()
        except FileNotFoundError:
            status = {}
        status.update(changes)
        status["updated_at"] = now_iso()
        write_json_atomic(self.status_file, status)
        return status

    # -- events and metrics ----------------------------------------------------------
    def add_event(
        self,
        message: str,
        *,
        level: str = "info",
        step: int | None = None,
        metrics: dict[str, float] | None = None,
    ) -> None:
        """Append an event (a metrics event when ``metrics`` is given)."""
        row: dict[str, Any] = {"created_at": now_iso(), "level": level, "message": message}
        if step is not None:
            row["step"] = step
        if metrics:
            row["type"] = "metrics"
            row["metrics"] = metrics
        append_jsonl(self.events_file, row)

    def add_metrics(self, step: int, values: dict[str, float]) -> None:
        """Append one step's metrics."""
        append_jsonl(self.metrics_file, {"step": step, "values": values, "created_at": now_iso()})

    def events(self) -> list[dict[str, Any]]:
        """Every event, oldest first."""
        return read_jsonl(self.events_file)

    def metrics(self) -> list[dict[str, Any]]:
        """One row per step: the values of every row written for that step, merged, a later
        value winning (a training and an evaluation row share a step; a resumed run writes
        a step again)."""
        by_step: dict[int, dict[str, Any]] = {}
        for row in read_jsonl(self.metrics_file):
            if "step" not in row:
                continue
            step = int(row["step"])
            earlier = by_step.get(step)
            by_step[step] = (
                row
                if earlier is None
                else earlier | row | {"values": earlier["values"] | row["values"]}
            )
        return [by_step[step] for step in sorted(by_step)]

    # -- checkpoints -----------------------------------------------------------------
    def checkpoints(self) -> list[tuple[int, Path]]:
        """Complete checkpoints (trainer_state.json is written last), by step."""
        found = []
        for folder in self.checkpoints_dir.glob("checkpoint-*"):
            suffix = folder.name.removeprefix("checkpoint-")
            if suffix.isdigit() and (folder / "trainer_state.json").is_file():
                found.append((int(suffix), folder))
        return sorted(found)

    def last_checkpoint(self) -> Path | None:
        """The newest complete checkpoint, if any."""
        found = self.checkpoints()
        return found[-1][1] if found else None

    # -- control ---------------------------------------------------------------------
    def request(self, what: str) -> None:
        """Ask the runner for something (``"pause"``); it reads this at every step."""
        self.control_file.write_text(what + "\n", encoding="utf-8")

    def requested(self) -> str | None:
        """What was asked of the runner, if anything."""
        try:
            return self.control_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def clear_request(self) -> None:
        """Forget the last request (a resumed run must not pause at once)."""
        self.control_file.unlink(missing_ok=True)

    # -- the process -----------------------------------------------------------------
    def record_process(self, pid: int) -> None:
        """Remember the runner's pid with its start time."""
        try:
            started = psutil.Process(pid).create_time()
        except psutil.Error:
            started = None
        write_json_atomic(self.process_file, {"pid": pid, "create_time": started})

    def process(self) -> Any:
        """The runner's ``psutil.Process`` while it runs, else ``None`` (a reused pid whose
        start time differs is not the runner)."""
        try:
            info = json.loads(self.process_file.read_text(encoding="utf-8"))
            proc = psutil.Process(int(info["pid"]))
            started = info.get("create_time")
            if started is not None and abs(proc.create_time() - float(started)) > 0.01:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
        except (FileNotFoundError, ValueError, KeyError, psutil.Error):
            return None
        return proc

    def log_tail(self, limit: int = LOG_TAIL_BYTES) -> str:
        """The end of the runner's log."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                log.seek(max(0, size - limit))
                tail: bytes = log.read()
        except FileNotFoundError:
            return ""
        return tail.decode("utf-8", "replace").strip()

    # -- the runner ------------------------------------------------------------------
    def start_runner(
        self, command: Sequence[str], env: Mapping[str, str]
    ) -> subprocess.Popen[bytes]:
        """Start ``command`` detached in the job folder (its own session, so it outlives the
        caller and :func:`stop_process` reaches its children), output appended to the log
        after a header line, and record its pid. The caller keeps the ``Popen`` to reap it."""
        with self.log_file.open("ab") as log:
            log.write(f"--- {now_iso()} {' '.join(command)}\n".encode())
            log.flush()
            child = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.path,
                env=dict(env),
                start_new_session=True,
            )
        self.record_process(child.pid)
        return child

    def runner_alive(self, status: Mapping[str, Any]) -> bool:
        """Whether the runner runs, or may be starting (no pid recorded yet, status
        written less than :data:`STARTING_GRACE_S` ago)."""
        if self.process() is not None:
            return True
        if self.process_file.is_file():
            return False
        updated = status.get("updated_at")
        return bool(
            updated and time.time() - datetime.fromisoformat(updated).timestamp() < STARTING_GRACE_S
        )

    def check_runner(self, status: dict[str, Any], runner: str) -> dict[str, Any]:
        """``status``, or, when it says ``queued``/``running`` but the runner is gone,
        the status rewritten as ``failed`` (code ``process_died``) with the end of the log
        and an error event. ``runner`` names it in the message ("the training process")."""
        if status.get("status") not in ("queued", "running") or self.runner_alive(status):
            return status
        status = self.read_status()  # it may have finished between the two reads
        if status.get("status") not in ("queued", "running"):
            return status
        tail = self.log_tail()
        self.add_event(f"{runner} died without finishing", level="error")
        return self.update_status(
            status="failed",
            raw_status="process_died",
            finished_at=now_iso(),
            error={
                "message": f"{runner} ended without finishing"
                + (f"; end of its log:\n{tail}" if tail else ""),
                "code": "process_died",
            },
        )

    # -- as the core's types ---------------------------------------------------------
    def job_state(self, provider: str, status: Mapping[str, Any] | None = None) -> JobState:
        """The job as a :class:`~ftsdk.jobs.JobState` of ``provider``, from ``status`` (read
        from disk when ``None``); an unknown status word reads as ``running``."""
        status = self.read_status() if status is None else status
        error = status.get("error")
        word = status.get("status", "queued")
        return JobState(
            id=self.id,
            provider=provider,
            status=JobStatus(word if word in _STATUSES else "running"),
            raw_status=status.get("raw_status", word),
            base_model=status.get("base_model"),
            method=status.get("method"),
            created_at=status.get("created_at"),
            started_at=status.get("started_at"),
            finished_at=status.get("finished_at"),
            trained_tokens=status.get("trained_tokens"),
            step=status.get("step"),
            total_steps=status.get("total_steps"),
            error=JobError(**error) if error else None,
            result_model=status.get("result_model"),
            metadata=status.get("metadata") or {},
        )

    def job_events(self, after: str | None = None) -> list[JobEvent]:
        """Events after the event ``after``, oldest first (an event's id is its line
        number, so ids stay stable while the runner appends)."""
        start = int(after) if after else 0
        return [
            JobEvent(
                id=str(number),
                created_at=row["created_at"],
                level=row.get("level", "info"),
                message=row["message"],
                type=row.get("type", "message"),
                step=row.get("step"),
                metrics=row.get("metrics") or {},
            )
            for number, row in enumerate(self.events(), start=1)
            if number > start and "message" in row
        ]

    def job_metrics(self) -> list[Metric]:
        """One :class:`~ftsdk.jobs.Metric` per logged step."""
        return [
            Metric(step=row["step"], values=row["values"], created_at=row.get("created_at"))
            for row in self.metrics()
        ]


class JobStore:
    """The job folders of one local provider, ``<home>/<provider>/jobs/<job id>``, the
    idempotency keys of the jobs it created, ``<home>/<provider>/keys/<key>`` (a retried
    ``create_job`` finds its job instead of starting a second), and the runners this
    process started (kept to be reaped: no zombie left for psutil to mistake for a runner).

    >>> import tempfile
    >>> store = JobStore(Path(tempfile.mkdtemp()), "trl", prefix="trljob")
    >>> job = store.create()
    >>> store.remember("key-1", job); store.for_key("key-1") == job.id
    True
    >>> _ = job.update_status(status="queued")  # a job is found once it has a status
    >>> [found.id for found in store.folders()] == [store.get(job.id).id] == [job.id]
    True
    """

    def __init__(self, home: Path, provider: str, *, prefix: str) -> None:
        self.provider, self.prefix = provider, prefix
        self.jobs_dir = home / provider / "jobs"
        self.keys_dir = home / provider / "keys"
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def get(self, job_id: str) -> JobDir:
        """The folder of job ``job_id``.

        :raises ftsdk.errors.NotFound: no such job here (or an id that is not a name).
        """
        job = JobDir(self.jobs_dir / job_id)
        if "/" in job_id or job_id.startswith(".") or not job.status_file.is_file():
            raise NotFound(
                f"no {self.provider} job {job_id!r} under {self.jobs_dir}", provider=self.provider
            )
        return job

    def create(self) -> JobDir:
        """A new, empty job folder: ``<prefix>-<UTC time>-<8 hex digits>``."""
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        job = JobDir(self.jobs_dir / f"{self.prefix}-{stamp}-{uuid.uuid4().hex[:8]}")
        job.path.mkdir(parents=True)
        return job

    def for_key(self, key: str) -> str | None:
        """The id of the job created for idempotency key ``key``, if any."""
        try:
            return (self.keys_dir / key).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def remember(self, key: str, job: JobDir) -> None:
        """Record that ``job`` was created for idempotency key ``key``."""
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        (self.keys_dir / key).write_text(job.id, encoding="utf-8")

    def start(self, job: JobDir, command: Sequence[str], env: Mapping[str, str]) -> None:
        """Start ``job``'s runner (:meth:`JobDir.start_runner`) and keep it to be reaped."""
        self._children[job.id] = job.start_runner(command, env)

    def poll(self, job: JobDir) -> None:
        """Reap ``job``'s runner if this process started it and it has ended."""
        child = self._children.get(job.id)
        if child is not None and child.poll() is not None:
            self._children.pop(job.id, None)

    def reap(self, job: JobDir, timeout: float = 10.0) -> None:
        """Wait (at most ``timeout`` seconds) for the runner this process started to end."""
        child = self._children.pop(job.id, None)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=timeout)

    def forget(self) -> None:
        """Forget the runners started here (they keep running: jobs outlive the client)."""
        self._children.clear()

    def folders(self) -> list[JobDir]:
        """Every job folder with a status (a folder being created has none yet)."""
        if not self.jobs_dir.is_dir():
            return []
        return [JobDir(f) for f in self.jobs_dir.iterdir() if (f / "status.json").is_file()]


def newest_first(states: Iterable[JobState], limit: int) -> list[JobState]:
    """At most ``limit`` jobs, the newest first (jobs without a creation time last)."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(states, key=lambda state: state.created_at or oldest, reverse=True)[:limit]


def stop_process(proc: Any, grace: float = 5.0) -> None:
    """SIGTERM the process group of ``proc`` (a ``psutil.Process`` or ``None``), SIGKILL
    it after ``grace`` seconds; returns once ``proc`` and its children have ended."""
    if proc is None:
        return
    try:
        family = [proc, *proc.children(recursive=True)]  # data loaders, accelerate workers
        pgid = os.getpgid(proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        _, alive = psutil.wait_procs(family, timeout=grace)
        if alive:
            os.killpg(pgid, signal.SIGKILL)
            psutil.wait_procs(alive, timeout=grace)
    except (ProcessLookupError, psutil.Error):
        pass
