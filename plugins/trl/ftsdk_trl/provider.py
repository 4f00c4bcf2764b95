"""The Hugging Face TRL (local) provider: background TRL jobs that behave like a cloud service.

A job is a detached process (``python -m ftsdk_trl.runner JOB_DIR``, or the same under
``accelerate launch`` on several GPUs) whose whole state lives in a job folder under the
ftsdk home (see :mod:`ftsdk_trl.jobdir`), so any process can list, watch, pause, resume or
cancel it by id. Nothing heavy is imported here: torch and friends load in the runner, and
in this process only for ``chat``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import PositiveFloat, PositiveInt, SecretStr

from ftsdk import Capabilities, JobSpec, Provider
from ftsdk.capabilities import DataFormat, Operation
from ftsdk.credentials import resolve_secret, resolve_setting
from ftsdk.errors import InvalidRequest, MissingCredentials, NotFound, ProviderUnavailable
from ftsdk.jobdir import (
    DamagedJob,
    JobDir,
    JobStore,
    local_folder,
    newest_first,
    now_iso,
    runner_env,
    stop_process,
    visible_gpus,
    write_json_atomic,
)
from ftsdk.jobs import Checkpoint, JobEvent, JobState, JobStatus, Metric
from ftsdk.models import ChatChunk, ChatParams, ChatResponse, ModelInfo
from ftsdk.provider import TrainingRequest
from ftsdk_trl.speed import SpeedOptions
from ftsdk_trl.training import BatchPlan, batch_plan

__all__ = ["TRLOptions", "TRLProvider", "launch_command", "process_count"]

DEFAULT_HOME = "~/.cache/ftsdk"

_COMMON = frozenset(
    {
        "epochs",
        "batch_size",
        "learning_rate",
        "learning_rate_multiplier",
        "max_steps",
        "warmup_ratio",
        "weight_decay",
        "max_seq_length",
        "gradient_accumulation_steps",
        "adapter",
        "lora_r",
        "lora_alpha",
        "lora_dropout",
    }
)
_FORMATS = {
    "sft": frozenset({DataFormat.CHAT, DataFormat.PROMPT_COMPLETION, DataFormat.TEXT}),
    "dpo": frozenset({DataFormat.PREFERENCE}),
}


class TRLOptions(SpeedOptions):
    """Keys accepted in ``JobSpec.provider_options`` for local TRL jobs (the speed ones,
    unset by default and chosen per job and device, from :class:`SpeedOptions`)."""

    num_threads: PositiveInt | None = None
    """CPU threads for torch (``torch.set_num_threads``); one gives steady timings on a
    shared machine. Default: torch's choice."""
    num_processes: PositiveInt | None = None
    """Processes (GPUs) for ``accelerate launch``; default: every visible GPU, and no
    ``accelerate`` at all with one or none. ``method.batch_size`` stays the examples per
    optimizer step: each process takes its share."""
    max_per_device_batch_size: PositiveInt | None = None
    """The most examples one process takes at once; a larger share of ``batch_size`` is
    split into gradient accumulation steps (same steps, less memory). Default: no cap."""
    logging_steps: PositiveInt | None = None
    """Steps between metric rows (default 10, as TRL; 1 costs ~5 % on a tiny model)."""
    save_steps: PositiveInt | PositiveFloat | None = None
    """Steps between checkpoints, or a fraction of the run below 1 (default: each epoch)."""
    save_minutes: PositiveFloat | None = 10.0
    """Also save a checkpoint after this many minutes without one, so a killed run loses
    at most that much work (``None``: only by steps or epochs)."""
    save_total_limit: PositiveInt | None = None
    """Checkpoints kept (default 2)."""
    eval_steps: PositiveInt | PositiveFloat | None = None
    """Steps between validation passes when validation data is given (default 0.1)."""
    merge: bool = False
    """Also save the base model with the LoRA adapter merged in; it becomes the result."""
    lora_target_modules: list[str] | None = None
    """Modules LoRA adapts (default ``"all-linear"``)."""
    lora_modules_to_save: list[str] | None = None
    """Modules trained in full beside the adapter (e.g. ``["embed_tokens"]``)."""


