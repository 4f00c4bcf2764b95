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
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr

from ftsdk import JobSpec
from ftsdk.capabilities import Operation
from ftsdk.datarules import DataRules
from ftsdk.errors import InvalidRequest, MissingCredentials, NotFound, ProviderUnavailable
from ftsdk.jobdir import JobDir, runner_env, visible_gpus
from ftsdk.jobs import Checkpoint, JobState
from ftsdk.local import (
    COMMON_HYPERPARAMETERS,
    PausableLocalProvider,
    local_capabilities,
    model_folder,
)
from ftsdk.models import ChatChunk, ChatParams, ChatResponse, ModelInfo
from ftsdk.provider import TrainingRequest
from ftsdk_trl.engines import Engine, EngineName, LocalEngine, engine_class
from ftsdk_trl.engines.hf_jobs import HFJobsOptions
from ftsdk_trl.engines.ray import RayOptions
from ftsdk_trl.engines.skypilot import SkyPilotOptions
from ftsdk_trl.speed import SpeedOptions
from ftsdk_trl.training import BatchPlan, batch_plan

__all__ = [
    "TRLOptions",
    "TRLProvider",
    "launch_command",
    "process_count",
    "runner_environment",
]

_HYPERPARAMETERS = COMMON_HYPERPARAMETERS | {"learning_rate_multiplier", "max_steps"}


class TRLOptions(SpeedOptions):
    """Keys accepted in ``JobSpec.provider_options`` for local TRL jobs (the speed ones,
    unset by default and chosen per job and device, from :class:`SpeedOptions`)."""

    num_threads: PositiveInt | None = None
    """CPU threads for torch (``torch.set_num_threads``); one gives steady timings on a
    shared machine. Default: torch's choice."""
    engine: EngineName = "local"
    """Where the job trains: ``local`` (this machine), ``ray`` (a Ray cluster),
    ``hf_jobs`` (Hugging Face Jobs) or ``skypilot`` (a cloud through SkyPilot); each reads
    its settings from the option of its name. See :mod:`ftsdk_trl.engines`."""
    num_processes: PositiveInt | None = None
    """Processes training together: GPUs (or CPU ranks) for ``accelerate launch`` here,
    Ray Train workers on Ray. Default: every visible GPU, and no ``accelerate`` at all with
    one or none. ``method.batch_size`` stays the examples per optimizer step: each process
    takes its share."""
    ray: RayOptions | None = None
    """Settings of the ``ray`` engine (its address, storage, resources per worker)."""
    hf_jobs: HFJobsOptions | None = None
    """Settings of the ``hf_jobs`` engine (hardware flavor, the repo the model goes to)."""
    skypilot: SkyPilotOptions | None = None
    """Settings of the ``skypilot`` engine (resources, cloud)."""
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
    num_generations: Annotated[int, Field(ge=2)] | None = None
    """Reinforcement (GRPO): answers sampled per prompt, compared with each other to score
    each one against its group (default 8). ``batch_size`` counts prompts."""
    max_completion_length: PositiveInt | None = None
    """Reinforcement: longest sampled answer, in tokens (default 256)."""
    temperature: PositiveFloat | None = None
    """Reinforcement: sampling temperature of the answers (default 1.0)."""
    vllm: bool | None = None
    """Reinforcement: sample answers with vLLM colocated on the training GPU. Default: when
    a CUDA GPU is visible and ``vllm`` is installed; ``True`` refuses to start without them."""


