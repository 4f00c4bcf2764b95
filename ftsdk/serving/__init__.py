"""Serve any ftsdk :class:`~ftsdk.Model` as a local OpenAI-compatible endpoint, so code
written for the ``openai`` client works unchanged against it::

    import ftsdk

    model = ftsdk.client("trl").model("/models/my-finetune")
    ftsdk.serve(model, port=8000)          # blocks; Ctrl-C stops it

    # elsewhere: OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")

or, in tests, in a background thread::

    with ftsdk.ModelServer(model) as server:          # a free port
        OpenAI(base_url=server.base_url, api_key="unused").chat.completions.create(...)

Needs the ``serve`` extra: ``pip install 'ftsdk[serve]'``.

``engine="vllm"`` or ``"llamacpp"`` serves local weights with a real engine instead
(:class:`~ftsdk.serving.engine_server.EngineServer`, run from its own runtime venv)::

    ftsdk.serve(model, engine="vllm")     # builds the engine's venv the first time
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Self

from pydantic import SecretStr

from ftsdk.capabilities import Operation
from ftsdk.errors import ConfigurationError, FtsdkError
from ftsdk.serving.banner import NO_KEY, banner
from ftsdk.serving.base import ServerBase

if TYPE_CHECKING:
    from ftsdk.models import Model
    from ftsdk.serving.engine_server import EngineServer
    from ftsdk.serving.thread import ServerThread

__all__ = ["ENGINES", "NO_KEY", "EngineServer", "ModelServer", "banner", "serve"]

ENGINES = ("transformers", "vllm", "llamacpp")
"""What ``engine=`` takes: ``transformers`` is ftsdk's own server, in this process."""


def __getattr__(name: str) -> object:
    if name == "EngineServer":  # lazily: it is not needed to serve with transformers
        from ftsdk.serving.engine_server import EngineServer

        return EngineServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _require_extra() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise ConfigurationError(
            f"serving a model needs {err.name}: pip install 'ftsdk[serve]'"
        ) from err