class TRLProvider(Provider):
    """Hugging Face TRL on this machine: SFT and DPO, full, LoRA or QLoRA, as background jobs.

    >>> # job = ftsdk.client("trl").train(base_model="/models/tiny", training_data="t.jsonl")
    >>> # job.wait().model.chat("convert 2024-03-07 to words").content
    """

    name = "trl"
    display_name = "Hugging Face TRL (local)"
    capabilities = Capabilities(
        methods=frozenset({"sft", "dpo"}),
        data_formats=frozenset(DataFormat),
        hyperparameters={"sft": _COMMON, "dpo": _COMMON | {"beta"}},
        operations=frozenset(
            {
                Operation.TRAIN,
                Operation.LIST_JOBS,
                Operation.CANCEL,
                Operation.PAUSE,
                Operation.RESUME,
                Operation.EVENTS,
                Operation.METRICS,
                Operation.CHECKPOINTS,
                Operation.CHAT,
                Operation.STREAM,
                Operation.PUSH,
            }
        ),
        min_examples=1,
    )
    Options = TRLOptions
    credential_env_vars = (
        "FTSDK_HOME",
        "HF_TOKEN",
    )

    def __init__(
        self,
        *,
        home: str | None = None,
        hf_token: str | SecretStr | None = None,
        pause_timeout: float = 120.0,
    ) -> None:
        self.home = Path(resolve_setting(home, ["FTSDK_HOME"]) or DEFAULT_HOME).expanduser()
        self.hf_token = resolve_secret(
            hf_token, ["HF_TOKEN"], provider=self.name, argument="hf_token", required=False
        )
        self.pause_timeout = pause_timeout
        self.store = JobStore(self.home, self.name, prefix="trljob")
        """The job folders (``<home>/trl/jobs/<job id>``) and the runners started here."""
        self._loaded: dict[str, Any] = {}
        # transformers' loading is not thread-safe (its meta-device init patches torch for the
        # whole process): models are loaded one at a time, then generate from any thread.
        self._load_lock = threading.Lock()

    @property
    def jobs_dir(self) -> Path:
        """Where job folders live: ``<home>/trl/jobs``."""
        return self.store.jobs_dir

    def _job(self, job_id: str) -> JobDir:
        return self.store.get(job_id)

    # -- creating ----------------------------------------------------------------------
    def check_spec(self, spec: JobSpec) -> None:
        """What TRL refuses whatever the data: a ``batch_size`` that does not split evenly
        over the processes (and accumulation steps). :meth:`ftsdk.Client.check` runs it."""
        options = TRLOptions.model_validate(spec.provider_options).model_dump(mode="json")
        _batch_plan(spec.method.model_dump(mode="json"), options)

    def create_job(self, request: TrainingRequest) -> JobState:
        """Check everything that can be checked, write the job folder, start the runner."""
        existing = self.store.for_key(request.idempotency_key)
        if existing is not None:
            return self.get_job(existing)
        spec = request.spec
        method = spec.method.model_dump(mode="json")
        options: dict[str, Any] = request.options.model_dump(mode="json")
        if method.get("learning_rate") and method.get("learning_rate_multiplier") not in (
            None,
            "auto",
        ):
            raise InvalidRequest(
                "method: give learning_rate (absolute) or learning_rate_multiplier (of the "
                "default), not both",
                field="method.learning_rate_multiplier",
                provider=self.name,
            )
        batch = _batch_plan(method, options)
        model_path = resolve_base_model(spec.base_model)
        if method.get("adapter") == "qlora":
            _check_qlora()
        train_path = _local_path(request.training_file, "training_data")
        valid_path = (
            _local_path(request.validation_file, "validation_data")
            if request.validation_file is not None
            else None
        )
        fmt = _check_data(train_path, spec.method.type, model_path, "training_data")
        if valid_path is not None:
            _check_data(valid_path, spec.method.type, model_path, "validation_data")
        if fmt in (DataFormat.CHAT, DataFormat.PREFERENCE) and not _has_chat_template(model_path):
            raise InvalidRequest(
                f"base_model: {spec.base_model} has no chat template, so chat data cannot be "
                "rendered; add one to its tokenizer or use prompt/completion or text data",
                field="base_model",
                provider=self.name,
            )
        job = self.store.create()
        shutil.copyfile(train_path, job.path / "train.jsonl")
        if valid_path is not None:
            shutil.copyfile(valid_path, job.path / "valid.jsonl")
        write_json_atomic(
            job.spec_file,
            {
                "job_id": job.id,
                "base_model": spec.base_model,
                "model_path": str(model_path),
                "method": method,
                "batch": batch.as_dict(),  # what batch_size became; the runner derives it again
                "data_format": fmt.value if fmt else None,
                "train_file": str(job.path / "train.jsonl"),
                "validation_file": str(job.path / "valid.jsonl") if valid_path else None,
                "seed": spec.seed,
                "suffix": spec.suffix,
                "metadata": spec.metadata,
                "options": options,
                "idempotency_key": request.idempotency_key,
            },
        )
        job.update_status(
            status="queued",
            raw_status="starting",
            created_at=now_iso(),
            base_model=spec.base_model,
            method=spec.method.type,
            metadata=spec.metadata,
        )
        job.add_event(f"job created: {spec.method.type} on {spec.base_model}")
        self.store.remember(request.idempotency_key, job)
        self._start(job, resume=False)
        return self._state(job)

    def _start(self, job: JobDir, *, resume: bool) -> None:
        options = _runner_options(job)
        command = launch_command(
            job.path, resume=resume, num_processes=options.get("num_processes")
        )
        # training reads local files only: no credential goes to its process (pushing to
        # the Hub happens in the caller's process, with the token passed per call)
        env = runner_env(
            os.environ,
            PYTHONUNBUFFERED="1",
            TOKENIZERS_PARALLELISM="false",
            HF_HUB_OFFLINE="1",  # the base model was resolved to local files
            HF_HUB_DISABLE_PROGRESS_BARS="1",
        )
        self.store.start(job, command, env)

    # -- reading -----------------------------------------------------------------------
    def get_job(self, job_id: str) -> JobState:
        """The job's state; a job whose process died unfinished is reported ``failed``."""
        return self._state(self._job(job_id))

    def _state(self, job: JobDir) -> JobState:
        self.store.poll(job)
        try:
            status = job.read_status()
            result = status.get("result_model")
            if result is not None and _result_path(job, result) is None:
                raise job.damage(job.status_file, f"names a model outside its folder ({result})")
            status = job.check_runner(status, "the training process")
        except DamagedJob as err:  # listed and watched as damaged; other jobs unaffected
            return job.damaged_state(self.name, err)
        except FileNotFoundError as err:  # removed since it was found
            raise NotFound(f"job {job.id} was removed", provider=self.name) from err
        return job.job_state(self.name, status)

    def list_jobs(self, *, limit: int) -> list[JobState]:
        """The newest jobs first."""
        return newest_first((self._state(job) for job in self.store.folders()), limit)

    def list_events(self, job_id: str, *, after: str | None) -> list[JobEvent]:
        """Events after the event ``after`` (an event's id is its line number)."""
        return self._job(job_id).job_events(after)

    def list_metrics(self, job_id: str) -> list[Metric]:
        """One row per logged step."""
        return self._job(job_id).job_metrics()

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        """Complete checkpoints; their ``model`` is the folder, usable with ``chat``."""
        job = self._job(job_id)
        metrics = {row["step"]: row["values"] for row in job.metrics()}
        return [
            Checkpoint(
                id=f"{job.id}:{folder.name}",
                job_id=job.id,
                step=step,
                model=str(folder),
                metrics=metrics.get(step, {}),
                created_at=datetime.fromtimestamp(folder.stat().st_mtime, UTC),
            )
            for step, folder in job.checkpoints()
        ]

    # -- controlling ---------------------------------------------------------------------
    def cancel_job(self, job_id: str) -> JobState:
        """Stop the runner (its whole process group) and mark the job ``cancelled``, under
        the job's lock (a resume at the same time waits, then finds it cancelled)."""
        job = self._job(job_id)
        with job.locked():
            state = self._state(job)
            if state.status.is_terminal:
                return state
            stop_process(job.process())
            self.store.reap(job)
            job.update_status(status="cancelled", raw_status="cancelled", finished_at=now_iso())
            job.add_event("cancelled")
        return self._state(job)

    def pause_job(self, job_id: str) -> JobState:
        """Ask the runner to save a checkpoint and stop; wait (``pause_timeout``) for it.

        :raises InvalidRequest: the job is not queued or running (not retried: it stays so).
        """
        job = self._job(job_id)
        state = self._state(job)
        if state.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            raise InvalidRequest(
                f"job {job_id} is {state.status.value}; only a queued or running job pauses",
                provider=self.name,
                code="job_not_running",
            )
        job.request("pause")
        job.add_event("pause requested")
        deadline = time.monotonic() + self.pause_timeout
        while time.monotonic() < deadline:
            state = self._state(job)
            if state.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                self.store.reap(job)
                return state
            time.sleep(0.2)
        return state

    def resume_job(self, job_id: str) -> JobState:
        """Start a new runner from the last checkpoint (a paused job, or one whose process
        died, killed or crashed).

        The status is checked, set to ``queued`` and the runner started and recorded under
        the job's lock, so no reader ever sees the queued job with the old, dead runner.

        :raises InvalidRequest: the job cannot resume (not paused or failed, no checkpoint,
            damaged); not retried, since waiting does not change that.
        """
        job = self._job(job_id)
        with job.locked():
            state = self._state(job)
            why = None
            if state.raw_status == "damaged" and state.error is not None:
                why = state.error.message
            elif state.status not in (JobStatus.PAUSED, JobStatus.FAILED):
                why = f"job {job_id} is {state.status.value}; only a paused or failed job resumes"
            elif state.status is JobStatus.FAILED and job.last_checkpoint() is None:
                why = f"job {job_id} failed before its first checkpoint; start it again"
            if why is not None:
                raise InvalidRequest(why, provider=self.name, code="job_not_resumable")
            _runner_options(job)  # a damaged spec.json fails here, before the status changes
            job.clear_request()
            job.update_status(status="queued", raw_status="resuming", error=None, finished_at=None)
            job.add_event("resume requested")
            self._start(job, resume=True)
        return self._state(job)

    def close(self) -> None:
        """Forget the runners started here (they keep running: jobs outlive the client)."""
        self.store.forget()
        self._loaded.clear()

    # -- models --------------------------------------------------------------------------
    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        """Generate locally with the model's weights (full, merged, or base + adapter)."""
        from ftsdk_trl import inference

        return inference.chat(self._load(model), messages, params, model_id=model.id)

    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ChatChunk]:
        """Generate as ``chat`` does, yielding the text as it is written; closing the
        stream stops generating at the next token."""
        from ftsdk_trl import inference

        yield from inference.stream(self._load(model), messages, params, model_id=model.id)

    def _load(self, model: ModelInfo) -> Any:
        """The model's weights and tokenizer, loaded once per folder."""
        from ftsdk_trl import inference

        path = self._model_path(model)
        with self._load_lock:
            loaded = self._loaded.get(str(path))
            if loaded is None:
                loaded = self._loaded[str(path)] = inference.load(path)
        return loaded

    def push_model(self, model: ModelInfo, *, repo_id: str, private: bool) -> str:
        """Upload the model's folder (full or merged weights, or the adapter) with
        ``huggingface_hub``; ``HF_ENDPOINT`` chooses the Hub. The token is passed per call,
        never written to the job folder."""
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        from ftsdk.errors import error_for_status

        if self.hf_token is None:
            raise MissingCredentials(
                "pushing to the Hub needs a token: set HF_TOKEN or pass hf_token=...",
                provider=self.name,
            )
        folder = self._model_path(model)
        if not folder.is_dir():
            raise InvalidRequest(
                f"{model.id}: no local weights to push ({folder})", provider=self.name
            )
        api = HfApi(
            endpoint=os.environ.get("HF_ENDPOINT") or None, token=self.hf_token.get_secret_value()
        )
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            api.upload_folder(
                folder_path=folder, repo_id=repo_id, commit_message=f"Upload {model.id} with ftsdk"
            )
        except HfHubHTTPError as err:
            status = err.response.status_code if err.response is not None else 500
            raise error_for_status(
                status, f"the Hub refused the push: {err}", provider=self.name
            ) from err
        except json.JSONDecodeError as err:  # huggingface_hub reads some answers unchecked
            raise ProviderUnavailable(
                f"the Hub at {api.endpoint} answered something that is not JSON, so it is "
                "not a Hugging Face Hub (or is failing): check HF_ENDPOINT, or try later",
                provider=self.name,
            ) from err
        except ValueError as err:  # README.md's metadata, a repo id: huggingface_hub's checks
            raise InvalidRequest(
                f"the Hub refused the push: {err}".rstrip()
                + (
                    f"; fix the YAML header (between the --- lines) of {folder / 'README.md'}"
                    if "README.md" in str(err)
                    else ""
                ),
                provider=self.name,
            ) from err
        endpoint = (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
        return f"{endpoint}/{repo_id}"

    def _model_path(self, model: ModelInfo) -> Path:
        if model.path is not None:
            return model.path
        folder = local_folder(model.id)
        if folder is not None:  # weights, an adapter, or a checkpoint
            if not any(
                (folder / name).is_file() for name in ("config.json", "adapter_config.json")
            ):
                raise InvalidRequest(
                    f"{model.id}: neither config.json nor adapter_config.json in it "
                    "(not a transformers model, adapter or checkpoint folder)",
                    field="model",
                    provider=self.name,
                )
            return folder
        if model.id.startswith("trljob-"):  # a job id, or a checkpoint id "<job>:checkpoint-N"
            job_id, _, checkpoint = model.id.partition(":")
            job = self._job(job_id)
            if checkpoint:
                return _checkpoint(job, checkpoint, self.name)
            state = self._state(job)
            if state.raw_status == "damaged" and state.error is not None:
                raise DamagedJob(state.error.message, path=job.status_file, provider=self.name)
            result = _result_path(job, state.result_model) if state.result_model else None
            if result is None:  # not retried: it may be hours, or never
                raise InvalidRequest(
                    f"job {job_id} has no model (it is {state.status.value}); "
                    f"wait for it: ftsdk jobs watch {job_id} -p trl",
                    field="model",
                    provider=self.name,
                    code="no_model_yet",
                )
            return result
        return resolve_base_model(model.id)


def _runner_options(job: JobDir) -> dict[str, Any]:
    """The options in the job's spec.json, checked as the runner reads them.

    :raises DamagedJob: spec.json is damaged or lacks what the runner reads.
    """
    spec = job.read_spec()
    options = spec.get("options") if spec.get("options") is not None else {}
    processes = options.get("num_processes") if isinstance(options, dict) else None
    if not (
        isinstance(spec.get("model_path"), str)
        and isinstance(spec.get("train_file"), str)
        and isinstance(spec.get("method"), dict)
        and isinstance(options, dict)
        and (processes is None or (isinstance(processes, int) and 0 < processes < 1024))
    ):
        raise job.damage(job.spec_file, "lacks the model, data, method or options to train")
    return options


def _checkpoint(job: JobDir, name: str, provider: str) -> Path:
    """The folder of checkpoint ``name`` (``checkpoint-<step>``) of ``job``, never outside it.

    :raises NotFound: no such complete checkpoint in the job (or a name that is not one).
    """
    found = {f"checkpoint-{step}": folder for step, folder in job.checkpoints()}
    folder = found.get(name)
    if folder is None or not _inside(folder, job.checkpoints_dir):
        shown = name[:80] + "…" if len(name) > 80 else name
        have = ", ".join(found) or "none yet"
        raise NotFound(
            f"job {job.id} has no checkpoint {shown!r} (its checkpoints: {have})",
            provider=provider,
        )
    return folder


def _result_path(job: JobDir, result: str) -> Path | None:
    """The job's result model as a path in its folder (a relative one from the folder), or
    ``None`` when it leads outside."""
    path = job.path / result
    return path if _inside(path, job.path) else None


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, links followed, is in ``folder``."""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):
        return False


def launch_command(job_path: Path, *, resume: bool, num_processes: int | None) -> list[str]:
    """The runner's command line: plain Python, or ``accelerate launch`` for several GPUs.

    >>> launch_command(Path("/j"), resume=False, num_processes=2)[1:6]
    ['-m', 'accelerate.commands.launch', '--multi_gpu', '--num_processes', '2']
    """
    runner = ["-m", "ftsdk_trl.runner", str(job_path), *(["--resume"] if resume else [])]
    processes = process_count(num_processes)
    if processes <= 1:
        return [sys.executable, *runner]
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        str(processes),
        *runner,
    ]


def process_count(num_processes: int | None) -> int:
    """Processes a job trains on: ``num_processes``, else one per visible GPU, at least one.

    >>> process_count(3)
    3
    """
    return max(1, num_processes if num_processes is not None else visible_gpus())


def _batch_plan(method: dict[str, Any], options: dict[str, Any]) -> BatchPlan:
    """The job's batch split as its runner will split it (raises ``InvalidRequest``)."""
    return batch_plan(
        method,
        num_processes=process_count(options.get("num_processes")),
        max_per_device=options.get("max_per_device_batch_size"),
    )


def resolve_base_model(name: str) -> Path:
    """A local folder for ``name``: the folder itself, or a Hugging Face id already in the
    local cache. Never downloads.

    :raises InvalidRequest: neither.
    """
    path = local_folder(name)
    if path is not None:
        if not (path / "config.json").is_file():
            raise InvalidRequest(
                f"base_model: {name} has no config.json (not a transformers model folder)",
                field="base_model",
            )
        return path.resolve()
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(name, local_files_only=True))
        except Exception as err:
            raise InvalidRequest(
                f"base_model: {name} is not in the local Hugging Face cache; download it "
                f"first (hf download {name}) or pass a local folder",
                field="base_model",
            ) from err
    raise InvalidRequest(
        f"base_model: {name} is neither a local model folder nor a Hugging Face id (org/name)",
        field="base_model",
    )


