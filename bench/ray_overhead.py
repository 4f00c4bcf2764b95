"""Start-up and per-step overhead of a TRL job on a Ray cluster, against the same job run
on this machine (one process, and two under ``accelerate launch``).

Same tiny model (built offline), same 1,000 dates-to-words examples, same method (SFT,
``STEPS`` steps of batch 8, seed 0), one CPU thread per process; only the provider options
change. Read from each job's own events, on this machine's clock: start-up is ``train()``
until the event ``training: step 0 of N``; a step is the time between the first and the
last step's event, over the steps between; total is ``train()`` until the event
``succeeded`` (the model saved).
The runs alternate, ``REPEATS`` rounds; medians are printed.

Needs a running cluster: ``RAY_ADDRESS=http://127.0.0.1:8265 .venv/bin/python
bench/ray_overhead.py [REPEATS]`` (e.g. ``ray start --head --num-cpus 2 --dashboard-host
127.0.0.1``, stopped by PID afterwards). The last line is the figure.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ftsdk
from ftsdk.testing.local import date_files
from ftsdk_trl import tiny

STEPS = 60
ENGINES: dict[str, dict[str, Any]] = {
    "local, 1 process": {},
    "local, 2 processes (accelerate)": {"num_processes": 2},
    "ray, 2 workers": {"engine": "ray", "num_processes": 2},
}


def run(
    client: ftsdk.Client, model: Path, train: Path, options: dict[str, Any]
) -> dict[str, float]:
    """One job; its start-up, seconds per step and total, in seconds."""
    started = time.time()
    job = client.train(
        base_model=str(model),
        training_data=train,
        method=ftsdk.SFT(max_steps=STEPS, batch_size=8, learning_rate=3e-3),
        seed=0,
        provider_options={"num_threads": 1, "logging_steps": 1} | options,
    )
    job.wait(poll_interval=0.2, max_poll_interval=0.5, progress=False)
    events = job.events(all=True)
    done = next(e for e in events if e.message.startswith("succeeded:"))
    total = done.created_at.timestamp() - started
    begin = next(e for e in events if e.message.startswith("training: step 0 of"))
    steps = [e for e in events if e.type == "metrics"]
    per_step = (steps[-1].created_at - steps[0].created_at).total_seconds() / (len(steps) - 1)
    return {
        "startup": begin.created_at.timestamp() - started,
        "step": per_step,
        "total": total,
    }


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    if not os.environ.get("RAY_ADDRESS"):
        sys.exit("set RAY_ADDRESS to a running Ray cluster's dashboard URL")
    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    model = tiny.build(work / "tiny", seed=0)
    train, _ = date_files(work)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in ENGINES}
    with ftsdk.client("trl", home=str(work / "home")) as client:
        for round_ in range(repeats):
            for name, options in ENGINES.items():
                found = run(client, model, train, options)
                results[name].append(found)
                print(
                    f"round {round_ + 1} {name}: "
                    + ", ".join(f"{k} {v:.3f}s" for k, v in found.items())
                )
    base = {
        k: statistics.median(r[k] for r in results["local, 1 process"])
        for k in ("startup", "step", "total")
    }
    for name, rows in results.items():
        median = {k: statistics.median(r[k] for r in rows) for k in ("startup", "step", "total")}
        extra = median["startup"] - base["startup"]
        print(
            f"{name}: start-up {median['startup']:.1f}s (+{extra:.1f}s), "
            f"{median['step'] * 1000:.0f} ms/step (x{median['step'] / base['step']:.2f}), "
            f"total {median['total']:.1f}s for {STEPS} steps"
        )


if __name__ == "__main__":
    main()
