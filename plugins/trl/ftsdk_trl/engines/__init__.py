"""Where a TRL job's runner runs: this machine (one process, or several through
``accelerate launch``), a Ray cluster, Hugging Face Jobs, or a SkyPilot-launched cloud.

The job is the same everywhere: one :class:`~ftsdk.JobSpec`, one job folder under the
ftsdk home holding its spec, status, events, metrics, checkpoints and model, and one
:class:`~ftsdk.Job` handle any process can watch, cancel and resume by id. Only
``provider_options`` change::

    {"num_processes": 2}                                    # DDP on this machine
    {"engine": "ray", "num_processes": 2}                   # a Ray cluster (RAY_ADDRESS)
    {"engine": "hf_jobs", "hf_jobs": {"flavor": "a10g-small"}}   # Hugging Face Jobs

An :class:`Engine` starts the runner, maps its service's state onto the job's status and
stops it. Engines that need a heavy package (``ray``, SkyPilot) import it lazily, in their
methods, and say how to install it (``pip install 'ftsdk-trl[ray]'``) when it is missing.
"""

from __future__ import annotations

import abc
import contextlib
import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ftsdk.errors import InvalidRequest
from ftsdk.jobdir import JobDir

if TYPE_CHECKING:
    from ftsdk_trl.provider import TRLProvider

__all__ = [
    "ENGINES",
    "Engine",
    "EngineName",
    "LocalEngine",
    "engine_class",
    "engine_installs",
    "installed_engines",
]

EngineName = Literal["local", "ray", "hf_jobs", "skypilot"]
"""The engines a TRL job can run on (``provider_options["engine"]``)."""

ENGINES: dict[str, str] = {
    "local": "ftsdk_trl.engines:LocalEngine",
    "ray": "ftsdk_trl.engines.ray:RayEngine",
    "hf_jobs": "ftsdk_trl.engines.hf_jobs:HFJobsEngine",
    "skypilot": "ftsdk_trl.engines.skypilot:SkyPilotEngine",
}
"""Each engine's class, imported only when a job uses it."""


class Engine(abc.ABC):
    """How one kind of job runner is started, watched and stopped.

    The provider builds and checks the job folder and calls the engine for what differs:
    :meth:`command` (what runs), :meth:`launch` (where), :meth:`read_status` (the
    service's state mapped onto the folder's status) and :meth:`stop`.
    """

    name: ClassVar[str]
    """The engine's name in ``provider_options["engine"]``."""
    label: ClassVar[str]
    """How messages name it ("a Ray cluster")."""
    extra: ClassVar[str | None] = None
    """The ``ftsdk-trl`` extra that installs what it needs (``None``: nothing more)."""
    requires: ClassVar[tuple[str, ...]] = ()
    """Modules that must be importable in this process for it to run."""
    pausable: ClassVar[bool] = True
    """Whether the runner sees the job folder's ``control`` file (pause), and a job can
    resume from its checkpoints."""

    def __init__(self, provider: TRLProvider) -> None:
        self.provider = provider

    @classmethod
    def how_to_install(cls) -> str:
        """What to run to install what it needs (``pip install 'ftsdk-trl[ray]'``)."""
        return f"pip install 'ftsdk-trl[{cls.extra}]'" if cls.extra else "install it"

    @classmethod
    def missing(cls) -> list[str]:
        """The modules :attr:`requires` names that are not installed here."""
        return [name for name in cls.requires if importlib.util.find_spec(name) is None]

    @classmethod
    def installed(cls) -> bool:
        """Whether everything it needs is installed here."""
        return not cls.missing()

    def check(self, options: dict[str, Any]) -> None:
        """Refuse a job this engine cannot run, before its folder is made (a package not
        installed, a setting missing). ``options``: the job's provider options as JSON.

        :raises InvalidRequest: saying what to install or set.
        """
        missing = self.missing()
        if missing:
            raise InvalidRequest(
                f"provider_options.engine: {self.name} needs {', '.join(missing)}, which is "
                f"not installed here: {self.how_to_install()}",
                field="provider_options.engine",
                provider=self.provider.name,
            )

    def resolve_model(self, name: str) -> Path:
        """A local folder with the base model's config and tokenizer, which the data and
        chat-template checks read (default: the model itself, never downloaded).

        :raises InvalidRequest: no such model where this engine looks.
        """
        from ftsdk_trl.provider import resolve_base_model

        return resolve_base_model(name)

    @abc.abstractmethod
    def command(
        self, job: JobDir, options: dict[str, Any], *, resume: bool
    ) -> tuple[list[str], dict[str, str]]:
        """The runner's command line and environment for ``job``."""

    @abc.abstractmethod
    def launch(self, job: JobDir, command: list[str], env: dict[str, str], *, resume: bool) -> None:
        """Start the runner."""

    @abc.abstractmethod
    def read_status(self, job: JobDir, status: dict[str, Any]) -> dict[str, Any]:
        """``status`` (the folder's), with what the service knows mapped onto it: a runner
        that ended unfinished makes the job ``failed`` with its error."""

    @abc.abstractmethod
    def stop(self, job: JobDir) -> None:
        """Stop the runner and wait for it to end."""


