"""Uploading a large training file: ftsdk's OpenAI plugin versus openai-python's own
`client.uploads.upload_file_chunked`, against the emulator with per-request latency.

The emulator runs in its own process (`ftsdk emulator --latency 0.05`) so that client and
server do not share a GIL. Both sides upload the same file through the Uploads API; ftsdk
hashes it (to never upload the same data twice), sends 16 MB parts 8 at a time, and waits
for the file to be processed; openai-python sends 64 MB parts one after the other.
Two runs: at loopback speed (the emulator's CPU is then the limit, so parallel parts gain
little), and with each request body read at 20 MB/s, as one TCP connection across a
wide-area link delivers: the case parallel parts are for.
Run: .venv/bin/python bench/upload.py [SIZE_MB]   (default 1024). The last line is the figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openai

import ftsdk

LATENCY = 0.05


def make_file(path: Path, size_mb: int) -> None:
    line = (
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "x" * 200},
                    {"role": "assistant", "content": "y" * 200},
                ]
            }
        )
        + "\n"
    )
    block = (line * (1024 * 1024 // len(line) + 1)).encode()[: 1024 * 1024]
    cut = block.rfind(b"\n") + 1
    with path.open("wb") as stream:
        written = 0
        while written < size_mb * 1024 * 1024:
            stream.write(block[:cut])
            written += cut


def run(size_mb: int, path: Path, home: Path, bandwidth: float | None) -> tuple[float, float]:
    """Seconds for ftsdk and for openai-python to upload ``path`` to a fresh emulator."""
    args = [
        str(Path(sys.executable).with_name("ftsdk")),
        "emulator",
        "--json",
        "--no-strict",
        "--latency",
        str(LATENCY),
    ]
    if bandwidth:
        args += ["--bandwidth", str(bandwidth)]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        size = path.stat().st_size
        started = time.perf_counter()
        with ftsdk.client(
            "openai", api_key=info["api_key"], base_url=info["openai_base_url"], home=home
        ) as client:
            ours = client.upload(path)
        ftsdk_s = time.perf_counter() - started
        raw = openai.OpenAI(
            api_key=info["api_key"], base_url=info["openai_base_url"], max_retries=0, timeout=3600
        )
        started = time.perf_counter()
        theirs = raw.uploads.upload_file_chunked(
            file=path, mime_type="application/jsonl", purpose="fine-tune"
        )
        openai_s = time.perf_counter() - started
        assert ours.bytes == size
        assert theirs.file is not None
        assert theirs.file.bytes == size
    finally:
        server.terminate()
        server.wait(timeout=60)
    return ftsdk_s, openai_s


def main() -> None:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.jsonl"
        make_file(path, size_mb)
        mb = path.stat().st_size / 1024 / 1024
        print(f"file: {mb:.0f} MB; {os.cpu_count()} cores; emulator in its own process")
        ratios = []
        for label, bandwidth in (("loopback", None), ("WAN 20 MB/s per connection", 20e6)):
            ftsdk_s, openai_s = run(size_mb, path, Path(tmp) / label, bandwidth)
            ratios.append(openai_s / ftsdk_s)
            print(
                f"{label}, {LATENCY * 1000:.0f} ms per request: ftsdk {ftsdk_s:.1f} s "
                f"({mb / ftsdk_s:.0f} MB/s, hash + 16 MB parts x8 + processed); "
                f"openai upload_file_chunked {openai_s:.1f} s ({mb / openai_s:.0f} MB/s, "
                f"64 MB parts one by one); ratio {openai_s / ftsdk_s:.2f}"
            )
    print(
        f"ratio={ratios[-1]:.2f} vs openai upload_file_chunked (speed-up, WAN model; "
        f"loopback {ratios[0]:.2f})"
    )


if __name__ == "__main__":
    main()
