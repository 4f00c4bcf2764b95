"""The base of local providers: jobs run by a detached runner process on this machine, with
their whole state in a job folder (:mod:`ftsdk.jobdir`), so any process can list, watch,
cancel (and, where the runner saves checkpoints on request, pause and resume) them by id.

A local provider (the TRL and AutoTrain plugins) subclasses :class:`LocalProvider` (or
:class:`PausableLocalProvider`), names its job ids (``job_prefix``), declares its data rules
and writes what is its own: the checks of its trainer, the files it stages in the job folder
and the runner's command line (:meth:`LocalProvider.runner`). The rest is here: the job
folders, the data and chat-template checks before a job starts, the runner's lifecycle, the
job's state read from its folder, and a limit on the jobs running at once.
"""

from __future__ import annotations

import abc
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr

from ftsdk.capabilities import Capabilities, DataFormat, MethodType, Operation
from ftsdk.credentials import resolve_secret, resolve_setting
from ftsdk.errors import InvalidRequest, NotFound
from ftsdk.files import FileRef
from ftsdk.jobdir import (
    DamagedJob,
    JobDir,
    JobStore,
    local_folder,
    newest_first,
    now_iso,
    stop_process,
    write_json_atomic,
)
from ftsdk.jobs import JobEvent, JobState, JobStatus, Metric
from ftsdk.models import ModelInfo
from ftsdk.provider import Provider, TrainingRequest

if TYPE_CHECKING:
    from ftsdk.graders.base import GraderBase

__all__ = [
    "COMMON_HYPERPARAMETERS",
    "DEFAULT_HOME",
    "LOCAL_OPERATIONS",
    "LocalData",
    "LocalProvider",
    "PausableLocalProvider",
    "has_chat_template",
    "local_capabilities",
    "model_folder",
]

DEFAULT_HOME = "~/.cache/ftsdk"
"""Where job folders live when neither ``home=`` nor ``FTSDK_HOME`` says."""