class ModelServer(ServerBase):
    """One model behind OpenAI's ``/v1/models``, ``/v1/chat/completions`` and
    ``/v1/responses`` (and ``/health``), served with uvicorn from a background thread.

    The port is bound when the server is built (``port=0`` picks a free one, read back from
    :attr:`port`); :meth:`start` returns once it accepts connections.

    :param name: the id clients pass as ``model`` and that ``/v1/models`` lists (default:
        the model's id).
    :param aliases: other ids accepted as ``model`` (the model's own id always is).
    :param api_key: the key clients must send (``Authorization: Bearer KEY``); ``None``
        accepts any request. It never reaches a log line or a repr.
    :param concurrency: chat calls run at once; the others wait. One suits a local model.

    >>> # with ftsdk.ModelServer(model, api_key="s3cret") as server:
    >>> #     openai.OpenAI(base_url=server.base_url, api_key="s3cret")
    """

    def __init__(
        self,
        model: Model,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str | None = None,
        aliases: Iterable[str] = (),
        api_key: str | SecretStr | None = None,
        concurrency: int = 1,
    ) -> None:
        _require_extra()
        from ftsdk.serving.openai_api import OpenAICompatibleAPI
        from ftsdk.serving.thread import ServerThread

        model._client.require(Operation.CHAT)  # fail now, not on the first request
        if isinstance(api_key, str):
            api_key = SecretStr(api_key) if api_key else None
        self.model = model
        self.api = OpenAICompatibleAPI(
            model,
            name=name or model.id,
            aliases={model.id, *aliases},
            api_key=api_key,
            concurrency=concurrency,
        )
        try:
            self._thread: ServerThread = ServerThread(
                self.api.app(), host=host, port=port, name="ftsdk-serve"
            )
        except (OSError, OverflowError) as err:  # OverflowError: a port out of 0-65535
            busy = getattr(err, "errno", None) == errno.EADDRINUSE
            raise ConfigurationError(
                f"cannot listen on {host}:{port}: {getattr(err, 'strerror', None) or err}"
                + ("; pick another port (0 picks a free one)" if busy else "")
            ) from err

    @property
    def name(self) -> str:
        """The id clients pass as ``model``."""
        return self.api.name

    @property
    def host(self) -> str:
        """The address listened on."""
        return self._thread.host

    @property
    def port(self) -> int:
        """The port listened on."""
        return self._thread.port

    @property
    def health_url(self) -> str:
        """``http://host:port/health``: 200 while serving, no key asked."""
        return f"{self.url}/health"

    @property
    def requires_key(self) -> bool:
        """Whether clients must send the ``api_key`` this server was given."""
        return self.api._api_key is not None

    def client_settings(self) -> dict[str, str | None]:
        """What an OpenAI client needs: ``base_url``, ``api_key``, ``model``. The ``openai``
        client refuses to start without a key, so one is given when none is checked
        (:data:`NO_KEY`); a required key is ``None`` here: it is never shown."""
        return {
            "base_url": self.base_url,
            "api_key": None if self.requires_key else NO_KEY,
            "model": self.name,
        }

    def banner(self) -> list[str]:
        """The lines that tell a person how to call this server, ready to copy."""
        return banner(
            name=self.name,
            served_by=self.model.provider,
            base_url=self.base_url,
            health_url=self.health_url,
            requires_key=self.requires_key,
        )

    def __repr__(self) -> str:
        return f"<ModelServer {self.name!r} on {self.base_url}>"

    def warm_up(self) -> None:
        """Ask the model for one token, so that a local model loads its weights now rather
        than on the first request (and a model that cannot answer fails now)."""
        try:
            self.model.chat("Hello", max_tokens=1)
        except FtsdkError:
            raise
        except Exception as err:  # a provider's bug or a broken model: say which model
            raise FtsdkError(
                f"{self.model.id} could not answer: {type(err).__name__}: {err}",
                provider=self.model.provider,
            ) from err

    def start(self) -> Self:
        """Start serving; returns once the port accepts connections. A server runs once:
        after :meth:`stop`, make a new one."""
        if self._thread.started:
            raise ConfigurationError(
                "this ModelServer was started already; a server runs once: make a new one",
                provider=self.model.provider,
            )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port: answers being written stop at their next
        piece first, so no generation outlives the server (or the process)."""
        self.api.close()
        self._thread.stop()

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._thread.running

    def _idle(self) -> None:
        self._thread.join(0.5)


def _announce(server: ModelServer | EngineServer) -> None:
    print("\n".join(server.banner()), file=sys.stderr, flush=True)


def _stderr(message: str) -> None:
    print(f"ftsdk serve: {message}", file=sys.stderr, flush=True)


def serve(
    model: Model,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str | None = None,
    aliases: Iterable[str] = (),
    api_key: str | SecretStr | None = None,
    concurrency: int = 1,
    warm_up: bool = False,
    on_ready: Callable[[ModelServer | EngineServer], None] = _announce,
    engine: str = "transformers",
    adapters: Mapping[str, Model] | None = None,
    engine_python: str | None = None,
    engine_args: Iterable[str] = (),
    home: str | Path | None = None,
) -> None:
    """Serve ``model`` as an OpenAI-compatible endpoint until Ctrl-C (or SIGTERM).

    Takes :class:`ModelServer`'s arguments; ``warm_up`` asks the model for one token before
    serving (see :meth:`ModelServer.warm_up`); ``on_ready`` is called once the server
    accepts connections (by default it prints the base URL on stderr).

    ``engine`` picks what answers (see :data:`ENGINES`): ``vllm`` or ``llamacpp`` run the
    model's local weights in that engine's own process (:class:`EngineServer`), from its
    runtime venv (built the first time; ``engine_python`` names an interpreter to use
    instead); ``adapters`` are more LoRA adapters of the same base, by name (vLLM);
    ``engine_args`` go to vLLM's server as given; ``concurrency`` and ``warm_up`` concern
    ``transformers`` only (the engines batch requests themselves).

    >>> # ftsdk.serve(ftsdk.client("trl").model("/models/my-finetune"), port=8000)
    >>> # ftsdk.serve(model, engine="vllm", adapters={"other": other_model})
    """
    if engine != "transformers":
        from ftsdk.serving.engine_server import EngineServer

        engine_server = EngineServer(
            model,
            engine=engine,
            host=host,
            port=port,
            name=name,
            aliases=aliases,
            api_key=api_key,
            adapters=adapters,
            python=engine_python,
            engine_args=engine_args,
            home=home,
            progress=_stderr,
        )
        engine_server.start()
        try:
            on_ready(engine_server)
        except BaseException:
            engine_server.stop()
            raise
        engine_server.wait()
        return
    if adapters:
        raise ConfigurationError("several adapters on one server need engine='vllm'")
    server = ModelServer(
        model,
        host=host,
        port=port,
        name=name,
        aliases=aliases,
        api_key=api_key,
        concurrency=concurrency,
    )
    try:
        if warm_up:
            server.warm_up()
        server.start()
    except BaseException:
        server.stop()
        raise
    on_ready(server)
    server.wait()
