"""A fine-tune served by a real engine (vLLM, llama.cpp) as a supervised process.

:class:`EngineServer` has :class:`~ftsdk.serving.ModelServer`'s face (``base_url``,
``banner()``, ``client_settings()``, ``start``/``stop``/``wait``, a context manager), but
the answers come from the engine's own OpenAI-compatible server, run from the engine's
runtime venv (:mod:`ftsdk.serving.engines`) in a process group of its own:

- it is "ready" only once ``GET /v1/models`` answers (a process that dies first is
  reported with the end of its log);
- its output goes to a log file, shown in the banner and kept after it stops;
- :meth:`~EngineServer.stop` sends SIGTERM to the group, then SIGKILL after a grace
  period, so no worker outlives it;
- the API key reaches the engine through its environment (vLLM) or a private config file
  (llama.cpp), never its command line, which any user can read.

The weights must be on this machine: a model folder, a PEFT adapter folder (served with
its base: vLLM's ``--enable-lora``, llama.cpp's LoRA GGUF), or a ``.gguf`` file (llama.cpp).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Self

from pydantic import SecretStr

from ftsdk.errors import ConfigurationError, FtsdkError, InvalidRequest
from ftsdk.home import ftsdk_home
from ftsdk.runtimes import Progress
from ftsdk.serving import gguf
from ftsdk.serving.banner import NO_KEY, banner
from ftsdk.serving.base import ServerBase
from ftsdk.serving.engines import EngineRuntime, runtime_for
from ftsdk.serving.weights import local_weights

if TYPE_CHECKING:
    from ftsdk.models import Model

__all__ = ["EngineServer"]

STOP_GRACE_S = 20.0
GGUF_QUANTIZATION = "f32"
"""What the llama.cpp engine converts a model folder to: f32 keeps the fine-tune's own
greedy answers (the tiny models tested here differ at f16); export smaller files with
``ftsdk models export --quantization`` and serve those."""


class EngineServer(ServerBase):
    """``model`` (and ``adapters`` on the same base) served by ``engine``.

    :param engine: ``"vllm"`` or ``"llamacpp"``.
    :param name: the id clients pass as ``model`` (default: the model's id).
    :param aliases: other ids of the same model.
    :param adapters: more LoRA adapters of the same base, by the id clients use (vLLM).
    :param api_key: the key clients must send; ``None`` accepts any request.
    :param python: the interpreter to run the engine with (default: its runtime venv,
        built now if needed: minutes).
    :param engine_args: more arguments for the engine's server, as given.
    """

    def __init__(
        self,
        model: Model,
        *,
        engine: str,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str | None = None,
        aliases: Iterable[str] = (),
        adapters: Mapping[str, Model] | None = None,
        api_key: str | SecretStr | None = None,
        python: str | None = None,
        home: str | Path | None = None,
        engine_args: Iterable[str] = (),
        startup_timeout: float = 600.0,
        progress: Progress | None = None,
    ) -> None:
        if engine not in ("vllm", "llamacpp"):
            raise ConfigurationError(
                f"EngineServer runs vllm or llamacpp, not {engine!r} (transformers: ModelServer)"
            )
        if isinstance(api_key, str):
            api_key = SecretStr(api_key) if api_key else None
        self.model = model
        self.engine = engine
        self.runtime: EngineRuntime = runtime_for(engine, home=home, python=python)
        self._home = ftsdk_home(home)
        self._name = name or model.id
        self._aliases = [alias for alias in dict.fromkeys(aliases) if alias != self._name]
        self._adapters = dict(adapters or {})
        self._api_key = api_key
        self._host = host
        self._port = port or _free_port(host)
        self._engine_args = list(engine_args)
        self._startup_timeout = startup_timeout
        self._say = progress or (lambda _message: None)
        self._process: subprocess.Popen[bytes] | None = None
        self._private = Path(tempfile.mkdtemp(prefix=f"ftsdk-{engine}-"))
        self._lock = threading.Lock()
        self.log_path = (
            self._home / "engines" / "logs" / f"{engine}-{self._port}-{int(time.time())}.log"
        )
        """Where the engine's output goes (kept after it stops)."""
        if self._adapters and engine != "vllm":
            raise ConfigurationError("several adapters on one server: --engine vllm only")

    # -- what clients see ----------------------------------------------------------------
    @property
    def name(self) -> str:
        """The id clients pass as ``model``."""
        return self._name

    @property
    def names(self) -> list[str]:
        """Every id this server answers to: the model, its aliases, the extra adapters."""
        return [self._name, *self._aliases, *self._adapters]

    @property
    def host(self) -> str:
        """The address listened on."""
        return self._host

    @property
    def port(self) -> int:
        """The port listened on."""
        return self._port

    @property
    def health_url(self) -> str:
        """What is polled before "ready": ``/health`` (vLLM) or ``/v1/models`` (llama.cpp,
        which has no health route; it asks for the key when one is set)."""
        return f"{self.url}/health" if self.engine == "vllm" else f"{self.base_url}/models"

    @property
    def requires_key(self) -> bool:
        """Whether clients must send the ``api_key`` this server was given."""
        return self._api_key is not None

    def client_settings(self) -> dict[str, str | None]:
        """``base_url``, ``api_key`` (``None`` when one is required: never shown) and
        ``model``, as :meth:`ModelServer.client_settings`."""
        return {
            "base_url": self.base_url,
            "api_key": None if self.requires_key else NO_KEY,
            "model": self.name,
        }

    def banner(self) -> list[str]:
        """The lines that tell a person how to call this server, ready to copy."""
        lines = banner(
            name=self.name,
            served_by=f"{self.model.provider}, {self.runtime.engine.title} engine",
            base_url=self.base_url,
            health_url=self.health_url,
            requires_key=self.requires_key,
            routes="POST /v1/chat/completions",
        )
        more = [f"  also: {other!r}" for other in self.names[1:]]
        return [*lines[:-1], *more, f"  log: {self.log_path}", lines[-1]]

    def __repr__(self) -> str:
        return f"<EngineServer {self.name!r} ({self.engine}) on {self.base_url}>"

    # -- the process -----------------------------------------------------------------------
    def command(self) -> list[str]:
        """The engine's command line (building the runtime and GGUF files if needed)."""
        python = str(self.runtime.ensure(self._say))
        if self.engine == "vllm":
            return [python, "-m", "vllm.entrypoints.openai.api_server", *self._vllm_args()]
        config = self._private / "llamacpp.json"
        config.write_text(json.dumps(self._llamacpp_config()), encoding="utf-8")
        config.chmod(0o600)  # it holds the key
        return [python, "-m", "llama_cpp.server", "--config_file", str(config)]

    def _vllm_args(self) -> list[str]:
        base, adapter = gguf.model_folders(local_weights(self.model))
        args = ["--host", self._host, "--port", str(self._port)]
        loras: list[tuple[str, Path]] = []
        if adapter is None:
            args += ["--model", str(base), "--served-model-name", self._name, *self._aliases]
        else:
            args += ["--model", str(base)]
            loras += [(label, adapter) for label in [self._name, *self._aliases]]
        for label, other in self._adapters.items():
            other_base, other_adapter = gguf.model_folders(local_weights(other))
            if other_adapter is None or other_base.resolve() != base.resolve():
                raise InvalidRequest(
                    f"{other.id} is not a LoRA adapter of {base}: one vLLM server serves "
                    "one base model and its adapters",
                    field="adapters",
                )
            loras.append((label, other_adapter))
        if loras:
            rank = max(_lora_rank(path) for _, path in loras)
            args += ["--enable-lora", "--max-loras", str(len(loras))]
            args += ["--max-lora-rank", str(max(16, rank))]
            args += ["--lora-modules", *(f"{label}={path}" for label, path in loras)]
        return [*args, *self._engine_args]

    def _llamacpp_config(self) -> dict[str, object]:
        weights = local_weights(self.model)
        if weights.suffix == ".gguf":
            entry: dict[str, object] = {"model": str(weights)}
        else:
            exported = self._gguf(weights)
            entry = {"model": str(exported.model)}
            if exported.adapter is not None:
                entry["lora_path"] = str(exported.adapter)
        if self._engine_args:
            raise ConfigurationError(
                "engine_args are for --engine vllm; llama.cpp's server reads a config file"
            )
        models = [
            {**entry, "model_alias": label, "n_ctx": 0, "verbose": False}
            for label in [self._name, *self._aliases]
        ]
        config: dict[str, object] = {"host": self._host, "port": self._port, "models": models}
        if self._api_key is not None:
            config["api_key"] = self._api_key.get_secret_value()
        return config

    def _gguf(self, folder: Path) -> gguf.Exported:
        """The folder as GGUF, converted once per content into the engine's cache."""
        digest = hashlib.sha256()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        cache = self.runtime.root / "gguf" / digest.hexdigest()[:16]
        done = cache / "exported.json"
        if done.is_file():
            files = json.loads(done.read_text(encoding="utf-8"))
            return gguf.Exported(
                model=Path(files["model"]),
                adapter=Path(files["adapter"]) if files["adapter"] else None,
                modelfile=Path(files["modelfile"]),
            )
        exported = gguf.export(
            folder,
            cache,
            converters=self.runtime.ensure_converters(self._say),
            quantization=GGUF_QUANTIZATION,
            progress=self._say,
        )
        files = {
            "model": str(exported.model),
            "adapter": str(exported.adapter) if exported.adapter else None,
            "modelfile": str(exported.modelfile),
        }
        done.write_text(json.dumps(files) + "\n", encoding="utf-8")
        return exported

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # ftsdk's venv must not shadow the engine's packages
        env.pop(self.runtime.engine.env_var, None)
        env.setdefault("HF_HUB_OFFLINE", "1")  # local weights only: never download
        env["NO_PROXY"] = ",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1,localhost"]))
        if self.engine == "vllm":
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; the CPU build's default is 4
            env.pop("VLLM_API_KEY", None)
            if self._api_key is not None:
                env["VLLM_API_KEY"] = self._api_key.get_secret_value()
        return env

    def start(self) -> Self:
        """Start the engine; returns once it answers (minutes the first time: the runtime
        is built). The log is at :attr:`log_path`.

        :raises FtsdkError: the engine exited, or did not answer in time (its log's end
            is in the message).
        """
        with self._lock:
            if self._process is not None:
                raise ConfigurationError(
                    "this EngineServer was started already; a server runs once: make a new one"
                )
            try:
                command = self.command()
            except BaseException:
                shutil.rmtree(self._private, ignore_errors=True)
                raise
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._say(f"starting {self.runtime.engine.title}; log: {self.log_path}")
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self._env(),
                    start_new_session=True,  # its own process group: stop() ends every worker
                )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._startup_timeout
        headers = {}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        while True:
            code = self._process.poll()
            if code is not None:
                raise FtsdkError(
                    f"{self.runtime.engine.title} exited (code {code}) before it was ready; "
                    f"its log ({self.log_path}) ends with:\n{self._log_tail()}"
                )
            try:
                request = urllib.request.Request(f"{self.base_url}/models", headers=headers)
                with urllib.request.urlopen(request, timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise FtsdkError(
                    f"{self.runtime.engine.title} did not answer within "
                    f"{self._startup_timeout:.0f} s; its log ({self.log_path}) ends with:\n"
                    f"{self._log_tail()}"
                )
            time.sleep(0.5)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:])

    @property
    def running(self) -> bool:
        """Whether the engine's process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The engine's process id (its process group's too)."""
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Stop the engine and every process it started: SIGTERM to its process group,
        SIGKILL after a grace period. Safe to call twice."""
        with self._lock:
            process = self._process
            if process is not None and process.returncode is None:
                _signal_group(process, signal.SIGTERM)
                try:
                    process.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    _signal_group(process, signal.SIGKILL)
                    process.wait()
                # workers that outlived the leader (same group) go too, and are waited for
                _signal_group(process, signal.SIGKILL)
                _wait_group_gone(process.pid, STOP_GRACE_S)
            shutil.rmtree(self._private, ignore_errors=True)  # the config with the key


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _wait_group_gone(group: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.1)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _lora_rank(adapter: Path) -> int:
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    rank = config.get("r")
    return rank if isinstance(rank, int) else 16
