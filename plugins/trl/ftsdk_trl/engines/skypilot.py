"""The TRL runner as a SkyPilot managed job, on whatever cloud SkyPilot can reach.

``provider_options={"engine": "skypilot", "skypilot": {...}}`` turns the job into a
``sky.Task`` built with SkyPilot's own objects (``sky.Task``, ``sky.Resources``,
``sky.Storage``) and checked by SkyPilot, written to the job folder as ``sky.yaml`` (what
``sky jobs launch sky.yaml`` would run), then launched with ``sky.jobs.launch``:

- resources: ``cloud`` (with its region), ``accelerators`` (``"A100:4"``), ``cpus``, ``memory``,
  ``disk_size``, ``use_spot``, each SkyPilot's own field;
- setup: ``pip install`` of ftsdk-trl (``install``), after the user's ``setup`` lines;
- file mounts: the job folder (spec, data) and the base model, uploaded;
- a storage mount: the bucket of ``storage`` (``s3://bucket/path``), where the runner writes
  the job folder, ``<path>/<job id>`` (status, events, metrics, checkpoints, model), which
  outlives the VM;
- run: the runner (``accelerate launch`` over ``num_processes``, default the GPUs of
  ``accelerators``), with ``--resume`` when the bucket already holds a checkpoint, so a
  spot VM SkyPilot recovers continues where it stopped.

The job's status follows ``sky.jobs.queue_v2``; cancel is ``sky.jobs.cancel``.

SkyPilot's pins (click<8.2, uvicorn<0.36, bcrypt==4.0.1) do not fit every venv, so it is
driven in a subprocess (``_sky.py``) by an interpreter that has it: ``FTSDK_SKYPILOT_PYTHON``,
else this one when ``sky`` is installed here (``pip install 'ftsdk-trl[skypilot]'``),
else a runtime venv of its own under ``<ftsdk home>/skypilot`` (built on first use or by
``python -m ftsdk_trl.engines install skypilot``; ``FTSDK_SKYPILOT_CLOUDS=aws,gcp`` adds
those clouds' SDKs to it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import PositiveInt, field_validator

from ftsdk import runtimes
from ftsdk.errors import FtsdkError, InvalidRequest, MissingCredentials, ProviderUnavailable
from ftsdk.home import ftsdk_home
from ftsdk.jobdir import JobDir, now_iso, write_json_atomic
from ftsdk.provider import ProviderOptions
from ftsdk_trl.engines import Engine

__all__ = [
    "PYTHON_ENV_VAR",
    "SkyPilotEngine",
    "SkyPilotOptions",
    "build_task",
    "runtime_for",
]

PYTHON_ENV_VAR = "FTSDK_SKYPILOT_PYTHON"
"""Names an interpreter with SkyPilot to use as it is (nothing is built)."""
CLOUDS_ENV_VAR = "FTSDK_SKYPILOT_CLOUDS"
"""Clouds whose SDKs the runtime venv installs (``skypilot[aws,gcp]``); none by default."""
DRIVER = Path(__file__).with_name("_sky.py")
"""The script run in SkyPilot's interpreter (it imports nothing from ftsdk)."""
REMOTE_BUCKET = "~/ftsdk-bucket"
"""Where the storage bucket is mounted on the VM; the job folder is
``<bucket mount>/<path in storage>/<job id>``."""
REMOTE_INPUT = "~/ftsdk-input"
"""What is uploaded: the job folder as created here (``job/``) and the base model."""
STORE_SCHEMES = ("s3", "gs", "r2", "nebius")
"""Bucket URLs (``scheme://bucket/path``) SkyPilot mounts."""
LOG_TAIL_LINES = 20
"""Lines of a failed managed job's log put into its error, as a local job's are."""
CALL_TIMEOUT_S = 600.0
"""A SkyPilot call (a launch provisions the jobs controller first: minutes)."""


def _ftsdk_trl_version() -> str:
    try:
        return version("ftsdk-trl")
    except PackageNotFoundError:  # running from a source tree
        return "0.1.0"


