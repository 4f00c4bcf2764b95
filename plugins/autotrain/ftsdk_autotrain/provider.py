"""The Hugging Face AutoTrain provider: AutoTrain LLM runs as ftsdk jobs.

AutoTrain (``autotrain-advanced`` 0.8.36) lives in a runtime venv of its own
(:mod:`ftsdk_autotrain.runtime`); this module imports neither it nor torch. A job is a
detached runner process (:mod:`ftsdk_autotrain.runner`, in ftsdk's venv) whose state lives
in a job folder under ``<home>/autotrain/jobs`` (the core's :mod:`ftsdk.jobdir`, shared
with the TRL provider), so any process can list, watch or cancel it by id.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt, SecretStr, field_validator

from ftsdk import JobSpec, ProviderOptions
from ftsdk.batchplan import BatchPlan
from ftsdk.capabilities import DataFormat, Operation
from ftsdk.credentials import resolve_setting
from ftsdk.datarules import DataRules
from ftsdk.errors import InvalidRequest, ProviderUnavailable
from ftsdk.jobdir import JobDir, now_iso, runner_env, visible_gpus, write_json_atomic
from ftsdk.jobs import JobState
from ftsdk.local import LocalProvider, has_chat_template, local_capabilities, model_folder
from ftsdk.models import ChatParams, ChatResponse, ModelInfo, Usage
from ftsdk.provider import TrainingRequest
from ftsdk_autotrain import translate

__all__ = ["AutoTrainOptions", "AutoTrainProvider"]

HOSTED_PREFIXES = ("spaces-", "ep-", "nvcf-")


class AutoTrainOptions(ProviderOptions):
    """Keys accepted in ``JobSpec.provider_options`` for AutoTrain jobs."""

    backend: str = "local"
    """Where AutoTrain trains: ``"local"`` (this machine, a background job), or one of
    AutoTrain's hosted backends: ``"spaces-<hardware>"`` (e.g. ``spaces-a10g-large``: a
    private Space on your account), ``"ep-<region>-<hardware>"`` (Inference Endpoints) or
    ``"nvcf-<hardware>"`` (NVIDIA DGX Cloud). Hosted backends need ``HF_TOKEN``."""
    username: str | None = None
    """Hugging Face user or organisation that owns a hosted run (hosted backends)."""
    merge_adapter: bool = False
    """With a LoRA adapter: merge it into the base; the merged model is the result."""
    logging_steps: PositiveInt | None = None
    """Steps between metric rows (default: AutoTrain's, 20 % of the data, 1 to 25)."""
    num_threads: PositiveInt | None = None
    """CPU threads for torch (``OMP_NUM_THREADS``) on the local backend."""
    chat_template: Literal["tokenizer", "chatml", "zephyr"] | None = None
    """How message lists are rendered (default: the tokenizer's own template)."""
    target_modules: str | None = None
    """Modules LoRA adapts, comma-separated (default ``all-linear``)."""
    optimizer: str | None = None
    """A transformers optimizer name (default ``adamw_torch``)."""
    scheduler: str | None = None
    """A learning-rate schedule (default ``linear``)."""
    mixed_precision: Literal["fp16", "bf16"] | None = None
    """Mixed precision on a GPU (default none: full precision, which the CPU needs)."""
    gradient_checkpointing: bool = False
    """Recompute activations to save memory (large models on a GPU)."""
    extra_params: dict[str, Any] = Field(default_factory=dict)
    """Other ``LLMTrainingParams`` fields, passed as they are (``token`` refused)."""

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value != "local" and not value.startswith(HOSTED_PREFIXES):
            raise ValueError(
                "backend must be 'local' or start with spaces-, ep- or nvcf- "
                "(NGC dgx-* backends are unreachable in AutoTrain 0.8.36)"
            )
        return value

    @field_validator("extra_params")
    @classmethod
    def _no_token(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "token" in value:
            raise ValueError("the token comes from HF_TOKEN (or hf_token=), never from options")
        return value


class AutoTrainProvider(LocalProvider):
    """Hugging Face AutoTrain: SFT and DPO, full or LoRA, locally or on hosted hardware.

    >>> # job = ftsdk.client("autotrain").train(base_model="/models/tiny", training_data="t.jsonl")
    >>> # job.wait().model.chat("convert 2024-03-07 to words").content
    """

    name = "autotrain"
    display_name = "Hugging Face AutoTrain"
    capabilities = local_capabilities(translate.HYPERPARAMETERS, Operation.CHAT)
    Options = AutoTrainOptions
    data_rules = DataRules.from_package("ftsdk_autotrain")
    job_prefix = "atjob"
    runner_label = "the AutoTrain runner"
    credential_env_vars = (
        "FTSDK_HOME",
        "FTSDK_AUTOTRAIN_PYTHON",
        "HF_TOKEN",
    )

    def __init__(
        self,
        *,
        home: str | None = None,
        hf_token: str | SecretStr | None = None,
        python: str | None = None,
        max_running_jobs: int | None = None,
    ) -> None:
        super().__init__(home=home, hf_token=hf_token, max_running_jobs=max_running_jobs)
        self.python = resolve_setting(python, ["FTSDK_AUTOTRAIN_PYTHON"])
        self._servers: dict[str, subprocess.Popen[str]] = {}
        self._lock = threading.Lock()

    # -- creating ----------------------------------------------------------------------
    def check_spec(self, spec: JobSpec) -> None:
        """What AutoTrain refuses whatever the data: a hosted backend without a token,
        validation data, a local base model folder on a hosted backend, a local run's base
        model that is not a local folder. :meth:`ftsdk.Client.check` runs it, so a spec
        ``check`` passes is not refused by ``train``."""
        options = AutoTrainOptions.model_validate(spec.provider_options)
        hosted = options.backend != "local"
        if hosted and self.hf_token is None:
            raise InvalidRequest(
                f"provider_options.backend: {options.backend} runs on Hugging Face and needs "
                "a token: set HF_TOKEN or pass hf_token=",
                field="provider_options.backend",
                provider=self.name,
            )
        if spec.validation_data is not None:
            raise InvalidRequest(
                "validation_data: AutoTrain 0.8.36 cannot evaluate on validation data (it "
                "drops the split, then its evaluation fails); leave it out",
                field="validation_data",
                provider=self.name,
            )
        if hosted and _local_model(spec.base_model, required=False) is not None:
            raise InvalidRequest(
                f"base_model: {options.backend} trains on Hugging Face, which cannot read the "
                f"local folder {spec.base_model}; push it to the Hub and pass its id",
                field="base_model",
                provider=self.name,
            )
        _local_model(spec.base_model, required=not hosted)
        translate.batch_split(
            spec.method.model_dump(mode="json"), processes=_processes(options.backend)
        )

    def create_job(self, request: TrainingRequest) -> JobState:
        """Validate the spec and data, stage AutoTrain's data folder and parameters, start
        the runner."""
        existing = self.existing_job(request)
        if existing is not None:
            return existing
        spec = request.spec
        self.check_spec(spec)
        options: AutoTrainOptions = request.options  # type: ignore[assignment]
        hosted = options.backend != "local"
        method = spec.method.model_dump(mode="json")
        model_path = None if hosted else _local_model(spec.base_model, required=True)
        data = self.local_data(request, tokenizer=spec.base_model)
        fmt = data.format
        has_template = model_path is not None and has_chat_template(model_path)
        if not hosted and options.chat_template in (None, "tokenizer"):
            self.require_chat_template(
                fmt,
                model_path,
                spec.base_model,
                instead="pass provider_options chat_template='chatml', or use text data",
            )
        job = self.new_job()
        from ftsdk.dataset import Dataset

        chat = translate.stage_data(
            Dataset.load(data.training),
            fmt or DataFormat.TEXT,
            job.path / "data",
            chat_template=has_template or options.chat_template is not None or hosted,
        )
        trained_model = spec.base_model
        if model_path is not None:
            trained_model = str(_compatible_model(model_path, job.path / "base-model"))
        project = translate.project_name(job.id)
        processes = _processes(options.backend)
        split = translate.batch_split(method, processes=processes)
        params = translate.training_params(
            method,
            model=trained_model,
            data_path=str(job.path / "data"),
            project=project,
            data_format=fmt,
            chat=chat,
            seed=spec.seed,
            options=options.model_dump(mode="json"),
            model_context=_model_context(model_path),
            processes=processes,
        )
        if hosted and options.username:
            params["username"] = options.username
        params |= options.extra_params
        write_json_atomic(job.path / "params.json", params)
        events = [f"backend: {options.backend}"]
        if split is not None:
            events.append(f"batch: {BatchPlan(**split)}")
        return self.launch(
            job,
            request,
            data,
            record={
                "home": str(self.home),
                "python": self.python,
                # what batch_size became (None: AutoTrain's own per-device default)
                "batch": split,
                "backend": options.backend,
                "params": params,
                "params_file": str(job.path / "params.json"),
                "output_dir": str(job.path / project),
            },
            events=events,
        )

    def runner(self, job: JobDir, *, resume: bool) -> tuple[list[str], dict[str, str]]:
        """``python -m ftsdk_autotrain.runner JOB_DIR`` in ftsdk's venv; only a hosted run's
        runner gets the token (in its environment, never on disk)."""
        if resume:
            raise InvalidRequest("AutoTrain jobs do not resume", provider=self.name)
        command = [sys.executable, "-m", "ftsdk_autotrain.runner", str(job.path)]
        env = runner_env(os.environ)  # no credential the runner does not need
        if job.read_spec().get("backend") != "local" and self.hf_token is not None:
            env["HF_TOKEN"] = self.hf_token.get_secret_value()
        if self.python:
            env["FTSDK_AUTOTRAIN_PYTHON"] = self.python
        env["PYTHONUNBUFFERED"] = "1"
        return command, env

    # -- reading -----------------------------------------------------------------------
    def read_status(self, job: JobDir) -> dict[str, Any]:
        """The job's status; a hosted run's read back from the Hub, and a local run's
        ``failed`` when its runner died unfinished (a submitted hosted run has none)."""
        status = job.read_status()
        if status.get("raw_status") == "submitted" or str(status.get("raw_status", "")).startswith(
            "space:"
        ):
            status = self._hosted_status(job, status)
        if _unfinished(status):
            status = job.check_runner(status, self.runner_label)
        return status

    def _hosted_status(  # noqa: PLR0911 - one return per Space stage
        self, job: JobDir, status: dict[str, Any]
    ) -> dict[str, Any]:
        """A Space's run read back from the Hub API (``GET /api/spaces/{id}/runtime``).

        AutoTrain's Space pauses itself when training ends, failed or not, so a paused Space
        succeeded only when its model repo ``{user}/{project}`` exists. Inference Endpoints
        and NVCF runs are not read back: they stay ``running`` (raw ``submitted``).
        """
        space = status.get("hosted_result")
        if status.get("status") not in ("queued", "running") or not isinstance(space, str):
            return status
        if not str(job.read_spec().get("backend")).startswith("spaces-"):
            return status
        import httpx

        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        headers = {}
        if self.hf_token is not None:
            headers["Authorization"] = f"Bearer {self.hf_token.get_secret_value()}"
        try:
            answer = httpx.get(f"{endpoint}/api/spaces/{space}/runtime", headers=headers)
            answer.raise_for_status()
            stage = str(answer.json().get("stage", "UNKNOWN"))
        except (httpx.HTTPError, ValueError):
            return status  # unreachable now: keep what we knew
        if stage == "PAUSED":
            owner = space.split("/")[0]
            params = job.read_spec().get("params")
            if not isinstance(params, dict) or not isinstance(params.get("project_name"), str):
                raise job.damage(job.spec_file, "lacks the project name of the Space's run")
            model = f"{owner}/{params['project_name']}"
            found = httpx.get(f"{endpoint}/api/models/{model}", headers=headers)
            if found.status_code == 200:
                job.add_event(f"the Space {space} finished; model {model}")
                return job.update_status(
                    status="succeeded",
                    raw_status="space:PAUSED",
                    finished_at=now_iso(),
                    result_model=model,
                )
            message = (
                f"the Space {space} stopped without pushing {model}; AutoTrain opened a "
                "discussion on it with the error"
            )
            job.add_event(message, level="error")
            return job.update_status(
                status="failed",
                raw_status="space:PAUSED",
                finished_at=now_iso(),
                error={"message": message, "code": "space_failed"},
            )
        if "ERROR" in stage:
            message = f"the Space {space} is in stage {stage}"
            job.add_event(message, level="error")
            return job.update_status(
                status="failed",
                raw_status=f"space:{stage}",
                finished_at=now_iso(),
                error={"message": message, "code": stage.lower()},
            )
        if status.get("raw_status") != f"space:{stage}":
            job.add_event(f"the Space {space} is {stage}")
            return job.update_status(status="running", raw_status=f"space:{stage}")
        return status

    def close(self) -> None:
        """Stop the chat servers started here (jobs keep running: they outlive the client)."""
        super().close()
        for server in self._servers.values():
            with contextlib.suppress(OSError):
                server.stdin.close()  # type: ignore[union-attr]
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
            if server.poll() is None:
                server.kill()
        self._servers.clear()

    # -- models --------------------------------------------------------------------------
    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        """Generate with the model's weights in the AutoTrain runtime (transformers 4.48),
        through a chat server process kept per model while this provider lives."""
        path = self._model_path(model)
        request = {
            "messages": messages,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
            "stop": params.stop,
        }
        with self._lock:
            server = self._server(path)
            assert server.stdin is not None
            server.stdin.write(json.dumps(request) + "\n")
            server.stdin.flush()
            reply = _read_json(server)
        if reply is None or "error" in reply:
            self._servers.pop(str(path), None)
            why = reply["error"] if reply else "the chat process ended"
            raise ProviderUnavailable(f"chat with {path} failed: {why}", provider=self.name)
        return ChatResponse(
            content=reply["content"],
            model=model.id,
            usage=Usage(
                prompt_tokens=reply["prompt_tokens"], completion_tokens=reply["completion_tokens"]
            ),
            finish_reason=reply["finish_reason"],
        )

    def _server(self, path: Path) -> subprocess.Popen[str]:
        server = self._servers.get(str(path))
        if server is not None and server.poll() is None:
            return server
        from ftsdk_autotrain.runtime import runtime_for

        python = runtime_for(self.home, self.python).ensure()
        env = runner_env(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        env.pop("PYTHONPATH", None)  # ftsdk's packages must not shadow the runtime's
        server = subprocess.Popen(
            [str(python), str(Path(__file__).parent / "_runtime" / "chat.py"), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        ready = _read_json(server)
        if not ready or not ready.get("ready"):
            server.kill()
            raise ProviderUnavailable(
                f"could not load {path} in the AutoTrain runtime", provider=self.name
            )
        self._servers[str(path)] = server
        return server

    def _model_path(self, model: ModelInfo) -> Path:
        folder = self.weights_folder(model)
        if folder is not None:
            if model.path is not None:
                return folder
            path = folder.resolve()
            compat = _needs_compat(path)
            return path if not compat else _compatible_model(path, _compat_cache(self.home, path))
        if model.id.startswith(f"{self.job_prefix}-"):
            _job, result = self.job_result(model.id)
            return Path(result)
        raise InvalidRequest(
            f"model {model.id!r} is not a local model folder or an autotrain job id",
            field="model",
            provider=self.name,
        )


def _unfinished(status: dict[str, Any]) -> bool:
    """A local run that should have a live runner (a submitted hosted run has none)."""
    raw = str(status.get("raw_status", ""))
    return status.get("status") in ("queued", "running") and not (
        raw == "submitted" or raw.startswith("space:")
    )


def _read_json(server: subprocess.Popen[str]) -> dict[str, Any] | None:
    """The next JSON line the server prints (other lines, such as library noise, skipped)."""
    assert server.stdout is not None
    for line in server.stdout:
        text = line.strip()
        if text.startswith("{"):
            with contextlib.suppress(ValueError):
                reply: dict[str, Any] = json.loads(text)
                return reply
    return None


def _local_model(name: str, *, required: bool) -> Path | None:
    """The base model's local folder; hosted runs may name a Hub id instead."""
    path = model_folder(name)
    if path is not None or not required:
        return path
    raise InvalidRequest(
        f"base_model: {name} is not a local model folder; the local AutoTrain backend never "
        "downloads (download it first, e.g. hf download ORG/NAME, and pass the folder)",
        field="base_model",
    )


def _processes(backend: str) -> int:
    """Processes AutoTrain will train with: one per GPU of the hardware (local: visible)."""
    return translate.processes(backend, local_gpus=visible_gpus() if backend == "local" else 0)


def _model_context(model_path: Path | None) -> int | None:
    if model_path is None:
        return None
    try:
        config = json.loads((model_path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = config.get("max_position_embeddings")
    return int(value) if isinstance(value, int) else None


def _needs_compat(path: Path) -> bool:
    """Whether transformers 4.48 (AutoTrain's) cannot read the folder as it stands: a
    tokenizer saved by transformers 5 (``TokenizersBackend``, template in a .jinja file)."""
    try:
        config = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if config.get("tokenizer_class") == "TokenizersBackend":
        return True
    return (path / "chat_template.jinja").is_file() and not config.get("chat_template")


def _compat_cache(home: Path, path: Path) -> Path:
    import hashlib

    return home / "autotrain" / "compat" / hashlib.sha256(str(path).encode()).hexdigest()[:16]


def _compatible_model(path: Path, view: Path) -> Path:
    """``path`` itself, or a view of it that transformers 4.48 reads: links to every file
    but the tokenizer config (class ``PreTrainedTokenizerFast``, chat template inlined) and
    the model config (``rope_theta`` restored from transformers 5's ``rope_parameters``)."""
    if not _needs_compat(path):
        return path
    view.mkdir(parents=True, exist_ok=True)
    for item in path.iterdir():
        if item.name in ("tokenizer_config.json", "config.json"):
            continue
        link = view / item.name
        if not link.exists():
            link.symlink_to(item)
    tokenizer = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokenizer.pop("backend", None)
    tokenizer["tokenizer_class"] = "PreTrainedTokenizerFast"
    template = path / "chat_template.jinja"
    if template.is_file() and not tokenizer.get("chat_template"):
        tokenizer["chat_template"] = template.read_text(encoding="utf-8")
    write_json_atomic(view / "tokenizer_config.json", tokenizer)
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    rope = config.get("rope_parameters")
    if isinstance(rope, dict) and "rope_theta" in rope and "rope_theta" not in config:
        config["rope_theta"] = rope["rope_theta"]
    if "dtype" in config and "torch_dtype" not in config:
        config["torch_dtype"] = config["dtype"]
    write_json_atomic(view / "config.json", config)
    (view / "chat_template.jinja").unlink(missing_ok=True)
    return view
