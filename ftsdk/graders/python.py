"""``python``: the user's ``grade(sample, item) -> float``, run in a child process with a
time limit.

Locally the code runs as the user, with this interpreter and its packages (the service runs
it in a sandbox: no network, 2 GB of memory, 1 CPU, 2 minutes, and its own pinned packages).
On the services the grader travels as its source; Azure's reinforcement fine-tuning does not
take Python graders (:func:`ftsdk.graders.check_grader` says so before a job is created).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field

from ftsdk.graders import python_runner
from ftsdk.graders.base import GraderBase, Outcome
from ftsdk.graders.templates import Sample

__all__ = ["MAX_SOURCE_BYTES", "SERVICE_TIME_LIMIT", "Python"]

SERVICE_TIME_LIMIT: Final = 120.0
"""Seconds the service lets a Python grader run."""
MAX_SOURCE_BYTES: Final = 256 * 1024
"""The largest source the service takes."""

_RUNNER: Final = Path(python_runner.__file__)
_START_SECONDS: Final = 10.0  # for the child to start and load the grader's imports


class Python(GraderBase):
    """Score with your own Python: the source defines ``grade(sample, item)`` returning a
    number. ``sample`` holds ``output_text`` (and ``output_json`` when the answer is JSON),
    ``item`` is the dataset row.

    >>> grader = Python(name="exact", source='''
    ... def grade(sample, item):
    ...     return 1.0 if sample["output_text"] == item["label"] else 0.0
    ... ''')
    >>> grader.run("yes", item={"label": "yes"}).reward
    1.0
    """

    type: Literal["python"] = "python"
    source: str
    """The Python source; it must define ``grade(sample, item)``."""
    image_tag: str | None = None
    """The service's runtime image (e.g. ``"2025-05-08"``); not used locally."""
    time_limit: float = Field(default=SERVICE_TIME_LIMIT, gt=0, exclude=True)
    """Seconds a local run may take before it is stopped (not sent to the service)."""

    def _template_strings(self) -> Iterator[str]:
        return iter(())  # the code reads item and sample itself

    def _grade(self, sample: Sample, item: dict[str, Any]) -> Outcome:
        return self._grade_many([(sample, item)])[0]

    def _grade_many(self, cases: Sequence[tuple[Sample, dict[str, Any]]]) -> list[Outcome]:
        """Grade every case in one child process: ``grade`` is loaded once, each call gets
        :attr:`time_limit` seconds, and the whole run stops at a deadline of that many
        seconds per case (plus a little to start)."""
        request = json.dumps(
            {
                "source": self.source,
                "name": self.name,
                "time_limit": self.time_limit,
                "cases": [{"sample": s.namespace(), "item": item} for s, item in cases],
            }
        )
        process = subprocess.Popen(
            [sys.executable, "-I", str(_RUNNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            # its own process group, so a time-out stops whatever the code started too
            start_new_session=os.name == "posix",
        )
        deadline = self.time_limit * len(cases) + _START_SECONDS
        try:
            stdout, stderr = process.communicate(request, timeout=deadline)
        except subprocess.TimeoutExpired:
            _stop(process)
            late = Outcome.failed(
                f"python grader {self.name!r}: the grading process ran past its {deadline:g} s "
                "deadline and was stopped",
                unresponsive_reward_error=True,
            )
            return [late for _ in cases]
        _, marker, answer = stdout.rpartition(python_runner.MARKER)
        if not marker:
            detail = stderr.strip()[-2000:] or f"exit status {process.returncode}"
            died = Outcome.failed(
                f"python grader {self.name!r}: the grading process ended without an answer: "
                f"{detail}",
                python_grader_server_error=True,
                python_grader_server_error_type="process_exited",
            )
            return [died for _ in cases]
        return [self._outcome(result) for result in json.loads(answer)]

    def _outcome(self, result: dict[str, Any]) -> Outcome:
        if result.get("error") == "timeout":
            return Outcome.failed(
                f"python grader {self.name!r}: grade() ran past its {self.time_limit:g} s "
                "limit and was stopped",
                unresponsive_reward_error=True,
            )
        if "error" in result:
            return Outcome.failed(
                f"python grader {self.name!r}: {result['details'].strip().splitlines()[-1]}",
                python_grader_runtime_error=True,
                python_grader_runtime_error_details=result["details"],
            )
        return Outcome(reward=float(result["reward"]))


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill the grading process (and its group, where there are groups) and reap it."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a process that left the group still holds the pipes
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        process.wait()
