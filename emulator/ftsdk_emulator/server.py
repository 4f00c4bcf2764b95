"""``Emulator``: the emulated OpenAI and Azure OpenAI services on 127.0.0.1, in a thread."""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from ftsdk_emulator.arm import ArmService
from ftsdk_emulator.auth import Authenticator
from ftsdk_emulator.entra import EntraEmulator, TokenIssuer
from ftsdk_emulator.faults import FaultMiddleware, Faults, route_of
from ftsdk_emulator.service import Service
from ftsdk_emulator.serving import ServerThread
from ftsdk_emulator.state import (
    Clock,
    EmulatorConfig,
    FileObject,
    Job,
    RequestRecord,
    Store,
)

__all__ = ["Emulator"]


class _QuietDrops(logging.Filter):
    """Dropped connections are scripted; keep uvicorn from logging each one as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


class Emulator:
    """Stateful emulation of OpenAI's and Azure OpenAI's fine-tuning services.

    ::

        with Emulator() as emu:
            client = openai.OpenAI(base_url=emu.openai_base_url, api_key=emu.api_key)
            client.files.create(file=open("train.jsonl", "rb"), purpose="fine-tune")

    :param config: how the services behave (timings, limits, keys); change it at any time.
    :param clock_speed: emulated seconds per real second; ``0`` freezes time so that
        only :meth:`advance` moves jobs along.
    """

    def __init__(
        self,
        *,
        config: EmulatorConfig | None = None,
        clock_speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.clock = Clock(speed=clock_speed)
        self.store = Store(config=self.config, clock=self.clock)
        self.faults = Faults()
        self.issuer = TokenIssuer()
        """Microsoft Entra ID's state: apps, managed identities, roles, issued tokens."""
        self.auth = Authenticator(self.store, self.issuer)
        self.host, self._port = host, port
        self._server: ServerThread | None = None
        self._entra: EntraEmulator | None = None
        self.app = FaultMiddleware(Starlette(routes=self._routes()), self.store, self.faults)

    def _routes(self) -> list[BaseRoute]:
        validate = None
        if self.config.strict:
            from ftsdk_emulator.validation import check_request

            validate = check_request

        def service(flavor: Any, dated: bool) -> list[BaseRoute]:
            built = Service(self.store, flavor, self.auth, dated=dated, validate=validate)
            return list(built.routes())

        async def inspect(request: Request) -> JSONResponse:
            with self.store.lock:
                return JSONResponse(
                    {
                        "requests": len(self.store.requests),
                        "files": len(self.store.files),
                        "jobs": len(self.store.jobs),
                    }
                )

        return [
            Mount("/v1", routes=service("openai", False)),
            Mount("/openai/v1", routes=service("azure", False)),
            Mount("/openai", routes=service("azure", True)),
            *ArmService(self.store, self.auth).routes(),
            Route("/_emulator/stats", inspect, methods=["GET"]),
            *service("openai", False),
        ]

    # -- life --------------------------------------------------------------------------
    def start(self) -> Emulator:
        """Start serving; returns once the port is open."""
        logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
        self._server = ServerThread(
            self.app, host=self.host, port=self._port, name="ftsdk-emulator"
        ).start()
        self._port = self._server.port
        return self

    def stop(self) -> None:
        """Stop serving (Entra ID too) and release the ports."""
        if self._entra is not None:
            self._entra.stop()
            self._entra = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def entra(self) -> EntraEmulator:
        """Microsoft Entra ID (HTTPS, with a test CA) and managed identity (HTTP) around
        :attr:`issuer`, started on first use. Real ``azure-identity`` credentials get tokens
        from it with ``**emu.entra.credential_kwargs()``; the Azure routes accept them."""
        if self._entra is None:
            self._entra = EntraEmulator(self.issuer).start()
        return self._entra

    # -- where to point clients --------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the Azure endpoint and the ARM endpoint."""
        return f"http://{self.host}:{self._port}"

    @property
    def openai_base_url(self) -> str:
        """``base_url`` for ``openai.OpenAI``."""
        return f"{self.url}/v1"

    @property
    def azure_v1_base_url(self) -> str:
        """``base_url`` for ``openai.OpenAI`` on Azure's v1 API."""
        return f"{self.url}/openai/v1/"

    @property
    def api_key(self) -> str:
        """A key the emulator accepts (OpenAI bearer or Azure ``api-key``)."""
        return sorted(self.config.api_keys)[0]

    # -- driving and inspecting --------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move emulated time forward: jobs progress, uploads expire, deployments finish."""
        self.clock.advance(seconds)

    def fail_next_job(
        self,
        message: str = "The job failed due to an internal error.",
        *,
        code: str = "server_error",
        param: str | None = None,
        at_step: int = 1,
    ) -> None:
        """Make the next job created fail at ``at_step`` (0: during validation) with this
        error, as the provider reports it."""
        with self.store.lock:
            self.store.next_job_failure = {
                "at_step": at_step,
                "error": {"message": message, "code": code, "param": param},
            }

    def fail_next_deployment(self) -> None:
        """Make the next Azure deployment's provisioning end ``Failed``."""
        with self.store.lock:
            self.store.next_deployment_fails = True

    def wind_down(self, on: bool = True) -> None:
        """OpenAI's end of self-serve training: job creation answers 403
        ``training_not_available``."""
        self.config.training_available = not on

    def bill(self, job_id: str) -> float:
        """USD the service has charged for ``job_id``'s training so far, when it bills by the
        hour (``config.training_usd_per_hour``): running hours x the rate.

        :raises KeyError: no such job.
        """
        from ftsdk_emulator import training

        rate = self.config.training_usd_per_hour
        if rate is None:
            raise ValueError("training is billed by token: set config.training_usd_per_hour")
        with self.store.lock:
            job = self.store.jobs[job_id]
            training.advance(self.store, job, self.clock.now())
            return training.billed_seconds(self.store, job) / 3600 * rate

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request seen so far, in order."""
        with self.store.lock:
            return list(self.store.requests)

    def requests_to(self, route: str) -> list[RequestRecord]:
        """Requests on ``"METHOD /path/{param}"`` under any mount."""
        from ftsdk_emulator.faults import Fault

        probe = Fault(route, delay=1.0)
        return [r for r in self.requests if probe.matches(r.method, route_of(r.path))]

    @property
    def files(self) -> list[FileObject]:
        """Files held, oldest first."""
        with self.store.lock:
            return list(self.store.files.values())

    @property
    def jobs(self) -> list[Job]:
        """Jobs created, oldest first."""
        with self.store.lock:
            return list(self.store.jobs.values())
