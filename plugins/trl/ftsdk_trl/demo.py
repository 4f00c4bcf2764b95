"""The embedded default: a real fine-tune, end to end, on the CPU, with nothing downloaded.

    python -m ftsdk_trl.demo            # or: ftsdk-trl-demo

Builds the tiny model (:mod:`ftsdk_trl.tiny`), writes 1,000 dates-to-words examples, trains
through ``ftsdk.client("trl").train(...)`` as a background job, prints its progress and loss
curve, then the base and fine-tuned answers on held-out examples with their exact-match
accuracy. About half a minute of training on one CPU core.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "sparkline"]

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """``values`` as one line of bars, highest = tallest.

    >>> sparkline([4.0, 2.0, 1.0, 0.0])
    '█▅▃▁'
    """
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(BARS[round((v - low) / span * (len(BARS) - 1))] for v in values)


def _answers(model: Any, rows: list[dict[str, Any]]) -> list[str]:
    return [model.chat(row["messages"][:-1], max_tokens=12).content for row in rows]


def _accuracy(answers: list[str], rows: list[dict[str, Any]]) -> float:
    right = sum(
        bool(a == row["messages"][-1]["content"]) for a, row in zip(answers, rows, strict=True)
    )
    return right / len(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit 0 when the fine-tuned model beats the base model."""
    import ftsdk
    from ftsdk.testing.data import date_to_words_examples, write_jsonl
    from ftsdk_trl import tiny

    parser = argparse.ArgumentParser(prog="python -m ftsdk_trl.demo", description=__doc__)
    parser.add_argument("--home", help="ftsdk home (default: $FTSDK_HOME or ~/.cache/ftsdk)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for training")
    args = parser.parse_args(argv)

    started = time.monotonic()
    client = ftsdk.client("trl", **({"home": args.home} if args.home else {}))
    home = client.provider.home  # type: ignore[attr-defined]
    work = Path(home) / "trl" / "demo"
    work.mkdir(parents=True, exist_ok=True)
    print(f"1/4 building the tiny base model offline in {work / 'tiny'}")
    base_path = tiny.ensure(work / "tiny", seed=args.seed)
    rows = date_to_words_examples(1050, seed=args.seed)
    train, held_out = rows[:1000], rows[1000:]
    data = write_jsonl(work / "train.jsonl", train)
    print(f"    task: 'convert 2024-03-07 to words' -> 'March 7, 2024'; {len(train)} examples")

    print("2/4 asking the base model (before fine-tuning)")
    base = client.model(str(base_path))
    base_answers = _answers(base, held_out)

    print("3/4 fine-tuning in a background job")
    job = client.train(
        base_model=str(base_path),
        training_data=data,
        method=ftsdk.SFT(epochs=args.epochs, batch_size=16, learning_rate=3e-3),
        seed=args.seed,
        provider_options={"num_threads": args.threads, "logging_steps": 10},
    )
    print(f"    job {job.id} (folder {Path(home) / 'trl' / 'jobs' / job.id})")
    while not job.refresh().status.is_terminal:
        for event in job.events():
            print(f"    {event.message}")
        time.sleep(1.0)
    for event in job.events():
        print(f"    {event.message}")
    job.wait(progress=False)  # raises JobFailed with the reason if it did not succeed
    losses = [m.values["train_loss"] for m in job.metrics() if "train_loss" in m.values]
    print(f"    loss {losses[0]:.3f} -> {losses[-1]:.3f}  {sparkline(losses)}")

    print("4/4 asking the fine-tuned model")
    assert job.model is not None
    tuned_answers = _answers(job.model, held_out)
    width = max(len(r["messages"][-2]["content"]) for r in held_out[:8])
    print(f"    {'prompt':<{width}}  {'base':<18}  fine-tuned")
    for row, before, after in zip(held_out[:8], base_answers, tuned_answers, strict=False):
        mark = "ok" if after == row["messages"][-1]["content"] else "wrong"
        shown = before[:18] or "(nothing)"
        print(f"    {row['messages'][-2]['content']:<{width}}  {shown:<18}  {after} ({mark})")
    base_acc, tuned_acc = _accuracy(base_answers, held_out), _accuracy(tuned_answers, held_out)
    print(
        f"exact match on {len(held_out)} held-out dates: base {base_acc:.0%}, "
        f"fine-tuned {tuned_acc:.0%} ({time.monotonic() - started:.0f}s in all, "
        f"{os.cpu_count()} CPU cores here)"
    )
    return 0 if tuned_acc > base_acc else 1


if __name__ == "__main__":
    raise SystemExit(main())