class SkyPilotOptions(ProviderOptions):
    """Settings of the skypilot engine (``provider_options["skypilot"]``): SkyPilot's own
    resource fields, the bucket that holds the job folder, and how the VM gets ftsdk-trl.

    >>> SkyPilotOptions(accelerators="A100:2", storage="s3://my-bucket/ftsdk").cloud is None
    True
    """

    storage: str | None = None
    """Bucket URL for the job folder (``s3://bucket/path``, ``gs://...``, ``r2://...``,
    ``nebius://...``): the VM's runner writes status, checkpoints and the model to
    ``<path>/<job id>`` there. Required."""
    cloud: str | None = None
    """SkyPilot ``infra``: a cloud, and a region and zone after slashes (``aws``,
    ``gcp/us-central1``, ``aws/us-east-1/us-east-1a``, ``kubernetes``). Default: the
    cheapest SkyPilot finds among the clouds ``sky check`` enables."""
    accelerators: str | None = None
    """GPUs per VM, SkyPilot's way: ``"A100"``, ``"H100:8"``. Default: none (CPU)."""
    cpus: str | PositiveInt | None = None
    """vCPUs: ``8`` or at least ``"8+"``."""
    memory: str | PositiveInt | None = None
    """Memory in GB: ``32`` or at least ``"32+"``."""
    disk_size: PositiveInt | None = None
    """Boot disk in GB (SkyPilot's default: 256)."""
    use_spot: bool = False
    """Spot VMs: cheaper; SkyPilot relaunches a preempted job, which resumes from its last
    checkpoint in ``storage``."""
    install: list[str] = [f"ftsdk-trl=={_ftsdk_trl_version()}"]  # noqa: RUF012 - frozen model
    """What ``pip install`` puts on the VM for the runner: requirements, URLs or wheels
    (ftsdk and ftsdk-trl are not on PyPI yet: give where the VM gets them)."""
    setup: str | None = None
    """Shell lines run on the VM before ``install`` (drivers, a private index...)."""
    name: str | None = None
    """The managed job's name in ``sky jobs queue``. Default: the job's id."""

    @field_validator("storage")
    @classmethod
    def _bucket_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            rf"(?:{'|'.join(STORE_SCHEMES)})://[^/\s]+(?:/\S*)?", value
        ):
            raise ValueError(
                f"a bucket URL ({', '.join(s + '://bucket/path' for s in STORE_SCHEMES)}), "
                f"not {value!r}"
            )
        return value.rstrip("/") if value else value


def process_count(options: dict[str, Any]) -> int:
    """Processes on the VM: ``num_processes``, else the count in ``accelerators``
    (``"A100:4"``: 4), else one.

    >>> process_count({"skypilot": {"accelerators": "H100:8"}})
    8
    """
    if options.get("num_processes"):
        return int(options["num_processes"])
    accelerators = (options.get("skypilot") or {}).get("accelerators") or ""
    count = re.search(r":(\d+)$", accelerators)
    return int(count.group(1)) if count else 1


def remote_command(options: dict[str, Any], *, resume: bool) -> list[str]:
    """The runner's command line on the VM, run in the job folder.

    >>> remote_command({"num_processes": 2}, resume=False)
    ['python', '-m', 'ftsdk_trl.engines.ranks', '.', '--num-processes', '2']
    """
    from ftsdk_trl.provider import launch_command

    command = launch_command(Path("."), resume=resume, num_processes=process_count(options))
    return ["python", *command[1:]]


REMOTE_ENV = {
    "PYTHONUNBUFFERED": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",  # the base model is uploaded with the job
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}
"""The runner's environment on the VM: no credential travels with the task."""


def _require_storage(sky: SkyPilotOptions) -> str:
    """The bucket for the job folder.

    :raises InvalidRequest: none given.
    """
    if sky.storage is None:
        raise InvalidRequest(
            "provider_options.skypilot.storage: a SkyPilot job needs a bucket for its job "
            "folder (s3://bucket/path, gs://..., r2://...): the VM, and everything written on "
            "it, is gone when the job ends",
            field="provider_options.skypilot.storage",
            provider="trl",
        )
    return sky.storage


def _resources(sky: SkyPilotOptions) -> dict[str, Any]:
    """The ``sky.Resources`` fields the options set (by option name)."""
    return sky.model_dump(include={"cloud", "accelerators", "cpus", "memory", "disk_size"}) | {
        "use_spot": sky.use_spot or None
    }


