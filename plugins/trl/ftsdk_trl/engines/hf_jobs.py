"""The TRL runner on Hugging Face Jobs: the same job on HF's hosted hardware.

What happens, with ``provider_options={"engine": "hf_jobs", "hf_jobs": {...}}``:

1. Before the job folder is made, the token (``HF_TOKEN``) is checked with ``whoami`` and
   the base model's config and tokenizer are fetched from the Hub (it must be a Hub id).
2. The job's ``spec.json`` and data go to a private dataset repo, ``<namespace>/<job
   id>-inputs``, and ``huggingface_hub.run_job`` starts the job: its command runs
   :mod:`ftsdk_trl.engines.hf_remote` in the image (``hf_jobs.image``), after installing
   ``hf_jobs.install`` with ``uv``. The token travels only in the job's ``secrets``.
3. The remote runner trains with the normal runner and prints its status, events and
   metrics as JSON lines; :meth:`HFJobsEngine.read_status` reads them back from
   ``fetch_job_logs`` into the local job folder (idempotently, under the job's lock: any
   process, any number of times, the same events with the same ids), with the Job's stage
   mapped onto the status.
4. At the end the remote pushes the model to ``hf_jobs.repo`` (default
   ``<namespace>/<job id>``); the provider downloads it into the job folder, so
   ``job.model.chat`` works here.

Cancel is ``cancel_job``; pause and resume are refused (the remote folder is gone with the
container).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, PositiveInt

from ftsdk.errors import (
    InvalidRequest,
    MissingCredentials,
    ProviderUnavailable,
    error_for_status,
)
from ftsdk.jobdir import JobDir, append_jsonl, now_iso, read_jsonl, write_json_atomic
from ftsdk.provider import ProviderOptions
from ftsdk_trl.engines import Engine
from ftsdk_trl.engines.hf_remote import STATUS_FIELDS, parse_line

if TYPE_CHECKING:
    from huggingface_hub import HfApi

__all__ = ["DEFAULT_IMAGE", "HFJobsEngine", "HFJobsOptions"]

DEFAULT_IMAGE = "ghcr.io/astral-sh/uv:python3.12-bookworm"
"""huggingface_hub's own image for ``run_uv_job``: Python 3.12 with ``uv``."""

REMOTE_FILE = "hf_job.json"
"""In the job folder: the Hugging Face Job's id, namespace, endpoint and repos."""

INPUTS = ("spec.json", "train.jsonl", "valid.jsonl")
"""What of the job folder the Job needs, uploaded to its inputs repo."""

CANCEL_WAIT_S = 60.0
LOG_LAG_S = 30.0
"""How long after a Job's end its log may still lack its last lines (collected apart)."""
_TERMINAL = frozenset({"COMPLETED", "CANCELED", "ERROR", "DELETED"})
"""The stages a Job never leaves (huggingface_hub's ``TERMINAL_JOB_STAGES``)."""
_TOKEN_HELP = "set HF_TOKEN (a token with write access: https://huggingface.co/settings/tokens)"


def _default_install() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return [f"ftsdk-trl=={version('ftsdk-trl')}"]
    except PackageNotFoundError:  # pragma: no cover - this module is ftsdk-trl's
        return ["ftsdk-trl"]


class HFJobsOptions(ProviderOptions):
    """Settings of the hf_jobs engine (``provider_options["hf_jobs"]``)::

    {"engine": "hf_jobs", "hf_jobs": {"flavor": "a10g-small", "repo": "me/dates-model"}}
    """

    flavor: str = "cpu-basic"
    """The hardware (``hf jobs hardware`` lists them with their price per minute)."""
    repo: str | None = None
    """The model repo the result is pushed to (default ``<namespace>/<job id>``)."""
    private: bool = True
    """Create the model repo private."""
    namespace: str | None = None
    """The user or organization the Job runs under and is billed to (default: the
    token's user)."""
    image: str = DEFAULT_IMAGE
    """The Docker image the Job runs in."""
    install: list[str] = Field(default_factory=_default_install)
    """pip requirements installed with ``uv run --with`` before the runner starts (default
    this ftsdk-trl's version from PyPI; a git URL for a checkout, e.g. ``"ftsdk-trl @
    git+https://github.com/you/ftsdk@main#subdirectory=plugins/trl"``). ``[]``: the image
    has ftsdk-trl already, and ``python`` runs it."""
    timeout: PositiveInt = 7200
    """Seconds the Job may run before the service stops it (it is billed until then)."""


