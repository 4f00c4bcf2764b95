"""Run one Python grader's ``grade(sample, item)`` in this (child) process.

Started by :class:`ftsdk.graders.Python` as ``python -I python_runner.py``; reads
``{"source", "name", "sample", "item"}`` as JSON on stdin and writes one JSON line after a
marker on stdout: ``{"reward": float}`` or ``{"error": "runtime", "details": traceback}``.
Whatever the user's code prints goes to stderr, so it cannot be taken for the answer. It
imports nothing from ftsdk: the child stays cheap to start.
"""

from __future__ import annotations

import json
import math
import numbers
import sys
import traceback
from typing import Any

MARKER = "\x1eftsdk-grader-result\x1e"


def _grade(request: dict[str, Any]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "__grader__"}
    try:
        code = compile(request["source"], f"<grader {request['name']}>", "exec")
        exec(code, namespace)  # the user's own grader: running it is the point
        grade = namespace.get("grade")
        if not callable(grade):
            return {"error": "runtime", "details": "the source defines no grade(sample, item)"}
        value = grade(request["sample"], request["item"])
    except BaseException:  # SystemExit too: the child must always answer
        return {"error": "runtime", "details": traceback.format_exc(limit=-8)}
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return {
            "error": "runtime",
            "details": f"grade() returned {type(value).__name__} {value!r:.80}, not a number",
        }
    reward = float(value)
    if not math.isfinite(reward):
        return {"error": "runtime", "details": f"grade() returned {reward}, not a finite number"}
    return {"reward": reward}


def main() -> None:
    request = json.loads(sys.stdin.read())
    answer_to = sys.stdout
    sys.stdout = sys.stderr  # the user's prints must not mix with the answer
    answer = _grade(request)
    answer_to.write(MARKER + json.dumps(answer) + "\n")
    answer_to.flush()


if __name__ == "__main__":
    main()
