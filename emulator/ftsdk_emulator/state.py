"""The emulator's state: a clock the test controls, the objects it holds, and its request log."""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Checkpoint",
    "Clock",
    "Deployment",
    "EmulatorConfig",
    "Event",
    "FileObject",
    "Job",
    "RequestRecord",
    "Store",
    "Upload",
    "new_id",
]

Flavor = Literal["openai", "azure"]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, *, length: int = 24, hex_only: bool = False) -> str:
    """An id like OpenAI's (``file-3xK...``) or Azure's (``ftjob-<32 hex>``)."""
    if hex_only:
        return f"{prefix}{secrets.token_hex(length // 2)}"
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


class Clock:
    """Emulated time: real time scaled by ``speed``, plus whatever the test ``advance``\\ s.

    ``speed=0`` freezes time, so that only :meth:`advance` moves jobs along.

    >>> clock = Clock(speed=0, start=1000.0)
    >>> clock.advance(5); clock.now()
    1005.0
    """

    def __init__(self, *, speed: float = 1.0, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._speed = speed
        self._base = time.time() if start is None else start
        self._real = time.monotonic()

    def now(self) -> float:
        """Emulated seconds since the epoch."""
        with self._lock:
            return self._base + (time.monotonic() - self._real) * self._speed

    def advance(self, seconds: float) -> None:
        """Move emulated time forward."""
        with self._lock:
            self._base += seconds

    @property
    def speed(self) -> float:
        """Emulated seconds per real second."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        with self._lock:
            now = self._base + (time.monotonic() - self._real) * self._speed
            self._base, self._real, self._speed = now, time.monotonic(), value


@dataclass
class EmulatorConfig:
    """How the emulated services behave. Change fields at any time; they apply at once."""

    api_keys: set[str] = field(default_factory=lambda: {"sk-emulator"})
    """OpenAI keys (``Authorization: Bearer``) and Azure ``api-key`` values accepted."""
    organization: str = "emulator-org"
    """Goes into fine-tuned model names: ``ft:<base>:<org>:<suffix>:<id>``."""
    training_available: bool = True
    """``False`` makes job creation answer 403 ``training_not_available`` (OpenAI's
    wind-down)."""
    strict: bool = True
    """Validate OpenAI request bodies against the published OpenAPI description."""
    file_processing_seconds: float = 0.0
    """Emulated seconds a file stays ``uploaded`` before ``processed``/``error``."""
    validating_seconds: float = 2.0
    queued_seconds: float = 2.0
    step_seconds: float = 0.5
    """Emulated seconds per training step."""
    deploy_seconds: float = 5.0
    """Emulated seconds an Azure deployment stays ``Creating``."""
    latency: float = 0.0
    """Real seconds added to every answer (upload benchmarks)."""
    stream_interval: float = 0.0
    """Real seconds between two chunks of a streamed chat answer (a model writing)."""
    bandwidth: float | None = None
    """Bytes per second at which each request's body is read, as over one TCP connection
    across a wide-area network; ``None`` reads at loopback speed."""
    training_usd_per_hour: float | None = None
    """Bill training by the hour at this rate, as OpenAI bills reinforcement fine-tuning
    and hosted AutoTrain its hardware: each emulated second a job is ``running`` costs
    rate / 3600; validation, queue and paused time cost nothing (read it with
    :meth:`~ftsdk.testing.Emulator.bill`). ``None``: training is billed by token."""
    min_examples: int = 10
    azure_max_files: int = 50
    azure_max_active_jobs: int = 1
    azure_account: tuple[str, str, str] = (
        "00000000-0000-0000-0000-000000000000",
        "emulator-rg",
        "emulator-aoai",
    )
    """ARM coordinates of the one emulated Azure OpenAI resource: subscription,
    resource group, account."""
    openai_models: tuple[str, ...] = (
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
        "gpt-3.5-turbo-0125",
    )
    """Base models OpenAI fine-tunes (all of them chat, too)."""
    dpo_models: tuple[str, ...] = (
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
    )
    rft_models: tuple[str, ...] = ("o4-mini-2025-04-16",)
    """Base models both services train with reinforcement only (a grader scores them)."""
    azure_models: tuple[str, ...] = (
        "gpt-35-turbo-0125",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-2024-08-06",
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
    )
    """Base models the Azure resource fine-tunes (names with dashes, as Azure writes them)."""


@dataclass
class FileObject:
    id: str
    flavor: Flavor
    filename: str
    purpose: str
    content: bytes
    created_at: int
    ready_at: float
    error: str | None = None
    """The validation message, once processing failed."""

    def status(self, now: float) -> str:
        if now < self.ready_at:
            return "uploaded" if self.flavor == "openai" else "pending"
        return "error" if self.error else "processed"


@dataclass
class Upload:
    id: str
    filename: str
    purpose: str
    size: int
    mime_type: str
    created_at: int
    expires_at: int
    status: str = "pending"
    parts: dict[str, bytes] = field(default_factory=dict)
    file_id: str | None = None


@dataclass
class Event:
    id: str
    created_at: int
    level: str
    message: str
    type: str = "message"
    data: dict[str, Any] | None = None


@dataclass
class Checkpoint:
    id: str
    created_at: int
    model: str
    step: int
    metrics: dict[str, float]


@dataclass
class Job:
    id: str
    flavor: Flavor
    model: str
    training_file: str
    validation_file: str | None
    method: dict[str, Any]
    hyperparameters: dict[str, Any]
    suffix: str | None
    seed: int
    metadata: dict[str, str] | None
    integrations: list[dict[str, Any]] | None
    created_at: int
    n_examples: int
    n_tokens: int
    total_steps: int
    status: str = "validating_files"
    progress: float = 0.0
    """Emulated seconds of progress (time spent neither paused nor finished)."""
    last_tick: float = 0.0
    steps_done: int = 0
    finished_at: int | None = None
    fine_tuned_model: str | None = None
    error: dict[str, Any] | None = None
    fail_at_step: int | None = None
    fail_error: dict[str, Any] | None = None
    events: list[Event] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    result_files: list[str] = field(default_factory=list)
    trained_tokens: int | None = None
    estimated_finish: int | None = None
    answers: list[tuple[str, str]] | None = None
    """(prompt, answer) pairs of the training data, read when the model is first asked."""


@dataclass
class Deployment:
    name: str
    model: str
    sku: dict[str, Any]
    created_at: float
    ready_at: float
    fail: bool = False
    """Set to make provisioning end ``Failed``."""

    def status(self, now: float) -> str:
        """ARM ``provisioningState``: Creating, then Succeeded (or Failed)."""
        if now < self.ready_at:
            return "Creating"
        return "Failed" if self.fail else "Succeeded"


@dataclass
class RequestRecord:
    """One request the emulator saw."""

    method: str
    path: str
    query: str
    status: int | None
    fault: str | None
    headers: dict[str, str]
    """Request headers, with credentials replaced by ``***``."""
    started: float
    duration: float = 0.0
    finished: bool = False
    """Whether the answer was sent to its end: not when the connection dropped, or the
    client went away in the middle of a streamed answer."""


@dataclass
class Store:
    """Everything the emulator holds, guarded by one lock (the server runs in a thread)."""

    config: EmulatorConfig
    clock: Clock
    lock: threading.RLock = field(default_factory=threading.RLock)
    files: dict[str, FileObject] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Fine-tuned models (and checkpoints) by id: ``{"job": ..., "owned_by": ...}``."""
    deployments: dict[str, Deployment] = field(default_factory=dict)
    requests: list[RequestRecord] = field(default_factory=list)
    next_deployment_fails: bool = False
    """Set by :meth:`ftsdk_emulator.Emulator.fail_next_deployment`."""
    next_job_failure: dict[str, Any] | None = None
    """Set by :meth:`ftsdk_emulator.Emulator.fail_next_job`."""
