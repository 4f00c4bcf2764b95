"""A local job's folder: the only place its state lives, read by any process.

Shared by the local providers (TRL, AutoTrain): the layout below is TRL's; other
providers use the parts they need (status, events, metrics, process, log)::

    <home>/<provider>/jobs/<job_id>/
        spec.json        the resolved job (what the runner trains), written once
        status.json      status, step, error...; replaced atomically (temp + os.replace)
        events.jsonl     one event a line, appended; an event's id is its line number
        metrics.jsonl    one step's metrics a line, appended (a resumed run may repeat steps)
        process.json     pid and start time of the runner (a reused pid is never the job)
        lock             locked (flock) by whoever rewrites status.json or starts a runner
        control          "pause" when a pause was asked for
        checkpoints/     the trainer's checkpoint-<step>/ folders
        model/           the result: full weights or the adapter; merged/ when asked
        train.jsonl      the training data, copied in (a job resumes without the original)
        log              the runner's stdout and stderr

Beside the folder itself, the machinery every local provider needs and none should write
twice: :meth:`JobDir.start_runner` (a detached runner whose output goes to the log),
:meth:`JobDir.check_runner` (a job whose runner died unfinished becomes ``failed`` with the
end of its log), :meth:`JobDir.locked` (one writer at a time: a status is read, decided on
and written under the job's lock), :meth:`JobDir.job_state`, :meth:`JobDir.job_events` and
:meth:`JobDir.job_metrics` (the folder as the core's types), :func:`runner_env` (the
environment without credentials), :func:`newest_first`, :func:`stop_process` and
:func:`visible_gpus` (how many processes a local run spreads over).

A folder someone damaged (status.json that is not a JSON object, a line of events.jsonl
that is not an event) never breaks the other jobs: its job reads as ``failed`` with raw
status ``damaged`` and an error naming the file (:class:`DamagedJob` where an operation
needs the file), a damaged event line reads as an error event, a damaged metrics row is
left out.

Imports nothing heavy: the provider reads job folders from the user's process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from pydantic import ValidationError

from ftsdk.errors import ConfigurationError, InvalidRequest, NotFound
from ftsdk.home import make_folder
from ftsdk.jobs import JobError, JobEvent, JobState, JobStatus, Metric

__all__ = [
    "local_folder",
    "DamagedJob",
    "JobDir",
    "JobStore",
    "append_jsonl",
    "newest_first",
    "now_iso",
    "read_jsonl",
    "runner_env",
    "stop_process",
    "visible_gpus",
    "write_json_atomic",
]

log = logging.getLogger("ftsdk.jobdir")

LOG_TAIL_BYTES = 4000
STARTING_GRACE_S = 30.0
"""How long a job may show no runner process while it is being started."""
_STATUSES = frozenset(status.value for status in JobStatus)
MAX_NAME_BYTES = 255
"""The longest file name (in UTF-8 bytes) most file systems take: a longer id is no job's."""
_SECRET_WORDS = frozenset(
    {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "KEY", "APIKEY", "CREDENTIAL",
     "CREDENTIALS", "AUTH", "CERTIFICATE", "COOKIE"}
)  # fmt: skip
_SECRET_PREFIXES = ("OPENAI_", "AZURE_")  # other providers' settings: no runner needs them


class DamagedJob(InvalidRequest):
    """A file of a job folder holds something no ftsdk process wrote (it was truncated,
    edited, or overwritten): the job cannot be read or changed until it is repaired or
    removed. ``code`` is ``"damaged_job"``; ``path`` is the damaged file."""

    def __init__(self, message: str, *, path: Path, **kwargs: Any) -> None:
        kwargs.setdefault("code", "damaged_job")
        super().__init__(message, **kwargs)
        self.path = path


class _Held(threading.local):
    """The job locks this thread holds, with how deep (so :meth:`JobDir.locked` nests)."""

    def __init__(self) -> None:
        self.depth: dict[str, int] = {}


