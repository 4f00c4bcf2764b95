"""Start-up and per-step time of a TRL job on each engine versus the plain local run.

The same job (the tiny Llama built offline, 1,000 dates-to-words examples, SFT for
``STEPS`` steps of batch 8, seed 0, one CPU thread per process, a metrics event every step)
runs on each engine in turn, alternating, each time in a fresh ftsdk home. From the job's
own events: start-up is "job created" to the first step's event (the runner starting,
imports, model and data loading, the engine's scheduling), per-step time the seconds
between the first and the last step's events over the steps between them.

Engines are the rows of ``ENGINES`` (provider options) with, in ``SETUPS``, a context
manager that provides what the engine needs (a cluster, an emulation) as extra provider
options. ``local`` and ``ddp`` (two ranks under ``accelerate launch``, gloo on a CPU) need
nothing; ``ray`` (two Ray Train workers) the cluster at ``RAY_ADDRESS``, else a head it
starts on this machine; ``hf_jobs`` the Hub emulation (``ftsdk.testing.hub``), whose Jobs
run as local processes: what is measured there is ftsdk's own cost (the upload, the remote
runner's downloads and second process, the log replay, the push and the download back),
not Hugging Face's queueing or image pull, which come on top.
Run: .venv/bin/python bench/engine_overhead.py [ROUNDS] [ENGINE ...]
The last line is the figure: ratio=<engine/local seconds per step> vs local, for the last
engine named (start-up ratio beside it).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import ftsdk

STEPS = 40
BATCH = 8
LR = 3e-3

ENGINES: dict[str, dict[str, Any]] = {
    "local": {},
    "ddp": {"num_processes": 2},
    "ray": {"engine": "ray", "num_processes": 2},  # RAY_ADDRESS, else a head started here
    "hf_jobs": {"engine": "hf_jobs", "hf_jobs": {"install": []}},  # this venv is the image
}
"""Each engine's provider options, beside the job's common ones (``COMMON``)."""

COMMON: dict[str, Any] = {"num_threads": 1, "logging_steps": 1}
"""Provider options every engine's job has: one thread per process, an event each step."""


@contextlib.contextmanager
def nothing(model: Path) -> Iterator[dict[str, Any]]:
    """An engine that needs nothing more than this machine."""
    yield {}


@contextlib.contextmanager
def ray_cluster(model: Path) -> Iterator[dict[str, Any]]:
    """The Ray cluster at ``RAY_ADDRESS``, else a head started here for the run (2 CPUs,
    ~10 s before the job is created, so not in its start-up) and killed by PID after."""
    address = os.environ.get("RAY_ADDRESS")
    if address:
        yield {"provider_options": {"ray": {"address": address}}}
        return
    from ftsdk_trl.engines.ray_local import local_ray_head

    with local_ray_head(num_cpus=2) as head:
        yield {"provider_options": {"ray": {"address": head.url}}}


@contextlib.contextmanager
def hub_jobs(model: Path) -> Iterator[dict[str, Any]]:
    """The Hub emulation with the tiny model on it, as ``HF_ENDPOINT`` and ``HF_TOKEN``;
    the job's base model is its Hub id (a Job downloads it)."""
    from huggingface_hub import HfApi

    from ftsdk.testing.hub import HubEmulator

    token = "hf_bench_token"
    with HubEmulator(token=token, user="bench") as hub:
        api = HfApi(endpoint=hub.url, token=token)
        api.create_repo("bench/tiny", private=True)
        api.upload_folder(folder_path=model, repo_id="bench/tiny")
        before = {name: os.environ.get(name) for name in ("HF_ENDPOINT", "HF_TOKEN")}
        os.environ.update(HF_ENDPOINT=hub.url, HF_TOKEN=token)
        try:
            yield {"base_model": "bench/tiny"}
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


Setup = Callable[[Path], AbstractContextManager[dict[str, Any]]]
SETUPS: dict[str, Setup] = {
    "local": nothing,
    "ddp": nothing,
    "ray": ray_cluster,
    "hf_jobs": hub_jobs,
}
"""Each engine's context manager: given the tiny model's folder, it starts what the engine
runs on (and stops it on leaving) and yields what to change in the job: ``provider_options``
to add (an address), a ``base_model`` (a Hub id)."""


def timings(job: ftsdk.Job) -> tuple[float, float]:
    """Start-up (seconds from "job created" to the first step's event) and seconds per
    step after the first, from the job's events."""
    events = job.events(all=True)
    created = next(e.created_at for e in events if e.message.startswith("job created"))
    steps = [e for e in events if e.type == "metrics" and e.step]
    first, last = steps[0], steps[-1]
    if first.step is None or last.step is None or last.step <= first.step:
        raise SystemExit(f"{job.id}: fewer than two step events; is logging_steps 1?")
    per_step = (last.created_at - first.created_at).total_seconds() / (last.step - first.step)
    return (first.created_at - created).total_seconds(), per_step


def run(engine: str, model: Path, train: Path, home: Path) -> tuple[float, float]:
    """One job on ``engine`` in the ftsdk home ``home``: its start-up and step time."""
    with SETUPS[engine](model) as extra, ftsdk.client("trl", home=str(home)) as client:
        job = client.train(
            base_model=extra.get("base_model", str(model)),
            training_data=train,
            method=ftsdk.SFT(max_steps=STEPS, batch_size=BATCH, learning_rate=LR),
            seed=0,
            provider_options=COMMON | ENGINES[engine] | extra.get("provider_options", {}),
        )
        job.wait(poll_interval=0.5, max_poll_interval=1.0, progress=False)
        return timings(job)


def main() -> None:
    from ftsdk.testing.data import date_to_words_examples, write_jsonl
    from ftsdk_trl import tiny

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    names = sys.argv[2:] or list(ENGINES)
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        sys.exit(f"no engine {', '.join(unknown)} here; one of {', '.join(ENGINES)}")
    if "local" not in names:
        names.insert(0, "local")
    with tempfile.TemporaryDirectory(prefix="ftsdk-bench-") as tmp:
        work = Path(tmp)
        model = tiny.build(work / "tiny", seed=0)
        train = write_jsonl(work / "train.jsonl", date_to_words_examples(1000, seed=0))
        found: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for number in range(rounds):
            for name in names:  # alternating: the machine's load falls on every engine
                home = work / f"{name}-{number}" / "home"
                found[name].append(run(name, model, train, home))
                start, step = found[name][-1]
                print(f"round {number + 1}: {name:8} start-up {start:6.2f} s, {step:.3f} s/step")
    print(f"device: cpu, {os.cpu_count()} cores; {STEPS} steps x batch {BATCH}, tiny Llama")
    print(f"{'engine':8} {'start-up s':>10} {'s/step':>8} {'start-up x':>10} {'s/step x':>9}")
    local_start = statistics.median(s for s, _ in found["local"])
    local_step = statistics.median(t for _, t in found["local"])
    for name in names:
        start = statistics.median(s for s, _ in found[name])
        step = statistics.median(t for _, t in found[name])
        print(
            f"{name:8} {start:10.2f} {step:8.3f} {start / local_start:10.2f} "
            f"{step / local_step:9.2f}"
        )
    last = names[-1]
    start = statistics.median(s for s, _ in found[last])
    step = statistics.median(t for _, t in found[last])
    print(
        f"ratio={step / local_step:.2f} vs local ({last}, seconds per step, median of "
        f"{rounds}; start-up {start / local_start:.2f}x)"
    )


if __name__ == "__main__":
    main()
