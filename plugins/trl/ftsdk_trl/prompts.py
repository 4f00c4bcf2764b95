"""Reinforcement data for TRL, checked before a job starts: one JSON object a line, a prompt
as ``messages`` that ends with a user turn, plus every field the grader's ``{{item.*}}``
templates read. Each problem names its file, line and field, as the other data checks do::

    {"messages": [{"role": "user", "content": "Which month is 03?"}], "answer": "March"}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ftsdk.errors import InvalidDataset

__all__ = ["MAX_SHOWN", "check_prompts", "row_problems"]

MAX_SHOWN = 20
"""Problems listed in the error's message (all are in ``problems``)."""

_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})


def row_problems(row: Any, fields: Sequence[str]) -> list[tuple[str, str]]:
    """What is wrong with one row, as ``(field, why)`` pairs.

    >>> row_problems({"messages": [{"role": "user", "content": "hi"}]}, ["answer"])
    [('answer', 'missing: the grader reads {{item.answer}}')]
    """
    if not isinstance(row, dict):
        return [("", f"not a JSON object but {type(row).__name__}")]
    problems: list[tuple[str, str]] = []
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        problems.append(("messages", "missing or empty: the prompt, a list of messages"))
    else:
        for n, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in _ROLES:
                problems.append((f"messages[{n}].role", f"not a known role ({role!r})"))
            elif not isinstance(message.get("content"), str):
                problems.append((f"messages[{n}].content", "not text"))
        last = messages[-1]
        if isinstance(last, dict) and last.get("role") != "user":
            problems.append(
                (
                    f"messages[{len(messages) - 1}].role",
                    "the prompt must end with a user turn (the model writes the answer)",
                )
            )
    for name in fields:
        if name not in row:
            problems.append((name, f"missing: the grader reads {{{{item.{name}}}}}"))
    return problems


def check_prompts(
    path: str | Path, fields: Sequence[str], *, label: str, provider: str | None = None
) -> int:
    """Check every row of the JSONL file ``path``; return how many rows it has.

    :param fields: the item fields the grader reads (:meth:`ftsdk.graders.Grader.item_fields`).
    :param label: the data's name in errors (``training_data``).
    :raises InvalidDataset: the rows' problems, each ``file:line: field: why``.
    """
    source = Path(path)
    problems: list[str] = []
    rows = 0
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        rows += 1
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{source}:{number}: not JSON ({err.msg})")
            continue
        for field, why in row_problems(row, fields):
            problems.append(
                f"{source}:{number}: {field}: {why}" if field else f"{source}:{number}: {why}"
            )
    if not rows:
        problems.append(f"{source}: no examples")
    if problems:
        shown = "\n  ".join(problems[:MAX_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise InvalidDataset(
            f"{label}: {len(problems)} problem(s) in reinforcement data:\n  {shown}{more}",
            problems=problems,
            field=label,
            provider=provider,
        )
    return rows
