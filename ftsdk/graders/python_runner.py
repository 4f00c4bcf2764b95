"""Run one Python grader's ``grade(sample, item)`` in this (child) process, for one or more
samples.

Started by :class:`ftsdk.graders.Python` as ``python -I python_runner.py``; reads
``{"source", "name", "time_limit", "cases": [{"sample", "item"}, ...]}`` as JSON on stdin
and writes, after a marker on stdout, one JSON list with an answer per case:
``{"reward": float}``, ``{"error": "runtime", "details": traceback}`` or
``{"error": "timeout"}``. Whatever the user's code prints goes to stderr, so it cannot be
taken for the answer. Where there are interval timers (POSIX), each call gets
``time_limit`` seconds; the parent process also stops the whole run at a deadline. It
imports nothing from ftsdk: the child stays cheap to start.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

MARKER = "\x1eftsdk-grader-result\x1e"


class _TimeLimit(BaseException):
    """Raised in the user's code when its call runs out of time (a BaseException, so a bare
    ``except Exception`` in that code does not swallow it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _TimeLimit


def _load(request: dict[str, Any]) -> Callable[..., Any] | dict[str, Any]:
    """The user's ``grade`` function, or the answer every case gets when there is none."""
    namespace: dict[str, Any] = {"__name__": "__grader__"}
    try:
        code = compile(request["source"], f"<grader {request['name']}>", "exec")
        exec(code, namespace)  # the user's own grader: running it is the point
    except BaseException:  # SystemExit too: the child must always answer
        return {"error": "runtime", "details": traceback.format_exc(limit=-8)}
    grade = namespace.get("grade")
    if not callable(grade):
        return {"error": "runtime", "details": "the source defines no grade(sample, item)"}
    function: Callable[..., Any] = grade
    return function


def _call(grade: Callable[..., Any], case: dict[str, Any], time_limit: float) -> dict[str, Any]:
    timed = hasattr(signal, "setitimer")
    try:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, time_limit)
        try:
            value = grade(case["sample"], case["item"])
        finally:
            if timed:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except _TimeLimit:
        return {"error": "timeout"}
    except BaseException:
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
    """Answer the request on stdin."""
    request = json.loads(sys.stdin.read())
    answer_to = sys.stdout
    sys.stdout = sys.stderr  # the user's prints must not mix with the answer
    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, _on_alarm)
    grade = _load(request)
    answers = [
        grade if isinstance(grade, dict) else _call(grade, case, float(request["time_limit"]))
        for case in request["cases"]
    ]
    answer_to.write(MARKER + json.dumps(answers) + "\n")
    answer_to.flush()
    if hasattr(os, "killpg") and os.getpgid(0) == os.getpid():
        # Leading a process group of its own (as the parent starts it): whatever the
        # grader started and left running is stopped with it.
        os.killpg(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
