"""What ``ftsdk serve`` adds to a local model's answer time.

The tiny TRL model (built offline, on the CPU) answers the same greedy 16-token request
REQUESTS times, directly through ``Model.chat`` and through ``ftsdk.ModelServer`` with the
real ``openai`` client over loopback (plain, then streamed), alternating, in one process.
The ratio is served time over direct time: the HTTP layer's overhead on a local model.
Run: .venv/bin/python bench/serve.py. The last line is the figure.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable

import openai
import torch

import ftsdk
from ftsdk_trl import tiny

REQUESTS = 60
QUESTION = [{"role": "user", "content": "convert 2024-03-07 to words"}]


def timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def main() -> None:
    torch.set_num_threads(1)  # steady timings on a shared machine
    with tempfile.TemporaryDirectory() as folder:
        path = tiny.build(folder, seed=0)
        with ftsdk.client("trl", home=f"{folder}/home") as client:
            model = client.model(str(path))
            with (
                ftsdk.ModelServer(model, name="tiny") as server,
                openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0) as oai,
            ):
                model.chat(QUESTION, max_tokens=16)  # load the weights once

                def served() -> None:
                    oai.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=16)  # type: ignore[arg-type]

                def streamed() -> None:
                    chunks = oai.chat.completions.create(
                        model="tiny",
                        messages=QUESTION,  # type: ignore[arg-type]
                        max_tokens=16,
                        stream=True,
                    )
                    for _ in chunks:
                        pass

                direct, plain, stream = [], [], []
                for _ in range(REQUESTS):
                    direct.append(timed(lambda: model.chat(QUESTION, max_tokens=16)))
                    plain.append(timed(served))
                    stream.append(timed(streamed))
    d, p, s = (statistics.median(x) * 1000 for x in (direct, plain, stream))
    print(f"median over {REQUESTS}: Model.chat {d:.1f} ms, served {p:.1f} ms, streamed {s:.1f} ms")
    print(f"overhead per request: {p - d:.1f} ms plain, {s - d:.1f} ms streamed")
    print(f"ratio={p / d:.3f} vs Model.chat in-process (served/direct, median)")


if __name__ == "__main__":
    main()