def build_task(
    job: JobDir, options: dict[str, Any], command: list[str], env: dict[str, str]
) -> dict[str, Any]:
    """The job as a plain description of a SkyPilot task (``_sky.py task`` makes the
    ``sky.Task`` from it). Writes the spec the VM's runner reads (``sky-spec.json``: the
    same, with the paths it sees there).

    :raises InvalidRequest: no ``skypilot.storage``; a ``batch_size`` that does not split
        over the VM's processes (checked here with the VM's count, not this machine's).
    """
    from ftsdk_trl.training import batch_plan

    sky = SkyPilotOptions.model_validate(options.get("skypilot") or {})
    storage = _require_storage(sky)
    scheme, _, rest = storage.partition("://")
    bucket, _, prefix = rest.partition("/")
    # SkyPilot mounts whole buckets (a path in an S3 source is not mounted): the job folder
    # is that path, and the job's id, inside the mount.
    remote_job = "/".join(part for part in (REMOTE_BUCKET, prefix, job.id) if part)
    spec = job.read_spec()
    batch_plan(
        spec["method"],
        num_processes=process_count(options),
        max_per_device=options.get("max_per_device_batch_size"),
    )
    remote_input = f"{REMOTE_INPUT}/job"
    # The runner reads paths from spec.json as they are, from the job folder it runs in.
    remote_spec = dict(
        spec,
        model_path="../ftsdk-input/base-model",
        train_file="../ftsdk-input/job/train.jsonl",
        validation_file=("../ftsdk-input/job/valid.jsonl" if spec.get("validation_file") else None),
    )
    write_json_atomic(job.path / "sky-spec.json", remote_spec)
    run = "\n".join(
        [
            "set -e",
            f"mkdir -p {remote_job} && cd {remote_job}",
            # First start: the folder as created here. A recovery keeps what the bucket has.
            f"[ -f status.json ] || cp {remote_input}/status.json {remote_input}/events.jsonl .",
            f"cp {remote_input}/sky-spec.json spec.json",
            "set --",
            "if ls -d checkpoints/checkpoint-* >/dev/null 2>&1; then set -- --resume; fi",
            f'{shlex.join(command)} "$@"',
        ]
    )
    setup = [line for line in [sky.setup, f"pip install {shlex.join(sky.install)}"] if line]
    return {
        "name": sky.name or job.id,
        "resources": _resources(sky),
        "setup": "\n".join(setup),
        "run": run,
        "envs": dict(env),
        "file_mounts": {
            remote_input: str(job.path),
            f"{REMOTE_INPUT}/base-model": str(spec["model_path"]),
        },
        "storage_mounts": {
            REMOTE_BUCKET: {"source": f"{scheme}://{bucket}", "mode": "MOUNT_CACHED"}
        },
    }


class SkyPilotError(FtsdkError):
    """SkyPilot failed in a way not mapped onto another error (its message kept)."""


def runtime_for(home: str | Path | None = None, python: str | None = None) -> runtimes.Runtime:
    """The interpreter SkyPilot runs with: ``python``, ``FTSDK_SKYPILOT_PYTHON``, this one
    when ``sky`` is installed here, else the runtime venv under ``<home>/skypilot``."""
    chosen = python or os.environ.get(PYTHON_ENV_VAR) or None
    if chosen is None and importlib.util.find_spec("sky") is not None:
        chosen = sys.executable
    clouds = os.environ.get(CLOUDS_ENV_VAR, "").replace(" ", "")
    pins = (resources.files("ftsdk_trl.engines") / "pins" / "skypilot.txt").read_text(
        encoding="utf-8"
    )
    return runtimes.Runtime(
        ftsdk_home(home) / "skypilot",
        pins=(f"skypilot[{clouds}]" if clouds else "skypilot",),
        constraints=pins,
        health_check="import sky; print(sky.__version__)",
        label="the SkyPilot runtime",
        env_var=PYTHON_ENV_VAR,
        python=chosen,
        error=lambda message: runtimes.RuntimeBuildError(
            message, provider="trl", code="skypilot_runtime"
        ),
        size_hint="~75 s and ~460 MB from pip's cache",
    )