class HFJobsEngine(Engine):
    """The runner on Hugging Face Jobs (see the module's text)."""

    name = "hf_jobs"
    label = "Hugging Face Jobs"
    extra = "hf-jobs"
    requires = ("huggingface_hub",)
    pausable = False

    # -- settings --------------------------------------------------------------------
    def _options(self, options: dict[str, Any]) -> HFJobsOptions:
        return HFJobsOptions.model_validate(options.get("hf_jobs") or {})

    def _token(self) -> str:
        token = self.provider.hf_token
        if token is None:
            raise MissingCredentials(
                f"provider_options.engine: hf_jobs runs on Hugging Face's hardware: {_TOKEN_HELP}",
                provider=self.provider.name,
            )
        return token.get_secret_value()

    def _hub_folder(self) -> Path:
        """Where what is read from the Hub here goes: under the ftsdk home, never the
        user's Hugging Face cache (``local_dir`` downloads still write a ref there)."""
        return self.provider.home / self.provider.name / "hub"

    def _api(self, endpoint: str | None = None) -> HfApi:
        from huggingface_hub import HfApi

        # HF_ENDPOINT read now, not at huggingface_hub's import: the caller may set it late
        return HfApi(endpoint=endpoint or _endpoint(), token=self._token())

    @contextmanager
    def _calls(self, what: str) -> Iterator[None]:
        """huggingface_hub's errors as ftsdk's, saying what was being done."""
        from huggingface_hub.errors import HfHubHTTPError

        try:
            yield
        except HfHubHTTPError as err:
            status = err.response.status_code if err.response is not None else 500
            message = f"Hugging Face Jobs: {what}: {err}"
            if status == 401:
                message += f"; the token was refused: {_TOKEN_HELP}"
            raise error_for_status(status, message, provider=self.provider.name) from err
        except Exception as err:
            # connection refused, DNS: huggingface_hub's HTTP library's own errors
            if not isinstance(err, OSError) and not type(err).__module__.startswith(
                ("httpx", "httpcore")
            ):
                raise
            raise ProviderUnavailable(
                f"Hugging Face Jobs: {what}: {err} (HF_ENDPOINT={_endpoint()})",
                provider=self.provider.name,
            ) from err

    def _namespace(self, options: HFJobsOptions) -> str:
        if options.namespace:
            return options.namespace
        with self._calls("checking the token (whoami)"):
            name: str = self._api().whoami()["name"]
        return name

    # -- the Engine seam -------------------------------------------------------------
    def check(self, options: dict[str, Any]) -> None:
        """Refuse the job without a token the Hub accepts (checked with ``whoami``)."""
        super().check(options)
        self._namespace(self._options(options))

    def resolve_model(self, name: str) -> Path:
        """The base model's config and tokenizer, fetched from the Hub (its weights are
        downloaded by the Job): the data and chat-template checks read them here.

        :raises InvalidRequest: ``name`` is not a Hub id, or not on the Hub.
        """
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import RepositoryNotFoundError

        if name.count("/") != 1 or name.startswith((".", "/", "~")):
            raise InvalidRequest(
                f"base_model: {name} is not a Hugging Face id (org/name); on Hugging Face Jobs "
                "the base model is downloaded from the Hub: upload it there first",
                field="base_model",
                provider=self.provider.name,
            )
        with self._calls(f"reading {name} from the Hub"):
            try:
                path = snapshot_download(
                    name,
                    allow_patterns=["*.json", "*.jinja", "*.txt", "*.model"],
                    # in the ftsdk home, not the Hugging Face cache: these files only
                    local_dir=self._hub_folder() / name,
                    cache_dir=self._hub_folder() / ".cache",
                    token=self._token(),
                    endpoint=_endpoint(),
                )
            except RepositoryNotFoundError as err:
                raise InvalidRequest(
                    f"base_model: {name} is not on the Hub at {_endpoint()}, or the token "
                    "cannot read it",
                    field="base_model",
                    provider=self.provider.name,
                ) from err
        return Path(path)

    def command(
        self, job: JobDir, options: dict[str, Any], *, resume: bool
    ) -> tuple[list[str], dict[str, str]]:
        """The Job's command (install, then the remote runner) and its environment (no
        secret: the token is added as a secret by :meth:`launch`)."""
        settings = self._options(options)
        namespace = self._namespace(settings)
        repo = settings.repo or f"{namespace}/{job.id}"
        runner = [
            "-m",
            "ftsdk_trl.engines.hf_remote",
            "--job",
            job.id,
            "--inputs",
            f"{namespace}/{job.id}-inputs",
            "--repo",
            repo,
            *(["--private"] if settings.private else []),
        ]
        if settings.install:
            installs = [part for req in settings.install for part in ("--with", req)]
            command = ["uv", "run", "--no-project", *installs, "python", *runner]
        else:
            command = ["python", *runner]
        env = {"PYTHONUNBUFFERED": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        if os.environ.get("HF_ENDPOINT"):
            env["HF_ENDPOINT"] = _endpoint()
        return command, env

    def launch(self, job: JobDir, command: list[str], env: dict[str, str], *, resume: bool) -> None:
        """Upload the spec and data, then start the Job and record its id. A start the
        Hub refuses makes the job ``failed`` with the Hub's error (then raised), so no
        job waits for a Job that never was."""
        try:
            self._start(job, command, env)
        except Exception as err:
            message = str(getattr(err, "message", None) or err)
            job.add_event(f"not started on Hugging Face Jobs: {message}", level="error")
            job.update_status(
                status="failed",
                raw_status="not_started",
                finished_at=now_iso(),
                error={"message": message, "code": "hf_job_not_started"},
            )
            raise

    def _start(self, job: JobDir, command: list[str], env: dict[str, str]) -> None:
        settings = self._options(job.read_spec().get("options") or {})
        namespace = self._namespace(settings)
        inputs = f"{namespace}/{job.id}-inputs"
        api = self._api()
        with self._calls(f"uploading the job's data to {inputs}"):
            api.create_repo(inputs, repo_type="dataset", private=True, exist_ok=True)
            api.upload_folder(
                folder_path=job.path,
                repo_id=inputs,
                repo_type="dataset",
                allow_patterns=list(INPUTS),  # nothing else of the folder leaves
                commit_message=f"ftsdk job {job.id}: spec and data",
            )
        with self._calls("starting the job"):
            info = api.run_job(
                image=settings.image,
                command=command,
                env=env,
                secrets={"HF_TOKEN": self._token()},
                flavor=settings.flavor,
                timeout=settings.timeout,
                labels={"ftsdk-job": job.id},
                namespace=namespace,
            )
        repo = command[command.index("--repo") + 1]
        write_json_atomic(
            job.path / REMOTE_FILE,
            {
                "id": info.id,
                "namespace": namespace,
                "endpoint": api.endpoint,
                "inputs": inputs,
                "repo": repo,
                "flavor": settings.flavor,
                "image": settings.image,
            },
        )
        job.add_event(
            f"started on Hugging Face Jobs: job {info.id} ({settings.flavor}); the model "
            f"goes to {repo}"
        )

    def read_status(self, job: JobDir, status: dict[str, Any]) -> dict[str, Any]:
        """Replay the Job's log into the folder, then map its stage onto the status."""
        if status.get("status") not in ("queued", "running"):
            return status
        remote = _remote(job)
        if remote is None:  # being started
            return status
        api = self._api(remote["endpoint"])
        with self._calls(f"reading job {remote['id']}"):
            info = api.inspect_job(job_id=remote["id"], namespace=remote["namespace"])
            stage = _stage(info)
            # Without follow, the client stops at lines stamped after the server's Date
            # header (+1 s), so a lagging clock hides the last lines; once the Job has
            # ended, following reads the whole log and returns at its end.
            lines = list(
                api.fetch_job_logs(
                    job_id=remote["id"],
                    namespace=remote["namespace"],
                    follow=stage in _TERMINAL,
                )
            )
        with job.locked():
            status = job.read_status()
            if status.get("status") not in ("queued", "running"):
                return status  # cancelled (or finished) while the log was read
            self._keep_log(job, lines)
            status = self._replay(job, remote, lines, status)
            if status.get("status") in ("queued", "running") and not _log_may_lag(info):
                status = self._ended(job, status, stage, info.status.message, lines)
            if status.get("status") in ("queued", "running") and status.get("hf_stage") != stage:
                status = job.update_status(hf_stage=stage)
        return status

    def stop(self, job: JobDir) -> None:
        """Cancel the Job and wait (a minute at most) for the service to say so."""
        remote = _remote(job)
        if remote is None:
            return
        api = self._api(remote["endpoint"])
        with self._calls(f"cancelling job {remote['id']}"):
            api.cancel_job(job_id=remote["id"], namespace=remote["namespace"])
            deadline = time.monotonic() + CANCEL_WAIT_S
            while time.monotonic() < deadline:
                info = api.inspect_job(job_id=remote["id"], namespace=remote["namespace"])
                if _stage(info) in _TERMINAL:
                    job.add_event(f"Hugging Face job {remote['id']}: {_stage(info)}")
                    return
                time.sleep(0.5)

    # -- replaying the log -----------------------------------------------------------
    def _keep_log(self, job: JobDir, lines: list[str]) -> None:
        """The Job's output as the job's log (the longest read so far: a read may stop
        early while the Job runs)."""
        text = "".join(line + "\n" for line in lines if parse_line(line) is None)
        try:
            kept = job.log_file.stat().st_size
        except FileNotFoundError:
            kept = -1
        if len(text.encode("utf-8")) > kept:
            tmp = job.log_file.with_name(".log.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, job.log_file)

    def _replay(
        self, job: JobDir, remote: dict[str, Any], lines: list[str], status: dict[str, Any]
    ) -> dict[str, Any]:
        """Apply the records not applied yet (by their ``seq``), in order."""
        done = max(
            [int(status.get("remote_seq") or 0)]
            + [int(row.get("remote_seq") or 0) for row in read_jsonl(job.events_file)]
            + [int(row.get("remote_seq") or 0) for row in read_jsonl(job.metrics_file)]
        )
        for line in lines:
            record = parse_line(line)
            if record is None or record["seq"] <= done:
                continue
            seq, data = record["seq"], record["data"]
            if record["kind"] == "event":
                append_jsonl(job.events_file, {**_event(data), "remote_seq": seq})
            elif record["kind"] == "metrics":
                append_jsonl(job.metrics_file, {**data, "remote_seq": seq})
            else:
                changes = {k: v for k, v in data.items() if k in STATUS_FIELDS}
                if changes.get("status") == "succeeded":
                    changes["result_model"] = str(self._download(job, remote, changes))
                status = job.update_status(**changes, remote_seq=seq)
            done = seq
        return status

    def _download(self, job: JobDir, remote: dict[str, Any], changes: dict[str, Any]) -> Path:
        """The pushed model, downloaded into the job folder (``model/``)."""
        from huggingface_hub import snapshot_download

        repo = str(changes.get("result_repo") or remote["repo"])
        with self._calls(f"downloading the model from {repo}"):
            snapshot_download(
                repo,
                local_dir=job.model_dir,
                cache_dir=self._hub_folder() / ".cache",
                token=self._token(),
                endpoint=remote["endpoint"],
            )
        job.add_event(f"model downloaded from {repo} to {job.model_dir}")
        return job.model_dir

    def _ended(
        self,
        job: JobDir,
        status: dict[str, Any],
        stage: str,
        message: str | None,
        lines: list[str],
    ) -> dict[str, Any]:
        """The status once the Job has ended without the runner saying how."""
        if stage in ("CANCELED", "DELETED"):
            job.add_event(f"Hugging Face job {stage.lower()}", level="warning")
            return job.update_status(
                status="cancelled", raw_status=stage.lower(), hf_stage=stage, finished_at=now_iso()
            )
        if stage not in ("COMPLETED", "ERROR"):
            return status
        tail = "\n".join(line for line in lines if parse_line(line) is None)[-2000:]
        why = message or f"the Job ended ({stage}) before the runner reported its end"
        job.add_event(f"Hugging Face job {stage}: {why}", level="error")
        return job.update_status(
            status="failed",
            raw_status=stage.lower(),
            hf_stage=stage,
            finished_at=now_iso(),
            error={
                "message": why + (f"; end of its log:\n{tail}" if tail else ""),
                "code": "hf_job_error",
            },
        )


def _event(data: dict[str, Any]) -> dict[str, Any]:
    """An event row from the remote, with the fields an event has."""
    return {
        k: v
        for k, v in data.items()
        if k in ("created_at", "level", "message", "step", "type", "metrics")
    }


def _remote(job: JobDir) -> dict[str, Any] | None:
    """What :meth:`HFJobsEngine.launch` recorded, if it has yet."""
    try:
        found = json.loads((job.path / REMOTE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as err:
        raise job.damage(job.path / REMOTE_FILE, f"is not JSON ({err})") from err
    if not isinstance(found, dict) or not all(
        isinstance(found.get(k), str) for k in ("id", "namespace", "endpoint", "repo")
    ):
        raise job.damage(job.path / REMOTE_FILE, "lacks the Hugging Face job's id")
    return found


def _log_may_lag(info: Any) -> bool:
    """Whether a Job that exited 0 ended so recently that the end of its log (the
    runner's last records, printed just before) may not be readable yet."""
    finished = info.finished_at
    return bool(
        _stage(info) == "COMPLETED"
        and finished is not None
        and (datetime.now(UTC) - finished).total_seconds() < LOG_LAG_S
    )


def _stage(info: Any) -> str:
    """A ``JobInfo``'s stage as the service's word (``RUNNING``)."""
    stage = info.status.stage
    return str(getattr(stage, "value", stage))


def _endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