_HELD = _Held()


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
    """Every complete line of ``path`` (a last line being written is left out); a line
    that is not a JSON object in UTF-8 reads as ``{}``, so line numbers (event ids) stay."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as err:  # a folder in its place, no permission
        raise DamagedJob(
            f"{path.name} of job {path.parent.name} cannot be read ({err.strerror or err}): {path}",
            path=path,
        ) from err
    rows: list[dict[str, Any]] = []
    for line in data.split(b"\n")[:-1]:  # the last piece has no newline yet
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            row = None
        rows.append(row if isinstance(row, dict) else {})
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

    @property
    def lock_file(self) -> Path:
        return self.path / "lock"

    # -- spec and status -------------------------------------------------------------
    def read_spec(self) -> dict[str, Any]:
        """The resolved job, as the provider wrote it.

        :raises DamagedJob: spec.json is missing, unreadable, or not a JSON object.
        """
        return self._read_object(self.spec_file, missing_ok=False)

    def read_status(self) -> dict[str, Any]:
        """The last status written.

        :raises FileNotFoundError: none yet (a folder being created).
        :raises DamagedJob: status.json is unreadable, not a JSON object, or not a status
            (an unknown status word, a field of the wrong type).
        """
        status = self._read_object(self.status_file, missing_ok=True)
        self._state_of("", status)  # what every reader will need: checked once, here
        return status

    def _read_object(self, path: Path, *, missing_ok: bool) -> dict[str, Any]:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            if missing_ok:
                raise
            raise self.damage(path, "is missing") from None
        except OSError as err:  # a folder in its place, no permission
            raise self.damage(path, f"cannot be read: {err.strerror or err}") from err
        try:
            found = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            why = "is empty" if not data.strip() else f"is not JSON ({err})"
            raise self.damage(path, why) from err
        if not isinstance(found, dict):
            raise self.damage(path, f"holds a JSON {type(found).__name__}, not an object")
        return found

    def damage(self, path: Path, why: str) -> DamagedJob:
        """The error saying ``path`` of this job is damaged, ``why``, and what to do."""
        return DamagedJob(
            f"job {self.id} is damaged: {path.name} {why} ({path}); restore the file, or "
            f"remove the folder {self.path} to forget the job",
            path=path,
        )

    def update_status(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into status.json (atomically, under the job's lock) and return
        the new status.

        :raises DamagedJob: status.json is damaged (it is left as it is, for a person).
        """
        with self.locked():
            try:
                status = self.read_status()
            except FileNotFoundError:
                status = {}
            status.update(changes)
            status["updated_at"] = now_iso()
            write_json_atomic(self.status_file, status)
            return status

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the job's lock while the block runs: a status read, decided on and written
        in the block is the status every other process sees next (nests in a thread; the
        lock goes with the process, so a killed holder never leaves it held).

        :raises NotFound: the job folder is gone.
        :raises ftsdk.errors.ConfigurationError: the job folder is not writable.
        """
        key = os.path.abspath(self.path)
        if key in _HELD.depth:  # this thread holds it already
            _HELD.depth[key] += 1
            try:
                yield
            finally:
                _HELD.depth[key] -= 1
            return
        try:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError as err:
            raise NotFound(f"the folder of job {self.id} is gone: {self.path}") from err
        except OSError as err:
            raise ConfigurationError(
                f"cannot lock job {self.id}: {self.lock_file} ({err.strerror or err}); the job "
                "folder must be writable by whoever changes the job (check FTSDK_HOME)"
            ) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _HELD.depth[key] = 1
            try:
                yield
            finally:
                del _HELD.depth[key]
        finally:
            os.close(fd)  # releases the lock

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
        a step again). A damaged row (no whole-number step, values that are not numbers)
        is left out, with a warning in the log."""
        by_step: dict[int, dict[str, Any]] = {}
        for number, row in enumerate(read_jsonl(self.metrics_file), start=1):
            values = row.get("values")
            if not _is_step(row.get("step")) or not _are_values(values):
                log.warning("job %s: line %d of metrics.jsonl is damaged", self.id, number)
                continue
            step: int = row["step"]
            earlier = by_step.get(step)
            by_step[step] = (
                row if earlier is None else earlier | row | {"values": earlier["values"] | values}
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
        except (OSError, ValueError, KeyError, TypeError, OverflowError, psutil.Error):
            return None  # no runner recorded, or a record no runner wrote
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
        try:
            updated = datetime.fromisoformat(status["updated_at"]).timestamp()
        except (KeyError, TypeError, ValueError):
            return False
        return time.time() - updated < STARTING_GRACE_S

    def check_runner(self, status: dict[str, Any], runner: str) -> dict[str, Any]:
        """``status``, or, when it says ``queued``/``running`` but the runner is gone,
        the status rewritten as ``failed`` (code ``process_died``) with the end of the log
        and an error event. ``runner`` names it in the message ("the training process").

        Decided and written under the job's lock: a runner being started (under the same
        lock, by a resume) is never taken for the dead one before it.

        :raises DamagedJob: status.json is damaged.
        """
        if status.get("status") not in ("queued", "running") or self.runner_alive(status):
            return status
        with self.locked():
            status = self.read_status()  # it may have ended, or been resumed, since
            if status.get("status") not in ("queued", "running") or self.runner_alive(status):
                return status
            return self._died(runner)

    def _died(self, runner: str) -> dict[str, Any]:
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
        from disk when ``None``); a status no ftsdk process wrote (an unknown status word, a
        field of the wrong type) reads as :meth:`damaged_state`.

        :raises DamagedJob: ``status`` is ``None`` and status.json is damaged.
        """
        status = self.read_status() if status is None else status
        try:
            return self._state_of(provider, status)
        except DamagedJob as damage:
            return self.damaged_state(provider, damage)

    def _state_of(self, provider: str, status: Mapping[str, Any]) -> JobState:
        word = status.get("status", "queued")
        if not isinstance(word, str) or word not in _STATUSES:
            known = ", ".join(sorted(_STATUSES))
            shown = repr(word)[:80]
            raise self.damage(self.status_file, f"says status {shown}, none of {known}")
        try:
            return JobState(
                id=self.id,
                provider=provider,
                status=JobStatus(word),
                raw_status=status.get("raw_status", word),
                base_model=status.get("base_model"),
                method=status.get("method"),
                created_at=status.get("created_at"),
                started_at=status.get("started_at"),
                finished_at=status.get("finished_at"),
                trained_tokens=status.get("trained_tokens"),
                step=status.get("step"),
                total_steps=status.get("total_steps"),
                error=status.get("error") or None,
                result_model=status.get("result_model"),
                metadata=status.get("metadata") or {},
            )
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise self.damage(self.status_file, f"has a wrong {field}: {first['msg']}") from err

    def damaged_state(self, provider: str, damage: DamagedJob) -> JobState:
        """How a damaged job is listed and watched: ``failed``, raw status ``damaged``, its
        error the damage (code ``damaged_job``), created when its id says."""
        return JobState(
            id=self.id,
            provider=provider,
            status=JobStatus.FAILED,
            raw_status="damaged",
            created_at=_created_from_id(self.id),
            error=JobError(message=damage.message, code="damaged_job"),
        )

    def job_events(self, after: str | None = None) -> list[JobEvent]:
        """Events after the event ``after``, oldest first (an event's id is its line
        number, so ids stay stable while the runner appends). A damaged line reads as an
        error event saying so, at the time of the event before it.

        :raises InvalidRequest: ``after`` is not an event id.
        """
        try:
            start = int(after) if after else 0
        except ValueError as err:
            raise InvalidRequest(
                f"after: {str(after)[:80]!r} is not an event id of job {self.id} (ids are numbers)",
                field="after",
            ) from err
        found: list[JobEvent] = []
        last: datetime | None = None
        for number, row in enumerate(self.events(), start=1):
            try:
                event = JobEvent(
                    id=str(number),
                    created_at=row.get("created_at"),
                    level=row.get("level", "info"),
                    message=row.get("message"),
                    type=row.get("type", "message"),
                    step=row.get("step"),
                    metrics=row.get("metrics") or {},
                )
            except ValidationError:
                event = JobEvent(
                    id=str(number),
                    created_at=last or self._modified(self.events_file),
                    level="error",
                    message=f"line {number} of {self.events_file} is damaged "
                    "(not an event ftsdk wrote); left out",
                )
            last = event.created_at
            if number > start:
                found.append(event)
        return found

    def job_metrics(self) -> list[Metric]:
        """One :class:`~ftsdk.jobs.Metric` per logged step."""
        found = []
        for row in self.metrics():
            try:
                found.append(
                    Metric(step=row["step"], values=row["values"], created_at=row.get("created_at"))
                )
            except ValidationError:  # a time no ftsdk process wrote: the values still count
                found.append(Metric(step=row["step"], values=row["values"]))
        return found

    @staticmethod
    def _modified(path: Path) -> datetime:
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except OSError:
            return datetime.now(UTC)


def _is_step(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _are_values(values: Any) -> bool:
    return isinstance(values, dict) and all(
        isinstance(name, str)
        and isinstance(number, int | float)
        and not isinstance(number, bool)
        and (isinstance(number, float) or abs(number) < 2**1023)  # a float holds it
        for name, number in values.items()
    )


def _created_from_id(job_id: str) -> datetime | None:
    """The creation time written in a job id (``<prefix>-<UTC time>-<hex>``), if any."""
    found = re.search(r"-(\d{14})-[0-9a-f]{8}$", job_id)
    try:
        return datetime.strptime(found[1], "%Y%m%d%H%M%S").replace(tzinfo=UTC) if found else None
    except ValueError:
        return None


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
        self._id = re.compile(rf"{re.escape(prefix)}-[0-9]{{14}}-[0-9a-f]{{8}}")

    def is_id(self, job_id: str) -> bool:
        """Whether ``job_id`` has the shape of this store's ids (``<prefix>-<UTC time>-<8
        hex digits>``, as :meth:`create` makes them): nothing else reaches the disk."""
        return isinstance(job_id, str) and self._id.fullmatch(job_id) is not None

    def get(self, job_id: str) -> JobDir:
        """The folder of job ``job_id``.

        :raises ftsdk.errors.NotFound: no such job here, or ``job_id`` is not an id of
            this provider (checked before the disk is touched).
        """
        shown = repr(job_id[:80] + "…" if len(job_id) > 80 else job_id)
        if not self.is_id(job_id):
            raise NotFound(
                f"no {self.provider} job {shown}: {self.provider} job ids look like "
                f"{self.prefix}-20260101120000-1a2b3c4d (ftsdk jobs list -p {self.provider})",
                provider=self.provider,
            )
        job = JobDir(self.jobs_dir / job_id)
        if not job.status_file.is_file():
            raise NotFound(
                f"no {self.provider} job {shown} under {self.jobs_dir}", provider=self.provider
            )
        return job

    def create(self) -> JobDir:
        """A new, empty job folder: ``<prefix>-<UTC time>-<8 hex digits>``.

        :raises ftsdk.errors.ConfigurationError: the ftsdk home is not a writable folder.
        """
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        job = JobDir(self.jobs_dir / f"{self.prefix}-{stamp}-{uuid.uuid4().hex[:8]}")
        make_folder(self.jobs_dir)
        make_folder(job.path, exist_ok=False)
        return job

    def for_key(self, key: str) -> str | None:
        """The id of the job created for idempotency key ``key``, if any."""
        try:
            found = (self.keys_dir / _key_name(key)).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError):
            return None  # a record no ftsdk process wrote: create the job again
        return found if self.is_id(found) else None

    def remember(self, key: str, job: JobDir) -> None:
        """Record that ``job`` was created for idempotency key ``key``."""
        make_folder(self.keys_dir)
        (self.keys_dir / _key_name(key)).write_text(job.id, encoding="utf-8")

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
        """Every job folder with a status (a folder being created has none yet); other
        names in the jobs folder are no job's."""
        try:
            names = sorted(entry.name for entry in os.scandir(self.jobs_dir))
        except OSError:  # none yet, or not a folder: no jobs
            return []
        return [
            JobDir(self.jobs_dir / name)
            for name in names
            if self.is_id(name) and (self.jobs_dir / name / "status.json").is_file()
        ]


