"""The TRL runner on a Ray cluster, through Ray's own APIs.

A job is submitted with the Ray Jobs API (``JobSubmissionClient(address).submit_job``), its
idempotency key as the submission id, so a repeated create finds the same Ray job instead of
starting a second (a resume is a new submission, ``<key>-resume-<n>``). The entrypoint is
``python -m ftsdk_trl.engines.ray_driver JOB_DIR``, which trains under
``ray.train.torch.TorchTrainer`` with ``num_processes`` workers, each running the normal runner
(:func:`ftsdk_trl.runner.run`); rank 0 writes the job folder, as on one machine.

The job folder stays the job's one state, so the cluster must reach it: a local cluster
sees it where it is (under the ftsdk home); a remote one through a shared mount, given as
``provider_options["ray"]["storage"]`` (the ftsdk home as the cluster sees it). Storage URIs
(``s3://``...) are refused for now. Settings reach the workers through the job's
``runtime_env`` (``FTSDK_HOME``, the offline switches), never through the environment of
whoever started the cluster; no credential is sent.

The job's ``ray.json`` records the cluster's address and the submission ids, so any process
that reads the folder finds the Ray job::

    client.train(..., provider_options={"engine": "ray", "num_processes": 2,
                                        "ray": {"address": "http://head:8265"}})
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import PositiveFloat

from ftsdk.errors import ConfigurationError, FtsdkError, InvalidRequest, ProviderUnavailable
from ftsdk.jobdir import STARTING_GRACE_S, JobDir, now_iso, write_json_atomic
from ftsdk.provider import ProviderOptions
from ftsdk_trl.engines import Engine

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

__all__ = ["RECORD_FILE", "RayEngine", "RayOptions", "ray_address"]

log = logging.getLogger("ftsdk.trl.ray")

RECORD_FILE = "ray.json"
"""In the job folder: the cluster's address and the job's submission ids, oldest first."""
STOP_TIMEOUT_S = 60.0
"""How long :meth:`RayEngine.stop` waits for Ray to say the job ended."""
LOG_TAIL_CHARS = 4000
_SCHEMES = ("ray://", "http://", "https://")
_ENDED = ("STOPPED", "SUCCEEDED", "FAILED")
_RUNNER_ENV = {
    "PYTHONUNBUFFERED": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",  # the base model was resolved to local files
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}
_clients: dict[str, JobSubmissionClient] = {}
_clients_lock = threading.Lock()


class RayOptions(ProviderOptions):
    """Settings of the ray engine (``provider_options["ray"]``)."""

    address: str | None = None
    """The cluster: its dashboard URL (``http://head:8265``) or a Ray Client address
    (``ray://head:10001``). Default: ``RAY_ADDRESS``."""
    storage: str | None = None
    """The ftsdk home as the cluster's nodes see it (a shared mount of this machine's
    ``FTSDK_HOME``). Default: the same path, as on a local cluster. The base model must be
    at the same path on the cluster, or under the ftsdk home."""
    num_cpus_per_worker: PositiveFloat = 1.0
    """CPUs Ray reserves for each training worker (with one GPU each when the cluster
    has GPUs)."""


def ray_address(options: dict[str, Any]) -> str:
    """The address of the job's cluster: ``provider_options["ray"]["address"]``, else
    ``RAY_ADDRESS``.

    :raises InvalidRequest: neither is set, or it is not a Ray address.
    """
    ray = options.get("ray") or {}
    address = (ray.get("address") or os.environ.get("RAY_ADDRESS") or "").strip()
    field = "provider_options.ray.address"
    if not address:
        raise InvalidRequest(
            f"{field}: the ray engine needs the cluster's address: set RAY_ADDRESS or "
            'provider_options={"ray": {"address": "http://<head>:8265"}} (the dashboard '
            "URL, or ray://<head>:10001)",
            field=field,
        )
    if not address.startswith(_SCHEMES):
        raise InvalidRequest(
            f"{field}: {address[:200]!r} is not a Ray cluster address; give the dashboard URL "
            "(http://<head>:8265) or a Ray Client address (ray://<head>:10001)",
            field=field,
        )
    return address


def _storage(options: dict[str, Any], home: Path) -> Path:
    """The ftsdk home as the cluster sees it.

    :raises InvalidRequest: a URI, or a relative path.
    """
    given = (options.get("ray") or {}).get("storage")
    if not given:
        return home
    field = "provider_options.ray.storage"
    if "://" in given:
        raise InvalidRequest(
            f"{field}: {given[:200]!r} is a URI; storage URIs are not supported yet: mount the "
            "ftsdk home on the cluster's nodes and give the mount's path",
            field=field,
        )
    if not Path(given).is_absolute():
        raise InvalidRequest(
            f"{field}: {given[:200]!r} must be an absolute path (the ftsdk home as the "
            "cluster's nodes see it)",
            field=field,
        )
    return Path(given)


class RayEngine(Engine):
    """The runner on a Ray cluster: a Ray job (Jobs API) training under Ray Train."""

    name = "ray"
    label = "a Ray cluster"
    extra = "ray"
    requires = ("ray",)
    pausable = True  # the runner reads the shared job folder's control file

    def check(self, options: dict[str, Any]) -> None:
        """Refuse a job without ray installed, without a cluster address, or with storage
        the engine cannot use; the cluster itself is reached when the job is submitted."""
        super().check(options)
        _check_environment(ray_address(options))
        _storage(options, self.provider.home)

    def command(
        self, job: JobDir, options: dict[str, Any], *, resume: bool
    ) -> tuple[list[str], dict[str, str]]:
        """The Ray job's entrypoint and the environment its driver and workers get (through
        ``runtime_env``): the ftsdk home as the cluster sees it, offline, no credential."""
        storage = _storage(options, self.provider.home)
        folder = storage / job.path.relative_to(self.provider.home)
        command = ["python", "-m", "ftsdk_trl.engines.ray_driver", str(folder)]
        if storage != self.provider.home:  # the driver maps the folder's paths onto the mount
            command += ["--caller-home", str(self.provider.home)]
        if resume:
            command.append("--resume")
        env = _RUNNER_ENV | {"FTSDK_HOME": str(storage)}
        if os.environ.get("HF_HOME"):
            env["HF_HOME"] = os.environ["HF_HOME"]
        return command, env

    def launch(self, job: JobDir, command: list[str], env: dict[str, str], *, resume: bool) -> None:
        """Submit the job to the cluster (a retried submit of the same job finds its Ray job).

        :raises ProviderUnavailable: the cluster does not answer: a new job is forgotten
            (folder and idempotency key removed, so a retry submits it again); a resumed
            one is marked ``failed``, saying so.
        :raises InvalidRequest: the cluster refused the job (it is marked ``failed`` with
            the cluster's message), or already has another job under this submission id.
        """
        spec = job.read_spec()
        address = ray_address(spec.get("options") or {})
        record = _read_record(job)
        key = str(spec.get("idempotency_key") or job.id)
        submissions: list[str] = list(record.get("submissions", []))
        if resume or not submissions:
            submissions.append(key if not submissions else f"{key}-resume-{len(submissions)}")
        submission = submissions[-1]
        try:
            client = _client(address)
        except ProviderUnavailable as err:
            self._not_submitted(job, key, resumed=bool(record.get("submissions")), error=err)
            raise
        # Recorded before it is sent: a process that dies while submitting leaves the id
        # for readers to find at the cluster (or not, and then the job fails).
        write_json_atomic(
            job.path / RECORD_FILE,
            record | {"address": address, "submissions": submissions, "updated_at": now_iso()},
        )
        try:
            client.submit_job(
                entrypoint=" ".join(_quote(part) for part in command),
                submission_id=submission,
                runtime_env={"env_vars": env},
                metadata={"ftsdk_job_id": job.id},
            )
        except RuntimeError as err:  # the cluster answered: a duplicate, or a refusal
            refusal = _refusal(client, submission, job, address, err)
            if refusal is not None:
                refused = InvalidRequest(refusal, provider=self.provider.name, code="ray_refused")
                self._not_submitted(job, key, resumed=len(submissions) > 1, error=refused)
                raise refused from err
        except OSError as err:  # the answer was lost: readers find out from the cluster
            raise ProviderUnavailable(
                f"the Ray cluster at {address} did not answer the submission of job "
                f"{submission}: {err}",
                provider=self.provider.name,
            ) from err
        job.add_event(f"submitted to the Ray cluster at {address} as Ray job {submission}")

    def _not_submitted(self, job: JobDir, key: str, *, resumed: bool, error: FtsdkError) -> None:
        """A submission that surely failed: a new job is forgotten (its folder and its
        idempotency key's record, so nothing was created and a retry starts afresh); a
        resumed one is marked ``failed`` with ``error``."""
        if resumed:
            job.add_event(error.message, level="error")
            job.update_status(
                status="failed",
                raw_status="submit_failed",
                finished_at=now_iso(),
                error={"message": error.message, "code": error.code or "ray_unavailable"},
            )
            return
        import shutil

        record = self.provider.store.keys_dir / key
        with contextlib.suppress(OSError):
            if record.read_text(encoding="utf-8").strip() == job.id:
                record.unlink()
        shutil.rmtree(job.path, ignore_errors=True)

    def read_status(self, job: JobDir, status: dict[str, Any]) -> dict[str, Any]:
        """``status``, with the Ray job's end mapped onto it while the folder says the job
        is queued or running: FAILED (or SUCCEEDED with the job unfinished, or a cluster
        that forgot the job) makes it ``failed`` with the end of the Ray job's logs,
        STOPPED ``cancelled``. A cluster that does not answer leaves the status as it is.

        Once the job and its Ray jobs have ended, their logs are copied to the folder's
        ``log``, where a local job's runner writes its output."""
        if status.get("status") not in ("queued", "running"):
            _save_logs(job)
            return status
        ended = _ended(job)
        if ended is None:
            return status
        ray_status, why, logs = ended
        with job.locked():
            status = job.read_status()  # the runner may have finished since
            if status.get("status") not in ("queued", "running"):
                return status
            if ray_status == "STOPPED":
                job.add_event(f"cancelled: {why}")
                return job.update_status(
                    status="cancelled", raw_status="stopped", finished_at=now_iso()
                )
            job.add_event(f"{why} while the job was unfinished", level="error")
            return job.update_status(
                status="failed",
                raw_status="ray_failed",
                finished_at=now_iso(),
                error={
                    "message": f"{why} before the job finished"
                    + (f"; end of its logs:\n{logs}" if logs else ""),
                    "code": "ray_job_failed",
                },
            )

    def stop(self, job: JobDir) -> None:
        """Ask Ray to stop the job's Ray job and wait (:data:`STOP_TIMEOUT_S`) for it to end."""
        record = _read_record(job)
        if not record.get("submissions"):
            return
        address, submission = record["address"], record["submissions"][-1]
        client = _client(address)
        try:
            client.stop_job(submission)
        except RuntimeError:
            return  # the cluster has no such job: nothing runs
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline:
            if str(client.get_job_status(submission).value) in _ENDED:
                return
            time.sleep(0.2)
        raise ProviderUnavailable(
            f"Ray job {submission} at {address} did not stop within {STOP_TIMEOUT_S:.0f}s",
            provider=self.provider.name,
        )


def _read_record(job: JobDir) -> dict[str, Any]:
    """The job's ``ray.json`` (``{}`` before its first submission)."""
    try:
        found = json.loads((job.path / RECORD_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise job.damage(job.path / RECORD_FILE, f"cannot be read: {err}") from err
    if not isinstance(found, dict) or not isinstance(found.get("address"), str):
        raise job.damage(job.path / RECORD_FILE, "is not a record of its Ray job")
    return found


def _ended(job: JobDir) -> tuple[str, str, str] | None:
    """How the job's current Ray job ended (its status, a sentence, the end of its logs),
    or ``None`` while it runs, before it is submitted, or when the cluster does not answer
    (logged as a warning)."""
    record = _read_record(job)
    if not record.get("submissions"):
        return None  # not submitted yet
    address, submission = record["address"], record["submissions"][-1]
    try:
        client = _client(address)
        ray_status = str(client.get_job_status(submission).value)
    except (ProviderUnavailable, OSError) as err:
        log.warning("job %s: %s", job.id, err)
        return None
    except RuntimeError as err:  # 404: being submitted, never submitted, or forgotten
        if _age(record) < STARTING_GRACE_S:
            return None
        why = f"the Ray cluster at {address} has no job {submission} ({err})"
        return "FAILED", why, ""
    if ray_status not in _ENDED:
        return None
    logs = "" if ray_status == "STOPPED" else _logs_tail(client, submission)
    verb = "was stopped" if ray_status == "STOPPED" else ray_status
    return ray_status, f"Ray job {submission} {verb}", logs


def _save_logs(job: JobDir) -> None:
    """Append the logs of the job's Ray jobs that ended and are not in its ``log`` yet,
    each after a header line; a cluster that does not answer is tried at the next read."""
    record = _read_record(job)
    if not set(record.get("submissions", [])) - set(record.get("logged", [])):
        return  # the common case: nothing to fetch, no request
    with job.locked():
        record = _read_record(job)  # another reader may have saved them since
        logged: list[str] = list(record.get("logged", []))
        try:
            client = _client(record["address"])
            for submission in record["submissions"]:
                if submission in logged:
                    continue
                try:
                    if str(client.get_job_status(submission).value) not in _ENDED:
                        break  # still ending (the driver exits after the folder says so)
                    logs = str(client.get_job_logs(submission))
                except RuntimeError as err:  # the cluster forgot it: say so, once
                    logs = f"(the Ray cluster has no logs of it: {err})\n"
                with job.log_file.open("a", encoding="utf-8") as out:
                    out.write(f"--- {now_iso()} Ray job {submission}\n{logs}")
                logged.append(submission)
        except (FtsdkError, OSError) as err:
            log.debug("job %s: Ray logs not saved yet: %s", job.id, err)
        write_json_atomic(job.path / RECORD_FILE, record | {"logged": logged})


def _age(record: dict[str, Any]) -> float:
    """Seconds since the record was written (infinite when it does not say)."""
    try:
        return time.time() - datetime.fromisoformat(record["updated_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return float("inf")


def _refusal(
    client: JobSubmissionClient, submission: str, job: JobDir, address: str, err: Exception
) -> str | None:
    """Why the cluster refused to submit ``job`` as ``submission``; ``None`` when it has
    the Ray job already and ``job`` made it (a retried submit)."""
    if "already exists" not in str(err):
        return f"the Ray cluster at {address} refused job {submission}: {err}"
    owner = (client.get_job_info(submission).metadata or {}).get("ftsdk_job_id")
    if owner == job.id:
        return None
    made_for = f"ftsdk job {owner}" if owner else "something else"
    return (
        f"the Ray cluster at {address} already has a job {submission!r}, made for "
        f"{made_for}, not {job.id}: use another idempotency key"
    )


def _check_environment(address: str) -> None:
    """Refuse to reach ``address`` while ``RAY_ADDRESS`` names another cluster: Ray's Jobs
    client always prefers the variable to the address it is given.

    :raises ConfigurationError: saying which variable to unset or change.
    """
    for variable in ("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"):
        given = os.environ.get(variable)
        if given and given.rstrip("/") != address.rstrip("/"):
            raise ConfigurationError(
                f"{variable}={given} here, but the job's Ray cluster is {address}, and Ray's "
                f"Jobs client always uses {variable}: unset it, or set it to {address}"
            )


def _client(address: str) -> JobSubmissionClient:
    """One Jobs API client per address (making one asks the cluster its version).

    :raises ProviderUnavailable: the cluster does not answer.
    :raises ConfigurationError: ``RAY_ADDRESS`` names another cluster.
    """
    _check_environment(address)
    with _clients_lock:
        client = _clients.get(address)
        if client is not None:
            return client
        from ray.job_submission import JobSubmissionClient

        try:
            client = _clients[address] = JobSubmissionClient(address)
        except (OSError, RuntimeError, ValueError) as err:
            raise ProviderUnavailable(
                f"no Ray cluster answers at {address} ({err}); check the address, and that "
                "the cluster's dashboard is reachable from here",
            ) from err
        return client


def _logs_tail(client: JobSubmissionClient, submission: str) -> str:
    """The end of the Ray job's logs (its driver's and workers' output), or ``""``."""
    try:
        logs = str(client.get_job_logs(submission))
    except (OSError, RuntimeError):
        return ""
    return logs[-LOG_TAIL_CHARS:].strip()


def _quote(part: str) -> str:
    import shlex

    return shlex.quote(part)
