"""Emulator start-up time and request rate on loopback, from one client.

Start-up: `Emulator().start()` until its port answers, over several starts. Rate: the real
`openai` client listing models (a full authenticated round trip) as fast as it can, for a
fixed number of requests; the baseline is a bare Starlette app on uvicorn answering the same
JSON, run side by side, so the ratio shows the emulator's own overhead.
Run: .venv/bin/python bench/emulator.py. The last line is the figure.
"""

from __future__ import annotations

import statistics
import threading
import time

import openai
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from ftsdk.testing.emulator import Emulator

REQUESTS = 1000


def bare_server() -> tuple[uvicorn.Server, str]:
    async def models(_: object) -> JSONResponse:
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {
                        "id": "gpt-4o-mini-2024-07-18",
                        "object": "model",
                        "created": 0,
                        "owned_by": "x",
                    }
                ],
            }
        )

    app = Starlette(routes=[Route("/v1/models", models)])
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_config=None,
            log_level="warning",
            lifespan="off",
            http="h11",
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.002)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1"


def rate(base_url: str, key: str) -> float:
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)
    client.models.list()
    started = time.perf_counter()
    for _ in range(REQUESTS):
        client.models.list()
    return REQUESTS / (time.perf_counter() - started)


def main() -> None:
    starts = []
    for _ in range(5):
        began = time.perf_counter()
        emu = Emulator().start()
        starts.append(time.perf_counter() - began)
        emu.stop()
    print(
        f"start-up: median {statistics.median(starts) * 1000:.0f} ms, "
        f"max {max(starts) * 1000:.0f} ms over {len(starts)} starts"
    )
    with Emulator() as emu:
        emulated = rate(emu.openai_base_url, emu.api_key)
    server, url = bare_server()
    bare = rate(url, "k")
    server.should_exit = True
    print(
        f"emulator: {emulated:.0f} requests/s; bare starlette+uvicorn: {bare:.0f} requests/s "
        f"({REQUESTS} sequential GET /v1/models with the openai client)"
    )
    print(f"ratio={emulated / bare:.2f} vs bare starlette+uvicorn")


if __name__ == "__main__":
    main()
