"""Start-up and per-step overhead of the hf_jobs engine against the plain local run, on the
tiny model, side by side: the same JobSpec (SFT, batch 8, ``STEPS`` steps, one thread),
only ``provider_options`` changed.

The Hugging Face Job runs on the Hub emulation (``ftsdk.testing.hub``): its command is a
local process, so what is measured is ftsdk's own overhead (upload, the remote runner's
downloads and second process, the log replay, the push and the download back), not the
service's queueing or an image pull, which come on top on Hugging Face.
Run: .venv/bin/python bench/hf_jobs_overhead.py
Prints, per engine: wall time from ``train()`` to ``succeeded`` as the caller sees it, the
time to the first training step, and the trainer's own ``train_runtime``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi

import ftsdk
from ftsdk.testing.hub import HubEmulator
from ftsdk.testing.local import date_files
from ftsdk_trl import tiny

STEPS = 40
TOKEN = "hf_bench_token"


def run(client: ftsdk.Client, spec: ftsdk.JobSpec) -> dict[str, float]:
    started = time.monotonic()
    job = client.train(spec)
    first_step = None
    while not job.refresh().status.is_terminal:
        if first_step is None and (job.state.step or 0) >= 1:
            first_step = time.monotonic() - started
        time.sleep(0.1)
    wall = time.monotonic() - started
    assert job.status.value == "succeeded", job.error
    runtime = next(
        float(e.message.split(" in ")[1].split("s,")[0])
        for e in job.events()
        if e.message.startswith("training done in ")
    )
    return {"wall_s": wall, "first_step_s": first_step or wall, "train_runtime_s": runtime}


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-hf-jobs-"))
    try:
        measure(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(tmp: Path) -> None:
    os.environ["FTSDK_HOME"] = str(tmp / "home")
    model = tiny.build(tmp / "tiny", seed=0)
    train, _ = date_files(tmp)
    method = ftsdk.SFT(batch_size=8, max_steps=STEPS, learning_rate=3e-3)
    common: dict[str, Any] = {"num_threads": 1, "logging_steps": 1}
    with HubEmulator(token=TOKEN, user="bench") as hub:
        os.environ["HF_ENDPOINT"] = hub.url
        os.environ["HF_TOKEN"] = TOKEN
        api = HfApi(endpoint=hub.url, token=TOKEN)
        api.create_repo("bench/tiny", private=True)
        api.upload_folder(folder_path=model, repo_id="bench/tiny")
        with ftsdk.client("trl") as client:
            results = {
                "local": run(
                    client,
                    ftsdk.JobSpec(
                        base_model=str(model),
                        training_data=train,
                        method=method,
                        provider_options=common,
                    ),
                ),
                "hf_jobs": run(
                    client,
                    ftsdk.JobSpec(
                        base_model="bench/tiny",
                        training_data=train,
                        method=method,
                        provider_options=common | {"engine": "hf_jobs", "hf_jobs": {"install": []}},
                    ),
                ),
            }
    for name, figures in results.items():
        shown = ", ".join(f"{k}={v:.1f}" for k, v in figures.items())
        print(f"{name}: {shown} ({STEPS} steps)")
    local, remote = results["local"], results["hf_jobs"]
    print(
        f"hf_jobs overhead: +{remote['wall_s'] - local['wall_s']:.1f}s wall, "
        f"+{remote['first_step_s'] - local['first_step_s']:.1f}s to the first step, "
        f"{(remote['train_runtime_s'] - local['train_runtime_s']) / STEPS * 1000:+.0f} ms/step"
    )


if __name__ == "__main__":
    main()
