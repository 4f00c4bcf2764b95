"""Scriptable faults and the request log, as one ASGI middleware in front of every route.

    emulator.faults.add("POST /fine_tuning/jobs", status=429, retry_after=2)
    emulator.faults.add("POST /uploads/{upload_id}/parts", drop="mid_upload", calls={2})
    emulator.faults.add("POST /fine_tuning/jobs", drop="after")   # created, answer lost
    emulator.faults.add("POST /files", drop="late")                # created, answered after
                                                                   # the client gave up
    emulator.faults.add("POST /chat/completions", drop="mid_stream", events=3)
    emulator.faults.add("*", delay=1.5, times=None)                # every answer slow
    emulator.faults.add("POST /chat/completions", body={...})      # a hand-written answer

Routes are written as in OpenAI's API description (``METHOD /path/{param}``) and match
under every mount (``/v1``, ``/openai``, ``/openai/v1``); ``*`` matches any route.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftsdk_emulator.state import RequestRecord, Store

__all__ = ["Fault", "FaultMiddleware", "Faults"]

_PREFIXES = ("/openai/v1", "/openai", "/v1")
_SECRET_HEADERS = {"authorization", "api-key", "x-identity-header"}
Drop = Literal["before", "after", "late", "mid_upload", "mid_stream"]
LATE_HOLD_CAP = 60.0
"""The longest a ``late`` fault holds an answer while the client is still connected."""


def route_of(path: str) -> str:
    """The path with its mount prefix removed (``/v1/files`` → ``/files``)."""
    for prefix in _PREFIXES:
        if path.startswith(prefix + "/"):
            return path[len(prefix) :]
    return path


def _pattern(route: str) -> tuple[str, re.Pattern[str]]:
    method, _, template = route.partition(" ")
    regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    return method.upper(), re.compile(f"^{regex}$")


@dataclass
class Fault:
    """One scripted fault.

    :param route: ``"METHOD /path/{param}"`` or ``"*"``.
    :param status: answer with this HTTP status and the flavor's error body.
    :param body: answer with this JSON instead of running the route (a hand-written answer
        the emulator would not give, such as a spec-valid edge case), with ``status``
        (default 200) and ``headers``.
    :param headers: headers for a ``body`` answer (``content-type`` too: a ``str`` body
        with ``text/event-stream`` is a hand-written stream).
    :param retry_after: seconds for a ``Retry-After`` header.
    :param retry_after_ms: milliseconds for a ``retry-after-ms`` header.
    :param drop: drop the connection ``before`` the route runs, ``after`` it ran (the
        object exists, the answer is lost), ``mid_upload`` (half the body read), or
        ``mid_stream`` (after ``events`` pieces of a streamed answer were sent).
        ``late``: the service read the whole request and committed it (the route ran to
        its end), then holds the answer until the client gives up waiting (its timeout:
        it closes the connection) and sends it after, to nobody. With ``delay``, the
        answer is held at most that many seconds instead, then sent: a slow answer that
        a patient client still gets.
    :param events: with ``drop="mid_stream"``: the pieces of the answer (server-sent
        events, for a streamed chat answer) that reach the client before the drop.
    :param delay: real seconds to wait before answering (with ``drop="late"``: the most
        seconds to hold the answer after the route ran).
    :param calls: hit only these matching calls (1-based); ``None`` for the next ones.
    :param times: how many times to fire; ``None`` for every match.
    """

    route: str
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    retry_after_ms: int | None = None
    drop: Drop | None = None
    delay: float = 0.0
    events: int = 1
    calls: set[int] | None = None
    times: int | None = 1
    seen: int = 0
    fired: int = 0
    _match: tuple[str, re.Pattern[str]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.route != "*":
            self._match = _pattern(self.route)
        if self.status is None and self.drop is None and not self.delay and self.body is None:
            raise ValueError("a fault needs a status, a body, a drop or a delay")

    @property
    def kind(self) -> str:
        """A short label for the request log: ``429``, ``drop:after``, ``slow``, ``body``."""
        if self.drop:
            return f"drop:{self.drop}"
        if self.body is not None:
            return "body"
        return str(self.status) if self.status else "slow"

    def matches(self, method: str, route: str) -> bool:
        """Whether a request is on this fault's route."""
        if self._match is None:
            return True
        want, regex = self._match
        return want in (method, "*") and regex.match(route) is not None

    def due(self) -> bool:
        """Count one matching call; whether the fault fires on it."""
        self.seen += 1
        if self.times is not None and self.fired >= self.times:
            return False
        if self.calls is not None and self.seen not in self.calls:
            return False
        self.fired += 1
        return True