class SkyPilotEngine(Engine):
    """The runner as a SkyPilot managed job (``sky.jobs.launch``) on a cloud VM; its job
    folder lives in a bucket. It cannot pause: SkyPilot itself recovers a preempted job."""

    name = "skypilot"
    label = "a SkyPilot managed job"
    extra = "skypilot"
    pausable = False

    @classmethod
    def how_to_install(cls) -> str:
        """SkyPilot in this venv (when its pins fit) or in a venv of its own."""
        return (
            "pip install 'ftsdk-trl[skypilot]' (SkyPilot in this venv), or "
            "python -m ftsdk_trl.engines install skypilot (a venv of its own)"
        )

    @classmethod
    def installed(cls) -> bool:
        """Whether an interpreter with SkyPilot is there without a build."""
        return runtime_for().is_ready()

    def _runtime(self) -> runtimes.Runtime:
        return runtime_for(self.provider.home)

    def check(self, options: dict[str, Any]) -> None:
        """Refuse options SkyPilot would refuse (each error names the field) and a missing
        bucket, before the job's folder is made. Builds the SkyPilot runtime first if it is
        not there (minutes, once)."""
        sky = SkyPilotOptions.model_validate(options.get("skypilot") or {})
        _require_storage(sky)
        self.call(
            "task",
            {
                "task": {
                    "name": sky.name or "check",
                    "resources": _resources(sky),
                    "setup": "",
                    "run": "true",
                    "envs": {},
                    "file_mounts": {},
                    "storage_mounts": {},
                }
            },
        )

    def command(
        self, job: JobDir, options: dict[str, Any], *, resume: bool
    ) -> tuple[list[str], dict[str, str]]:
        """The runner's command line and environment on the VM."""
        return remote_command(options, resume=resume), dict(REMOTE_ENV)

    def launch(self, job: JobDir, command: list[str], env: dict[str, str], *, resume: bool) -> None:
        """Build the task with SkyPilot, write it to ``sky.yaml`` and ``sky.jobs.launch``
        it; a launch that fails marks the job failed with SkyPilot's reason and raises it
        (no cloud set up: :class:`MissingCredentials`, saying to run ``sky check``)."""
        from ftsdk_trl.provider import _runner_options

        try:
            task = build_task(job, _runner_options(job), command, env)
            task_file = job.path / "sky.yaml"
            task_file.write_text(self.call("task", {"task": task})["yaml"], encoding="utf-8")
            job.add_event(f"SkyPilot task written to {task_file.name}; launching")
            launched = self.call("launch", {"yaml": str(task_file), "name": task["name"]})
        except FtsdkError as err:
            job.update_status(
                status="failed",
                raw_status="launch_failed",
                finished_at=now_iso(),
                error={"message": str(err), "code": err.code or "skypilot_launch"},
            )
            job.add_event(f"failed: {err}", level="error")
            raise
        write_json_atomic(job.path / "sky-job.json", {"job_id": launched["job_id"]})
        job.add_event(f"SkyPilot managed job {launched['job_id']} launched")

    def read_status(self, job: JobDir, status: dict[str, Any]) -> dict[str, Any]:
        """``status`` with the managed job's state from ``sky.jobs.queue_v2``. When
        SkyPilot cannot say (its jobs controller stopped, which it does once no managed job
        is in progress; no network), the folder's status is kept and ``raw_status`` says
        why: one job SkyPilot cannot see never breaks listing the others."""
        launched = _launched(job)
        if launched is None or status.get("status") in ("succeeded", "failed", "cancelled"):
            return status
        try:
            state = self.call("status", {"job_id": launched})
        except FtsdkError as err:
            return status | {"raw_status": f"unknown to SkyPilot: {err}"}
        raw = str(state["status"])
        mapped = _STATES.get(raw, "running")
        changes: dict[str, Any] = {"status": mapped, "raw_status": raw}
        if mapped == "failed":
            reason = state.get("failure_reason") or raw
            with contextlib.suppress(FtsdkError):  # the reason stands without the log
                tail = self.logs(job, tail=LOG_TAIL_LINES).strip()
                if tail:
                    reason = f"{reason}; the end of its log:\n{tail}"
            changes |= {
                "finished_at": now_iso(),
                "error": {"message": f"SkyPilot: {reason}", "code": raw.lower()},
            }
        elif mapped in ("succeeded", "cancelled"):
            changes["finished_at"] = now_iso()
        if mapped != status.get("status"):
            return job.update_status(**changes)
        return status | changes

    def stop(self, job: JobDir) -> None:
        """``sky.jobs.cancel`` the managed job (nothing when it never launched, or
        SkyPilot has no managed job in progress)."""
        launched = _launched(job)
        if launched is None:
            return
        try:
            self.call("cancel", {"job_id": launched})
        except SkyPilotError as err:
            if err.code != "skypilot_no_controller":
                raise
            # No controller: no managed job in progress, so nothing is left to stop.
            job.add_event(f"SkyPilot had nothing to cancel: {err}", level="warning")

    def logs(self, job: JobDir, *, tail: int | None = None) -> str:
        """The end of the managed job's log (the VM's runner output)."""
        launched = _launched(job)
        if launched is None:
            return ""
        return str(self.call("logs", {"job_id": launched, "tail": tail})["text"])

    def call(self, command: str, request: dict[str, Any]) -> dict[str, Any]:
        """One request to SkyPilot through ``_sky.py`` in its interpreter.

        :raises InvalidRequest: SkyPilot refused a value (``field`` names the option).
        :raises MissingCredentials: no cloud is set up (``sky check``).
        :raises ProviderUnavailable: SkyPilot did not answer.
        """
        python = self._runtime().ensure(runtimes.say_on_stderr("ftsdk-trl"))
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # ftsdk's packages must not shadow SkyPilot's pins
        for attempt in (1, 2):
            answer = _call_once(python, env, command, request)
            error = answer.get("error")
            if error is None:
                return answer
            # SkyPilot starts its local API server on first use; under load that start can
            # fail before anything was sent to a cloud, so one more try is safe
            if attempt == 1 and _SERVER_DIED in json.dumps(error):
                continue
            raise _error(error)
        raise AssertionError("unreachable")  # the loop returns or raises