COMMON_HYPERPARAMETERS = frozenset(
    {
        "epochs",
        "batch_size",
        "learning_rate",
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
"""The :class:`ftsdk.SFT` / :class:`ftsdk.DPO` fields every local trainer here honours."""

LOCAL_OPERATIONS = frozenset(
    {Operation.TRAIN, Operation.LIST_JOBS, Operation.CANCEL, Operation.EVENTS, Operation.METRICS}
)
"""What :class:`LocalProvider` implements for every local provider."""

_ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True)
class LocalData:
    """A job's data files on this machine, checked against the provider's rules."""

    training: Path
    validation: Path | None
    format: DataFormat | None
    """The training data's format (``None`` for an empty file)."""


class LocalProvider(Provider, abc.ABC):
    """A provider whose jobs run on this machine, each in a job folder under the ftsdk home.

    :param home: the ftsdk home (``FTSDK_HOME``; default ``~/.cache/ftsdk``).
    :param hf_token: a Hugging Face token (``HF_TOKEN``), for what reaches the Hub.
    :param max_running_jobs: jobs this machine runs at once (queued or running, started
        from any process); one more is refused with a clear error before its folder is
        made. ``None``: no limit.
    """

    job_prefix: ClassVar[str]
    """The start of this provider's job ids (``trljob``, ``atjob``)."""
    runner_label: ClassVar[str] = "the runner"
    """How a job's process is named when it dies unfinished ("the training process")."""

    def __init__(
        self,
        *,
        home: str | None = None,
        hf_token: str | SecretStr | None = None,
        max_running_jobs: int | None = None,
    ) -> None:
        self.home = (
            Path(resolve_setting(home, ["FTSDK_HOME"]) or DEFAULT_HOME).expanduser().absolute()
        )
        self.hf_token = resolve_secret(
            hf_token, ["HF_TOKEN"], provider=self.name, argument="hf_token", required=False
        )
        if max_running_jobs is not None and max_running_jobs < 1:
            raise InvalidRequest(
                f"max_running_jobs: {max_running_jobs} would refuse every job; give 1 or more, "
                "or None for no limit",
                field="max_running_jobs",
                provider=self.name,
            )
        self.max_running_jobs = max_running_jobs
        self.store = JobStore(self.home, self.name, prefix=self.job_prefix)
        """The job folders (``<home>/<provider>/jobs/<job id>``) and the runners started here."""

    @property
    def jobs_dir(self) -> Path:
        """Where job folders live: ``<home>/<provider>/jobs``."""
        return self.store.jobs_dir

    def _job(self, job_id: str) -> JobDir:
        return self.store.get(job_id)

    # -- creating: what every local create_job does, in order ----------------------------
    def existing_job(self, request: TrainingRequest) -> JobState | None:
        """The job a previous attempt of this request made, if any (idempotent create)."""
        existing = self.store.for_key(request.idempotency_key)
        return None if existing is None else self.get_job(existing)

    def local_data(self, request: TrainingRequest, *, tokenizer: str) -> LocalData:
        """The request's data as local files, checked against the provider's declared rules
        for its method (``tokenizer``: the model whose tokenizer the rules would count with;
        tokens are not counted here, the core did when it checked the data), and for a
        reinforcement method, against the fields its grader reads.

        :raises InvalidRequest: a file that is not local.
        :raises InvalidDataset: data that breaks the rules, with file:line:field problems.
        """
        files = self.local_files(request)
        method = request.spec.method.type
        # reinforcement data must hold what the grader reads, as the client checks it
        grader = getattr(request.spec.method, "grader", None)
        fmt = self._check_file(files.training, method, tokenizer, "training_data", grader)
        if files.validation is not None:
            self._check_file(files.validation, method, tokenizer, "validation_data", grader)
        return LocalData(files.training, files.validation, fmt)

    def local_files(self, request: TrainingRequest) -> LocalData:
        """The request's data as local files, unchecked (format ``None``): for a provider
        that checks them its own way.

        :raises InvalidRequest: a file that is not local.
        """
        training = _local_path(request.training_file, "training_data")
        validation = (
            None
            if request.validation_file is None
            else _local_path(request.validation_file, "validation_data")
        )
        return LocalData(training, validation, None)

    def _check_file(
        self,
        path: Path,
        method: MethodType,
        tokenizer: str,
        label: str,
        grader: GraderBase | None = None,
    ) -> DataFormat | None:
        from ftsdk.dataset import Dataset, Target
        from ftsdk.dataset.grader_fields import missing_item_fields

        rules = self.data_rules
        if rules is not None and label != "training_data":  # the fewest examples: training only
            rules = rules.model_copy(update={"min_examples": None})
        target = (
            None
            if rules is None
            else Target.from_rules(self.name, rules, tokenizer, method=method, any_model=True)
        )
        dataset = Dataset.load(path)
        report = dataset.validate(target, count_tokens=False)
        if grader is not None:
            report.extend(missing_item_fields(dataset.examples(), grader))
        try:
            report.raise_for_errors()
        except InvalidRequest as err:
            err.field = err.field or label
            raise
        return DataFormat(report.format) if report.format else None

    def require_chat_template(
        self, fmt: DataFormat | None, model_path: Path | None, base_model: str, *, instead: str
    ) -> None:
        """Refuse chat or preference data for a model without a chat template to render it.

        :param instead: what the user can do, ending the message ("use text data").
        """
        if fmt not in (DataFormat.CHAT, DataFormat.PREFERENCE, DataFormat.REINFORCEMENT):
            return
        if model_path is not None and has_chat_template(model_path):
            return
        raise InvalidRequest(
            f"base_model: {base_model} has no chat template, so chat data cannot be rendered; "
            f"add one to its tokenizer, {instead}",
            field="base_model",
            provider=self.name,
        )

    def new_job(self) -> JobDir:
        """A new, empty job folder, unless ``max_running_jobs`` jobs already run.

        :raises InvalidRequest: the limit is reached (code ``too_many_jobs``; not retried:
            a job may run for hours).
        """
        if self.max_running_jobs is not None:
            running = [
                state.id
                for state in (self._state(job) for job in self.store.folders())
                if state.status in _ACTIVE
            ]
            if len(running) >= self.max_running_jobs:
                raise InvalidRequest(
                    f"{self.name} already runs {len(running)} job(s) on this machine "
                    f"({', '.join(sorted(running))}), its limit of max_running_jobs="
                    f"{self.max_running_jobs}: wait for one to finish or cancel it",
                    provider=self.name,
                    code="too_many_jobs",
                )
        return self.store.create()

    def launch(
        self,
        job: JobDir,
        request: TrainingRequest,
        data: LocalData,
        *,
        record: Mapping[str, Any],
        events: Sequence[str] = (),
    ) -> JobState:
        """Write the job's ``spec.json`` (what every local job records, and ``record``), mark
        it queued with its first events (``job created: ...``, then ``events``), remember its
        idempotency key and start its runner."""
        spec = request.spec
        write_json_atomic(
            job.spec_file,
            {
                "job_id": job.id,
                "base_model": spec.base_model,
                "method": spec.method.model_dump(mode="json"),
                "data_format": data.format.value if data.format else None,
                "seed": spec.seed,
                "suffix": spec.suffix,
                "metadata": spec.metadata,
                "options": request.options.model_dump(mode="json"),
                "idempotency_key": request.idempotency_key,
                **record,
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
        for event in events:
            job.add_event(event)
        self.store.remember(request.idempotency_key, job)
        self._start(job, resume=False)
        return self._state(job)

    @abc.abstractmethod
    def runner(self, job: JobDir, *, resume: bool) -> tuple[list[str], dict[str, str]]:
        """The runner's command line and environment for ``job`` (from its ``spec.json``).

        :raises DamagedJob: ``spec.json`` lacks what the runner reads.
        """

    def launch_runner(
        self, job: JobDir, command: list[str], env: dict[str, str], *, resume: bool
    ) -> None:
        """Start the runner :meth:`runner` described: a detached process on this machine.
        Override to run it elsewhere (a cluster's job API, a hosted service); then override
        :meth:`read_status` and :meth:`stop_runner` to match."""
        self.store.start(job, command, env)

    def stop_runner(self, job: JobDir) -> None:
        """Stop the job's runner (its whole process group) and wait for it to end."""
        stop_process(job.process())
        self.store.reap(job)

    def _start(self, job: JobDir, *, resume: bool) -> None:
        command, env = self.runner(job, resume=resume)
        self.launch_runner(job, command, env, resume=resume)

    # -- reading -------------------------------------------------------------------------
    def get_job(self, job_id: str) -> JobState:
        """The job's state; a job whose runner died unfinished is reported ``failed``."""
        return self._state(self._job(job_id))

    def _state(self, job: JobDir) -> JobState:
        self.store.poll(job)
        try:
            status = self.read_status(job)
        except DamagedJob as err:  # listed and watched as damaged; other jobs unaffected
            return job.damaged_state(self.name, err)
        except FileNotFoundError as err:  # removed since it was found
            raise NotFound(f"job {job.id} was removed", provider=self.name) from err
        return job.job_state(self.name, status)

    def read_status(self, job: JobDir) -> dict[str, Any]:
        """The job's status as its folder says, ``failed`` when its runner died unfinished.
        Override to check or read more (a hosted run's service).

        :raises DamagedJob: the folder's files are damaged.
        """
        return job.check_runner(job.read_status(), self.runner_label)

    def list_jobs(self, *, limit: int) -> list[JobState]:
        """The newest jobs first."""
        return newest_first((self._state(job) for job in self.store.folders()), limit)

    def list_events(self, job_id: str, *, after: str | None) -> list[JobEvent]:
        """Events after the event ``after`` (an event's id is its line number)."""
        return self._job(job_id).job_events(after)

    def list_metrics(self, job_id: str) -> list[Metric]:
        """One row per logged step."""
        return self._job(job_id).job_metrics()

    # -- controlling ---------------------------------------------------------------------
    def cancel_job(self, job_id: str) -> JobState:
        """Stop the runner (its whole process group) and mark the job ``cancelled``, under
        the job's lock (a resume at the same time waits, then finds it cancelled).

        Marked before the runner is stopped, so a runner that sees its trainer die knows
        why, and again after, over anything a runner wrote while it was stopping. When the
        runner cannot be stopped (a cluster that does not answer), the mark is taken back
        and the error raised: the job still runs, and saying it was cancelled would hide it.
        """
        job = self._job(job_id)
        with job.locked():
            state = self._state(job)
            if state.status.is_terminal:
                return state
            before = job.read_status()
            cancelled = {"status": "cancelled", "raw_status": "cancelled"}
            job.update_status(**cancelled, finished_at=now_iso())
            try:
                self.stop_runner(job)
            except Exception as err:
                job.update_status(
                    **{key: before.get(key) for key in ("status", "raw_status", "finished_at")}
                )
                job.add_event(f"cancel failed, the job goes on: {err}", level="warning")
                raise
            job.update_status(**cancelled)
            job.add_event("cancelled")
        return self._state(job)

    def close(self) -> None:
        """Forget the runners started here (they keep running: jobs outlive the client)."""
        self.store.forget()

    # -- models --------------------------------------------------------------------------
    def weights_folder(self, model: ModelInfo) -> Path | None:
        """``model.path``, or the local folder ``model.id`` names (weights, an adapter or a
        checkpoint); ``None`` when ``model.id`` is not a local folder.

        :raises InvalidRequest: a folder without ``config.json`` or ``adapter_config.json``.
        """
        if model.path is not None:
            return model.path
        folder = local_folder(model.id)
        if folder is None:
            return None
        if not any((folder / name).is_file() for name in ("config.json", "adapter_config.json")):
            raise InvalidRequest(  # before anything heavy is loaded to read it
                f"{model.id}: neither config.json nor adapter_config.json in it "
                "(not a transformers model, adapter or checkpoint folder)",
                field="model",
                provider=self.name,
            )
        return folder

    def job_result(self, job_id: str) -> tuple[JobDir, str]:
        """The job and its result model, as its status records it.

        :raises DamagedJob: the job is damaged.
        :raises InvalidRequest: it has no model yet (code ``no_model_yet``; not retried: it
            may be hours, or never).
        """
        job = self._job(job_id)
        state = self._state(job)
        if state.raw_status == "damaged" and state.error is not None:
            raise DamagedJob(state.error.message, path=job.status_file, provider=self.name)
        if not state.result_model:
            raise InvalidRequest(
                f"job {job_id} has no model (it is {state.status.value}); "
                f"wait for it: ftsdk jobs watch {job_id} -p {self.name}",
                field="model",
                provider=self.name,
                code="no_model_yet",
            )
        return job, state.result_model


class PausableLocalProvider(LocalProvider):
    """A local provider whose runner saves a checkpoint and stops when asked (``control``
    file), and can start again from its last checkpoint.

    :param pause_timeout: seconds :meth:`pause_job` waits for the runner to stop.
    """

    def __init__(self, *, pause_timeout: float = 120.0, **settings: Any) -> None:
        super().__init__(**settings)
        self.pause_timeout = pause_timeout

    def pause_job(self, job_id: str) -> JobState:
        """Ask the runner to save a checkpoint and stop; wait (``pause_timeout``) for it.

        :raises InvalidRequest: the job is not queued or running (not retried: it stays so).
        """
        job = self._job(job_id)
        state = self._state(job)
        if state.status not in _ACTIVE:
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
            if state.status not in _ACTIVE:
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
            command, env = self.runner(job, resume=True)  # a damaged spec.json fails here
            job.clear_request()
            job.update_status(status="queued", raw_status="resuming", error=None, finished_at=None)
            job.add_event("resume requested")
            self.launch_runner(job, command, env, resume=True)
        return self._state(job)


def local_capabilities(
    hyperparameters: Mapping[MethodType, frozenset[str]], *more: Operation
) -> Capabilities:
    """The methods of ``hyperparameters`` (its keys) on every data format (the data rules
    narrow them per method), with the :data:`LOCAL_OPERATIONS` and ``more``.

    >>> caps = local_capabilities({"sft": frozenset({"epochs"})}, Operation.CHAT)
    >>> sorted(caps.methods), sorted(op.value for op in caps.operations)
    (['sft'], ['cancel', 'chat', 'events', 'list_jobs', 'metrics', 'train'])
    """
    return Capabilities(
        methods=frozenset(hyperparameters),
        data_formats=frozenset(DataFormat),
        hyperparameters=hyperparameters,
        operations=LOCAL_OPERATIONS | set(more),
    )


def model_folder(name: str) -> Path | None:
    """The local model folder ``name`` names, resolved; ``None`` when it names none.

    :raises InvalidRequest: a folder without ``config.json`` (not a transformers model).
    """
    path = local_folder(name)
    if path is None:
        return None
    if not (path / "config.json").is_file():
        raise InvalidRequest(
            f"base_model: {name} has no config.json (not a transformers model folder)",
            field="base_model",
        )
    return path.resolve()


def has_chat_template(model_path: Path) -> bool:
    """Whether the model's tokenizer has a chat template (a ``chat_template.jinja`` or
    ``.json`` file, or one in ``tokenizer_config.json``)."""
    if any((model_path / name).is_file() for name in ("chat_template.jinja", "chat_template.json")):
        return True
    try:
        config = json.loads((model_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(config.get("chat_template"))


def _local_path(ref: FileRef, label: str) -> Path:
    if ref.path is None or not Path(ref.path).is_file():
        raise InvalidRequest(f"{label}: a local file is needed for local training", field=label)
    return Path(ref.path)
