"""Time to compare a base and a fine-tuned model with ``ftsdk.compare`` versus the loop a
user writes by hand (the demo's old way: ``model.chat`` for each item, one after another,
exact match counted inline).

Both run on OpenAI's emulator over real HTTP, with 50 ms of latency added to every chat
request (a fast real API answers in hundreds of ms), on the same 100-item eval set and the
same fine-tuned job. ``compare`` also scores three ways, keeps every answer and its tokens,
and prices both sides; its ``concurrency`` (default 4) is what pays for that.
Run: .venv/bin/python bench/compare.py
The last line is the figure: ratio=<compare/by hand> vs a sequential chat loop.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import ftsdk
from ftsdk.compare import compare
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

ITEMS = 100
LATENCY = 0.05
ROUNDS = 3


def by_hand(base: ftsdk.Model, tuned: ftsdk.Model, rows: list[dict[str, object]]) -> float:
    right = {"base": 0, "tuned": 0}
    for name, model in (("base", base), ("tuned", tuned)):
        for row in rows:
            messages = row["messages"]
            assert isinstance(messages, list)
            answer = model.chat(messages[:-1], temperature=0).content
            right[name] += answer == messages[-1]["content"]
    return right["tuned"] / len(rows)


def main() -> None:
    rows = date_to_words_examples(ITEMS)
    with tempfile.TemporaryDirectory() as folder, Emulator(clock_speed=1000) as emu:
        train = write_jsonl(Path(folder) / "train.jsonl", rows)
        eval_set = write_jsonl(Path(folder) / "eval.jsonl", rows)
        client = ftsdk.client(
            "openai", api_key=emu.api_key, base_url=emu.openai_base_url, home=Path(folder)
        )
        job = client.train(base_model="gpt-4o-mini-2024-07-18", training_data=train)
        job.wait(poll_interval=0.02, progress=False)
        assert job.model is not None
        base = client.model("gpt-4o-mini-2024-07-18")
        emu.faults.add("POST /chat/completions", delay=LATENCY, times=None)
        hand, ours = [], []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            accuracy = by_hand(base, job.model, rows)
            hand.append(time.perf_counter() - started)
            started = time.perf_counter()
            report = compare(base, job.model, eval_set, progress=False)
            ours.append(time.perf_counter() - started)
            assert report.tuned.summary.quality["exact_match"] == accuracy == 1.0
        client.close()
    h, o = statistics.median(hand), statistics.median(ours)
    print(
        f"{ITEMS} items x 2 models, {LATENCY * 1000:.0f} ms added per chat request, median of "
        f"{ROUNDS}: by hand {h:.2f} s, ftsdk.compare {o:.2f} s (concurrency 4, 3 scorers)"
    )
    print(f"ratio={o / h:.2f} vs a sequential chat loop")


if __name__ == "__main__":
    main()