class LocalEngine(Engine):
    """The runner as a detached process on this machine, as
    :class:`~ftsdk.local.LocalProvider` runs it; on several processes, ``accelerate launch``
    under the launcher of :mod:`ftsdk_trl.engines.ranks`, which writes a failed rank's error
    into the job."""

    name = "local"
    label = "this machine"

    def command(
        self, job: JobDir, options: dict[str, Any], *, resume: bool
    ) -> tuple[list[str], dict[str, str]]:
        from ftsdk_trl.provider import launch_command, runner_environment

        return launch_command(
            job.path, resume=resume, num_processes=_recorded_processes(job, options)
        ), runner_environment()

    def launch(self, job: JobDir, command: list[str], env: dict[str, str], *, resume: bool) -> None:
        self.provider.store.start(job, command, env)

    def read_status(self, job: JobDir, status: dict[str, Any]) -> dict[str, Any]:
        return job.check_runner(status, self.provider.runner_label)

    def stop(self, job: JobDir) -> None:
        """Stop the runner's process group and wait; then kill, by pid, any of its
        processes left (torchrun starts each rank in a session of its own, out of the
        group's reach)."""
        import psutil  # type: ignore[import-untyped]

        from ftsdk.jobdir import stop_process

        runner = job.process()
        try:
            family = runner.children(recursive=True) if runner is not None else []
        except psutil.Error:
            family = []
        stop_process(runner)
        for proc in family:
            with contextlib.suppress(psutil.Error):
                proc.kill()  # psutil checks it is still the same process (pid reuse)
        psutil.wait_procs(family, timeout=5)
        self.provider.store.reap(job)


def _recorded_processes(job: JobDir, options: dict[str, Any]) -> int | None:
    """The processes the job trains on: as spec.json recorded them when it was created (a
    resume runs as many as the run it continues, whatever the GPUs visible now), else
    ``num_processes``."""
    try:
        batch = job.read_spec().get("batch")
    except InvalidRequest:  # a damaged spec.json: the provider reports it
        batch = None
    recorded = batch.get("num_processes") if isinstance(batch, dict) else None
    if isinstance(recorded, int) and not isinstance(recorded, bool) and 0 < recorded < 1024:
        return recorded
    processes: int | None = options.get("num_processes")
    return processes


def engine_class(name: str) -> type[Engine]:
    """The class of engine ``name``, imported now.

    :raises InvalidRequest: no such engine.
    """
    target = ENGINES.get(name)
    if target is None:
        raise InvalidRequest(
            f"provider_options.engine: no engine {name!r}; one of {', '.join(ENGINES)}",
            field="provider_options.engine",
        )
    module, _, attribute = target.partition(":")
    cls: type[Engine] = getattr(importlib.import_module(module), attribute)
    return cls


def installed_engines() -> dict[str, bool]:
    """Each engine and whether what it needs is installed here (``ftsdk providers``)."""
    return {name: engine_class(name).installed() for name in ENGINES}


def engine_installs() -> dict[str, str | None]:
    """Each engine: ``None`` when it can run here, else how to install what it needs."""
    return {
        name: None if installed else engine_class(name).how_to_install()
        for name, installed in installed_engines().items()
    }