_SERVER_DIED = "API server process exited unexpectedly"
"""What SkyPilot says when its local API server failed to start."""


def _call_once(
    python: Path, env: dict[str, str], command: str, request: dict[str, Any]
) -> dict[str, Any]:
    """One run of ``_sky.py`` in SkyPilot's interpreter: its answer, error included.

    :raises ProviderUnavailable: SkyPilot did not answer, or answered no JSON.
    """
    try:
        done = subprocess.run(
            [str(python), str(DRIVER), command],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=CALL_TIMEOUT_S,
            check=False,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ProviderUnavailable(
            f"SkyPilot ({python}) did not answer {command}: {err}", provider="trl"
        ) from err
    try:
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise ProviderUnavailable(
            f"SkyPilot ({python}) failed on {command} (exit {done.returncode}):\n{tail}",
            provider="trl",
        ) from None
    return answer


_STATES = {
    "PENDING": "queued",
    "SUBMITTED": "queued",
    "STARTING": "queued",
    "RUNNING": "running",
    "RECOVERING": "running",
    "WINDING_DOWN": "running",
    "CANCELLING": "cancelled",
    "CANCELLED": "cancelled",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "FAILED_SETUP": "failed",
    "FAILED_PRECHECKS": "failed",
    "FAILED_NO_RESOURCE": "failed",
    "FAILED_CONTROLLER": "failed",
}
"""SkyPilot's managed-job states onto the job's."""


def _launched(job: JobDir) -> int | None:
    """The managed job's id, once launched."""
    try:
        launched = json.loads((job.path / "sky-job.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as err:
        raise job.damage(job.path / "sky-job.json", "is not JSON") from err
    job_id = launched.get("job_id") if isinstance(launched, dict) else None
    if not isinstance(job_id, int):
        raise job.damage(job.path / "sky-job.json", "lacks the managed job's id")
    return job_id


def _error(error: dict[str, Any]) -> FtsdkError:
    kind, message = error.get("kind"), str(error.get("message"))
    if kind == "invalid":
        field = f"provider_options.{error.get('field') or 'skypilot'}"
        return InvalidRequest(f"{field}: SkyPilot refused it: {message}", field=field)
    if kind == "no_cloud":
        return MissingCredentials(
            f"no cloud: SkyPilot can use none ({message.splitlines()[0]}); run `sky check` "
            "to see which credentials it is missing, set one up, and create the job again",
            provider="trl",
            code="no_cloud",
        )
    if kind == "no_controller":
        return SkyPilotError(
            f"SkyPilot's jobs controller is not up ({message}): no managed job is in "
            "progress; a finished job's outcome is in its bucket (status.json)",
            provider="trl",
            code="skypilot_no_controller",
        )
    if kind == "offline":
        return SkyPilotError(
            "no network: SkyPilot could not download its catalog of instances and GPUs "
            f"({message.splitlines()[0][:200]}); check this machine's connection",
            provider="trl",
            code="skypilot_offline",
        )
    return SkyPilotError(
        f"SkyPilot: {error.get('type') or kind}: {message}", provider="trl", code="skypilot"
    )
