"""Small, deterministic training data for tests and examples: dates to words.

A fine-tuned model visibly learns this task and a base model does not, so it tells the two
apart in tests (on the emulator) and in real short runs (on a tiny local model).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

__all__ = ["arithmetic_prompts", "date_to_words", "date_to_words_examples", "write_jsonl"]

SYSTEM = "You convert ISO dates to words."


def date_to_words(day: dt.date) -> str:
    """``2024-03-07`` → ``March 7, 2024``."""
    return f"{day:%B} {day.day}, {day.year}"


def date_to_words_examples(n: int, *, seed: int = 0, system: bool = True) -> list[dict[str, Any]]:
    """``n`` distinct chat examples ``convert YYYY-MM-DD to words`` → ``Month D, YYYY``.

    >>> date_to_words_examples(1, seed=1)[0]["messages"][-1]["content"]
    'February 9, 1974'
    """
    rng = random.Random(seed)
    start = dt.date(1950, 1, 1)
    days = rng.sample(range((dt.date(2049, 12, 31) - start).days), n)
    rows = []
    for offset in days:
        day = start + dt.timedelta(days=offset)
        messages = [{"role": "system", "content": SYSTEM}] if system else []
        messages += [
            {"role": "user", "content": f"convert {day.isoformat()} to words"},
            {"role": "assistant", "content": date_to_words(day)},
        ]
        rows.append({"messages": messages})
    return rows


def arithmetic_prompts(n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` reinforcement examples: a prompt ending with a user turn (``messages``) and the
    ``answer`` field a grader reads as ``{{item.answer}}``.

    >>> arithmetic_prompts(1)[0]["answer"], arithmetic_prompts(1)[0]["messages"][-1]["role"]
    ('0', 'user')
    """
    return [
        {
            "messages": [
                {"role": "developer", "content": "Answer with the number only."},
                {"role": "user", "content": f"What is {i + seed} + {2 * i}?"},
            ],
            "answer": str(3 * i + seed),
        }
        for i in range(n)
    ]


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` as JSON Lines (UTF-8) and return the path."""
    target = Path(path)
    target.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )
    return target