def _key_name(key: str) -> str:
    """``key`` as a file name: the same key, the same name; never a path."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,200}", key):
        return key
    raise InvalidRequest(
        f"idempotency key {key[:80]!r}: use letters, digits, '-' and '_' (at most 200)",
        field="idempotency_key",
    )


def runner_env(environ: Mapping[str, str], **extra: str) -> dict[str, str]:
    """``environ`` without credentials, with ``extra``: what a runner process gets.

    A runner reads local files only; any variable whose name has a word such as TOKEN,
    SECRET, PASSWORD, KEY or CREDENTIALS (``OPENAI_API_KEY``, ``AWS_SECRET_ACCESS_KEY``,
    ``HF_TOKEN``) or that is another provider's setting (``OPENAI_*``, ``AZURE_*``) is
    left out. A runner that needs one is handed it in ``extra``.

    >>> sorted(runner_env({"PATH": "/bin", "OPENAI_API_KEY": "sk-x", "HF_TOKEN": "hf_x",
    ...                    "TOKENIZERS_PARALLELISM": "false"}, PYTHONUNBUFFERED="1"))
    ['PATH', 'PYTHONUNBUFFERED', 'TOKENIZERS_PARALLELISM']
    """
    kept = {
        name: value
        for name, value in environ.items()
        if not name.upper().startswith(_SECRET_PREFIXES)
        and not _SECRET_WORDS & set(re.split(r"[^A-Z0-9]+", name.upper()))
    }
    return kept | extra


def local_folder(name: str) -> Path | None:
    """A model named by a local path: ``name`` (``~`` expanded) if it is a folder;
    ``None`` for any other name, including ``""`` (not the current folder) and one no file
    system takes (too long, a NUL in it) or an unknown ``~user``."""
    if not name.strip():
        return None
    try:
        path = Path(name).expanduser()
        return path if path.is_dir() else None
    except (OSError, ValueError, RuntimeError):
        return None


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


def visible_gpus() -> int:
    """CUDA GPUs visible, counted without importing torch (``CUDA_VISIBLE_DEVICES``, else
    ``nvidia-smi -L``): the processes a local run spreads over by default."""
    import shutil

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))