def _local_path(ref: Any, label: str) -> Path:
    if ref is None or ref.path is None or not Path(ref.path).is_file():
        raise InvalidRequest(f"{label}: a local file is needed for local training", field=label)
    return Path(ref.path)


def _check_data(path: Path, method: str, model_path: Path, label: str) -> DataFormat | None:
    """Validate the file before anything starts; raise with file:line:field problems."""
    from ftsdk.dataset import Dataset, Target

    target = Target.for_model("trl", str(model_path), formats=_FORMATS[method])
    report = Dataset.load(path).validate(target, count_tokens=False)
    try:
        report.raise_for_errors()
    except InvalidRequest as err:
        err.field = err.field or label
        raise
    return DataFormat(report.format) if report.format else None


def _has_chat_template(model_path: Path) -> bool:
    import json

    if (model_path / "chat_template.jinja").is_file() or (
        model_path / "chat_template.json"
    ).is_file():
        return True
    try:
        config = json.loads((model_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(config.get("chat_template"))


def _check_qlora() -> None:
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        raise InvalidRequest(
            "method.adapter: qlora needs bitsandbytes and a CUDA GPU; "
            "pip install bitsandbytes, or use adapter='lora'",
            field="method.adapter",
        )
    import torch

    if not torch.cuda.is_available():
        raise InvalidRequest(
            "method.adapter: qlora (4-bit) needs a CUDA GPU and none is visible; "
            "use adapter='lora' or 'full' on the CPU",
            field="method.adapter",
        )
