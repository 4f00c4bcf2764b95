"""What ``ftsdk serve`` adds to a local model's answer time.

The tiny TRL model (built offline, on the CPU) answers the same greedy 16-token request
REQUESTS times, directly through ``Model.chat`` and through ``ftsdk.ModelServer`` with the
real ``openai`` client over loopback (plain, then streamed), alternating, in one process.
The ratio is served time over direct time: the HTTP layer's overhead on a local model.
Run: .venv/bin/python bench/serve.py. The last line is the figure.

``--engines vllm,llamacpp`` compares the engines instead: each serves the same tiny model
(2 heads: vLLM's CPU attention needs head_dim 32) through a real ``ftsdk serve --engine``
process; measured are start-up (command to ready, engine venv already built and the GGUF
conversion cached), resident memory of its whole process tree, and requests/s of 16-token
greedy answers under CLIENTS concurrent ``openai`` clients. The ratio is the first
engine's requests/s over ``transformers``' (ftsdk's own server, one request at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import torch

import ftsdk
from ftsdk_trl import tiny

REQUESTS = 60
CLIENTS = 16
ENGINE_REQUESTS = 96
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


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (the engine runs in a session of
    its own, so the tree is followed by parent ids), in MB."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = dict(
                line.split(":", 1) for line in (entry / "status").read_text().splitlines()
            )
        except (OSError, ValueError):
            continue
        parents[int(entry.name)] = int(fields["PPid"])
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, grew = {pid}, True
    while grew:
        found = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return sum(rss.get(member, 0) for member in tree) / 1024


def serve_engine(engine: str, model: Path, home: str) -> dict[str, float | str]:
    """One engine's start-up, memory and throughput, from a real ``ftsdk serve``."""
    env = dict(os.environ, FTSDK_HOME=home, FTSDK_NO_PROGRESS="1", OMP_NUM_THREADS="2")
    began = time.perf_counter()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "ftsdk", "serve", str(model), "-p", "trl"),
            *("--engine", engine, "--name", "tiny", "--port", "0", "--json", "--quiet"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        startup = time.perf_counter() - began
        api = openai.OpenAI(base_url=info["base_url"], api_key="x", max_retries=0, timeout=600)

        def ask() -> int:
            answer = api.chat.completions.create(
                model="tiny",
                messages=QUESTION,  # type: ignore[arg-type]
                max_tokens=16,
                temperature=0,
            )
            return answer.usage.completion_tokens if answer.usage else 0

        ask()  # first request: lazy loading is not throughput
        began = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            tokens = sum(pool.map(lambda _: ask(), range(ENGINE_REQUESTS)))
        elapsed = time.perf_counter() - began
        memory = tree_rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(120)
    return {
        "engine": engine,
        "startup_s": round(startup, 1),
        "rss_mb": round(memory),
        "requests_per_s": round(ENGINE_REQUESTS / elapsed, 2),
        "tokens_per_s": round(tokens / elapsed, 1),
    }


def compare_engines(engines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = tiny.build(Path(folder) / "tiny", seed=0, heads=2)
        home = os.environ.get("FTSDK_HOME") or f"{folder}/home"
        rows = [serve_engine(engine, path, home) for engine in ["transformers", *engines]]
    for row in rows:
        print(
            f"{row['engine']:>12}: ready in {row['startup_s']} s, {row['rss_mb']} MB, "
            f"{row['requests_per_s']} requests/s ({row['tokens_per_s']} tokens/s) "
            f"with {CLIENTS} clients"
        )
    base, first = rows[0]["requests_per_s"], rows[1]["requests_per_s"]
    assert isinstance(base, float)
    assert isinstance(first, float)
    print(f"ratio={first / base:.2f} vs transformers ({rows[1]['engine']} requests/s over ours)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", help="compare these engines (vllm,llamacpp) instead")
    arguments = parser.parse_args()
    if arguments.engines:
        compare_engines(arguments.engines.split(","))
    else:
        main()
