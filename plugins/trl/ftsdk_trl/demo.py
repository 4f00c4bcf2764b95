"""The embedded default: a real fine-tune, end to end, on the CPU, with nothing downloaded.

    python -m ftsdk_trl.demo            # or: ftsdk-trl-demo

Builds the tiny model (:mod:`ftsdk_trl.tiny`), writes 1,000 dates-to-words examples, trains
through ``ftsdk.client("trl").train(...)`` as a background job, prints its progress and loss
curve, then compares the base model (given 3 examples in its prompt) with the fine-tuned one
on held-out examples with :func:`ftsdk.compare.compare`: quality, tokens per request, and an
HTML report with the loss curve. About half a minute of training on one CPU core.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ftsdk.compare import ComparisonReport

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


def _show(report: ComparisonReport) -> None:
    """A few answers side by side, then the comparison's table."""
    width = max(len(item.messages[-1]["content"]) for item in report.base.items[:8])
    print(f"    {'prompt':<{width}}  {'base':<18}  fine-tuned")
    for before, after in zip(report.base.items[:8], report.tuned.items[:8], strict=True):
        mark = "ok" if after.scores.get("exact_match") == 1.0 else "wrong"
        prompt, shown = before.messages[-1]["content"], (before.answer or "")[:18] or "(nothing)"
        print(f"    {prompt:<{width}}  {shown:<18}  {after.answer} ({mark})")
    print()
    print("\n".join(f"    {line}".rstrip() for line in report.table().splitlines()))


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit 0 when the fine-tuned model beats the base model."""
    import ftsdk
    from ftsdk.compare import compare
    from ftsdk.testing.data import SYSTEM, date_to_words_examples, write_jsonl
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
    eval_set = write_jsonl(work / "held-out.jsonl", held_out)
    print(f"    task: 'convert 2024-03-07 to words' -> 'March 7, 2024'; {len(train)} examples")

    print("2/4 fine-tuning in a background job")
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

    print("3/4 comparing base (3-shot) and fine-tuned on held-out dates (ftsdk.compare)")
    assert job.model is not None
    report = compare(
        client.model(str(base_path)),
        job.model,
        eval_set,
        scorers=["exact_match", "similarity"],
        few_shot=3,
        few_shot_pool=data,
        max_tokens=12,
        concurrency=1,
        progress=False,
    )
    _show(report)
    question = "convert 2026-11-25 to words"  # asked as taught: with the examples' system message
    print(f"    ask it yourself, streamed as it is written: {question!r} -> ", end="", flush=True)
    with job.model.stream(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
        max_tokens=24,
    ) as answer:
        for text in answer:
            print(text, end="", flush=True)
    print()
    print("4/4 writing the report")
    html = report.to_html(work / "report.html", job=job)
    report.to_json(work / "report.json")
    print(f"    HTML report (summary, loss curve, every example): {html}")
    print(f"    JSON report: {work / 'report.json'}")
    base_acc = report.base.summary.quality["exact_match"] or 0.0
    tuned_acc = report.tuned.summary.quality["exact_match"] or 0.0
    print(
        f"exact match on {len(held_out)} held-out dates: base {base_acc:.0%}, "
        f"fine-tuned {tuned_acc:.0%} ({time.monotonic() - started:.0f}s in all, "
        f"{os.cpu_count()} CPU cores here)"
    )
    return 0 if report.tuned_wins("exact_match") else 1


if __name__ == "__main__":
    raise SystemExit(main())