class Faults:
    """The faults in force; thread-safe, changed by tests while the server runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, route: str = "*", **settings: Any) -> Fault:
        """Script a fault (see :class:`Fault` for the settings) and return it."""
        fault = Fault(route, **settings)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def pick(self, method: str, route: str) -> list[Fault]:
        """The faults firing on this request, in the order they were added."""
        with self._lock:
            return [f for f in self._faults if f.matches(method, route) and f.due()]

    def __iter__(self) -> Iterable[Fault]:
        with self._lock:
            return iter(list(self._faults))


def _error_body(flavor: str, status: int) -> bytes:
    message = {
        429: "Rate limit reached for requests. Please try again later.",
        500: "The server had an error while processing your request. Sorry about that!",
        502: "Bad gateway.",
        503: "The engine is currently overloaded, please try again later.",
    }.get(status, f"Emulated failure ({status}).")
    if flavor == "azure":
        return json.dumps({"error": {"code": str(status), "message": message}}).encode()
    kind = "rate_limit_exceeded" if status == 429 else "server_error"
    return json.dumps(
        {
            "error": {
                "message": message,
                "type": kind,
                "param": None,
                "code": kind if status == 429 else None,
            }
        }
    ).encode()


class FaultMiddleware:
    """Logs each request, applies the configured latency, and fires scripted faults."""

    def __init__(self, app: ASGIApp, store: Store, faults: Faults) -> None:
        self.app, self.store, self.faults = app, store, faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        clock = time.monotonic()  # durations from the monotonic clock: the wall clock may step
        record = RequestRecord(
            method=method,
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            status=None,
            fault=None,
            started=time.time(),
            headers={k: ("***" if k in _SECRET_HEADERS else v) for k, v in headers.items()},
        )
        with self.store.lock:
            self.store.requests.append(record)
        flavor = "azure" if path.startswith("/openai") else "openai"
        fired = self.faults.pick(method, route_of(path))
        record.fault = ",".join(f.kind for f in fired) or None
        delay = self.store.config.latency + sum(f.delay for f in fired if f.drop != "late")
        if delay:
            await asyncio.sleep(delay)

        bandwidth = self.store.config.bandwidth
        if bandwidth:
            receive = _throttled(receive, bandwidth)

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                record.finished = True

        try:
            for fault in fired:
                if fault.body is not None:
                    await _written(fault, logged_send)
                    return
                if fault.status is not None:
                    await self._answer(fault, flavor, logged_send)
                    return
                if fault.drop is not None:
                    if fault.drop == "mid_stream":
                        await _cut(self.app, scope, receive, logged_send, fault.events)
                        return
                    if fault.drop == "late":
                        await _late(self.app, scope, receive, logged_send, fault.delay)
                        return
                    if fault.drop == "mid_upload":
                        await _read_half(receive, headers)
                    elif fault.drop == "after":
                        await self.app(scope, receive, _swallow)
                    await _drop(send)
                    return
            await self.app(scope, receive, logged_send)
        finally:
            record.duration = time.monotonic() - clock

    async def _answer(self, fault: Fault, flavor: str, send: Send) -> None:
        assert fault.status is not None
        body = _error_body(flavor, fault.status)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if fault.retry_after is not None:
            headers.append((b"retry-after", f"{fault.retry_after:g}".encode()))
        if fault.retry_after_ms is not None:
            headers.append((b"retry-after-ms", str(fault.retry_after_ms).encode()))
        headers.append((b"x-request-id", b"req_emulated_fault"))
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _written(fault: Fault, send: Send) -> None:
    """Send ``fault.body`` as the answer, as JSON (a ``str`` or ``bytes`` body verbatim)."""
    body = fault.body
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    named = {"content-type": "application/json", "x-request-id": "req_emulated_answer"}
    named.update({k.lower(): v for k, v in fault.headers.items()})
    named["content-length"] = str(len(body))
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in named.items()]
    await send({"type": "http.response.start", "status": fault.status or 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _throttled(receive: Receive, bandwidth: float) -> Receive:
    async def slow_receive() -> Message:
        message = await receive()
        await asyncio.sleep(len(message.get("body", b"")) / bandwidth)
        return message

    return slow_receive


async def _swallow(message: Message) -> None:
    return None


async def _read_half(receive: Receive, headers: dict[str, str]) -> None:
    total = int(headers.get("content-length", "0") or 0)
    seen = 0
    while seen < total // 2:
        message = await receive()
        seen += len(message.get("body", b""))
        if not message.get("more_body"):
            break


class _Cut(Exception):
    """Raised into the route to stop its answer where a ``mid_stream`` fault cuts it."""


async def _cut(app: ASGIApp, scope: Scope, receive: Receive, send: Send, events: int) -> None:
    """Run the route, passing its first ``events`` body pieces on; then end the exchange
    without finishing the answer, so that the server drops the connection."""
    sent = 0

    async def cutting_send(message: Message) -> None:
        nonlocal sent
        if message["type"] == "http.response.body":
            if sent >= events:
                raise _Cut
            sent += 1
        await send(message)

    with contextlib.suppress(_Cut):
        await app(scope, receive, cutting_send)


async def _late(app: ASGIApp, scope: Scope, receive: Receive, send: Send, hold: float) -> None:
    """Run the route to its end with its answer held back; then wait for the client to go
    (it closes the connection when its timeout is up) and lose the answer, or, after
    ``hold`` seconds with the client still there, send it."""
    held: list[Message] = []
    body_read = False

    async def reading() -> Message:
        nonlocal body_read
        message = await receive()
        body_read = message["type"] != "http.request" or not message.get("more_body")
        return message

    async def holding(message: Message) -> None:
        held.append(message)

    await app(scope, reading, holding)  # the request is read in full and committed

    async def client_leaves() -> None:
        while not body_read:  # a route that did not read its body: read it here
            await reading()
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(client_leaves(), timeout=hold if hold > 0 else LATE_HOLD_CAP)
    except TimeoutError:
        with contextlib.suppress(Exception):  # the client may leave while it is sent
            for message in held:
                await send(message)


async def _drop(send: Send) -> None:
    # Start a response that promises more than it sends, then stop: the server closes the
    # connection and the client sees it dropped mid-answer.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"trunc', "more_body": True})