class TRLProvider(PausableLocalProvider):
    """Hugging Face TRL on this machine: SFT, DPO and reinforcement (GRPO with an
    :mod:`ftsdk.graders` grader), full, LoRA or QLoRA, as background jobs.

    >>> # job = ftsdk.client("trl").train(base_model="/models/tiny", training_data="t.jsonl")
    >>> # job.wait().model.chat("convert 2024-03-07 to words").content
    """

    name = "trl"
    display_name = "Hugging Face TRL (local)"
    capabilities = local_capabilities(
        {
            "sft": _HYPERPARAMETERS,
            "dpo": _HYPERPARAMETERS | {"beta"},
            "reinforcement": _HYPERPARAMETERS | {"eval_interval", "eval_samples"},
        },
        Operation.PAUSE,
        Operation.RESUME,
        Operation.CHECKPOINTS,
        Operation.CHAT,
        Operation.STREAM,
        Operation.PUSH,
    )
    Options = TRLOptions
    data_rules = DataRules.from_package("ftsdk_trl")
    job_prefix = "trljob"
    runner_label = "the training process"
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
        max_running_jobs: int | None = None,
    ) -> None:
        super().__init__(
            home=home,
            hf_token=hf_token,
            pause_timeout=pause_timeout,
            max_running_jobs=max_running_jobs,
        )
        self._loaded: dict[str, Any] = {}
        # transformers' loading is not thread-safe (its meta-device init patches torch for the
        # whole process): models are loaded one at a time, then generate from any thread.
        self._load_lock = threading.Lock()

    @classmethod
    def engines(cls) -> dict[str, str | None]:
        """The engines a job can run on, each ``None`` when installed here, else how to
        install it (``pip install 'ftsdk-trl[ray]'``)."""
        from ftsdk_trl.engines import engine_installs

        return engine_installs()

    # -- creating ----------------------------------------------------------------------
    def check_spec(self, spec: JobSpec) -> None:
        """What TRL refuses whatever the data: a ``batch_size`` that does not split evenly
        over the processes (and accumulation steps). :meth:`ftsdk.Client.check` runs it."""
        options = TRLOptions.model_validate(spec.provider_options).model_dump(mode="json")
        _batch_plan(spec.method.model_dump(mode="json"), options)
        self.engine(options).check(options)

    def create_job(self, request: TrainingRequest) -> JobState:
        """Check everything that can be checked, write the job folder, start the runner."""
        existing = self.existing_job(request)
        if existing is not None:
            return existing
        spec = request.spec
        method = spec.method.model_dump(mode="json")
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
        options = request.options.model_dump(mode="json")
        batch = _batch_plan(method, options)
        engine = self.engine(options)
        engine.check(options)
        model_path = engine.resolve_model(spec.base_model)
        if method.get("adapter") == "qlora":
            _check_qlora()
        data = self.local_data(request, tokenizer=str(model_path))
        record: dict[str, Any] = {}
        if method["type"] == "reinforcement":  # the runner rebuilds it with parse_grader
            record["grader"] = request.spec.method.grader.to_api()  # type: ignore[union-attr]
        self.require_chat_template(
            data.format,
            model_path,
            spec.base_model,
            instead="or use prompt/completion or text data",
        )
        job = self.new_job()
        shutil.copyfile(data.training, job.path / "train.jsonl")
        if data.validation is not None:
            shutil.copyfile(data.validation, job.path / "valid.jsonl")
        return self.launch(
            job,
            request,
            data,
            record={
                "model_path": str(model_path),
                "batch": batch.as_dict(),  # what batch_size became; the runner derives it again
                "train_file": str(job.path / "train.jsonl"),
                "validation_file": str(job.path / "valid.jsonl") if data.validation else None,
                **record,
            },
        )

    # -- the runner, on the job's engine ----------------------------------------------
    def engine(self, options: dict[str, Any]) -> Engine:
        """The engine a job with these provider options (as JSON) runs on."""
        return engine_class(options.get("engine") or "local")(self)

    def job_engine(self, job: JobDir) -> Engine:
        """The engine ``job`` runs on, as its spec.json records.

        :raises DamagedJob: spec.json is damaged.
        """
        return self.engine(_runner_options(job))

    def _status_engine(self, job: JobDir) -> Engine:
        """The engine that reads ``job``'s status and says whether it pauses: the one
        spec.json names, or with no spec.json, this machine's (its runner's pid and log
        are all a status needs; the missing file is found where a runner reads it).

        :raises DamagedJob: spec.json is there but damaged.
        """
        if not job.spec_file.exists():
            return LocalEngine(self)
        return self.job_engine(job)

    def runner(self, job: JobDir, *, resume: bool) -> tuple[list[str], dict[str, str]]:
        """The runner's command line on the job's engine: here, ``python -m
        ftsdk_trl.runner JOB_DIR`` (under ``accelerate launch`` on several processes) with
        no credential: training reads local files only (pushing to the Hub happens in the
        caller's process, with the token passed per call)."""
        options = _runner_options(job)
        return self.engine(options).command(job, options, resume=resume)

    def launch_runner(
        self, job: JobDir, command: list[str], env: dict[str, str], *, resume: bool
    ) -> None:
        """Start the runner on the job's engine."""
        self.job_engine(job).launch(job, command, env, resume=resume)

    def stop_runner(self, job: JobDir) -> None:
        """Stop the runner on the job's engine."""
        self.job_engine(job).stop(job)

    def pause_job(self, job_id: str) -> JobState:
        """Ask the runner to save a checkpoint and stop, on an engine whose runner sees the
        job folder (here, Ray); otherwise refuse, saying to cancel instead."""
        self._require_pausable(job_id, "pause")
        return super().pause_job(job_id)

    def resume_job(self, job_id: str) -> JobState:
        """Start a new runner from the last checkpoint, on the job's engine."""
        self._require_pausable(job_id, "resume")
        return super().resume_job(job_id)

    def _require_pausable(self, job_id: str, what: str) -> None:
        engine = self._status_engine(self._job(job_id))
        if not engine.pausable:
            raise InvalidRequest(
                f"job {job_id} runs on {engine.label}, where a job cannot {what}: cancel it "
                "and start it again",
                provider=self.name,
                code="job_not_resumable" if what == "resume" else "job_not_running",
            )

    # -- reading -----------------------------------------------------------------------
    def read_status(self, job: JobDir) -> dict[str, Any]:
        """The job's status; a result model outside the job's folder makes it damaged,
        found before anything is written (a damaged file is left for a person to read)."""
        status = job.read_status()
        result = status.get("result_model")
        if result is not None and _result_path(job, result) is None:
            raise job.damage(job.status_file, f"names a model outside its folder ({result})")
        return self._status_engine(job).read_status(job, status)

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

    def close(self) -> None:
        """Forget the runners started here (they keep running: jobs outlive the client)."""
        super().close()
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
        folder = self.weights_folder(model)
        if folder is not None:  # weights, an adapter, or a checkpoint
            return folder
        if model.id.startswith(
            f"{self.job_prefix}-"
        ):  # a job, or a checkpoint "<job>:checkpoint-N"
            job_id, _, checkpoint = model.id.partition(":")
            if checkpoint:
                return _checkpoint(self._job(job_id), checkpoint, self.name)
            job, result = self.job_result(job_id)
            path = _result_path(job, result)
            if path is None:  # read_status made it damaged already; a change since
                raise job.damage(job.status_file, f"names a model outside its folder ({result})")
            return path
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
    """The runner's command line: plain Python, or, for several processes, ``accelerate
    launch`` under the launcher of :mod:`ftsdk_trl.engines.ranks`.

    >>> launch_command(Path("/j"), resume=False, num_processes=2)[1:]
    ['-m', 'ftsdk_trl.engines.ranks', '/j', '--num-processes', '2']
    """
    processes = process_count(num_processes)
    if processes <= 1:
        return [
            sys.executable,
            "-m",
            "ftsdk_trl.runner",
            str(job_path),
            *(["--resume"] if resume else []),
        ]
    from ftsdk_trl.engines.ranks import launcher_command

    return launcher_command(job_path, resume=resume, num_processes=processes)


def runner_environment() -> dict[str, str]:
    """The environment of a runner on this machine: this one's, without credentials, and
    offline (the base model was resolved to local files)."""
    return runner_env(
        os.environ,
        PYTHONUNBUFFERED="1",
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )


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
    path = model_folder(name)
    if path is not None:
        return path
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
