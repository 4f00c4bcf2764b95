"""The behaviour kit passes an honest provider and catches each way of breaking the
contract: every broken copy in ``kit_cases.py`` fails exactly the tests named for it."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

CASES = Path(__file__).with_name("kit_cases.py")
ERROR_TESTS = {f"test_errors_are_mapped[{s}]" for s in (401, 403, 404, 429, 500, 503)}
EXPECTED_FAILURES = {
    "TestMemoryProvider": set(),
    "TestNotIdempotent": {"test_create_is_idempotent"},
    "TestEventsIgnoreAfter": {"test_events_are_incremental"},
    "TestCancelRevives": {"test_cancel_on_an_ended_job_changes_nothing"},
    "TestStreamsTextSoFar": {  # its async twin runs the same broken stream
        "test_streamed_pieces_join_to_the_chat_answer",
        "test_async_answers_as_sync",
    },
    "TestRunningAsQueued": {"test_statuses_are_mapped"},
    "TestEverythingInvalid": ERROR_TESTS,
    "TestAsyncDisagrees": {"test_async_answers_as_sync"},
    "TestLogsItsKey": {"test_secrets_never_in_reprs_or_logs"},
}


def test_the_kit_fails_each_broken_provider_on_its_own_test(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    subprocess.run(
        [*pytest, str(CASES), f"--junitxml={report}", "--rootdir", str(CASES.parent)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    failed: dict[str, set[str]] = {name: set() for name in EXPECTED_FAILURES}
    ran: dict[str, int] = dict.fromkeys(EXPECTED_FAILURES, 0)
    for case in ET.parse(report).iter("testcase"):
        owner = case.attrib["classname"].rsplit(".", 1)[-1]
        assert case.find("skipped") is None, (owner, case.attrib["name"])
        ran[owner] += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed[owner].add(case.attrib["name"])
    assert failed == EXPECTED_FAILURES
    assert set(ran.values()) == {13}, ran  # every kit test ran on every provider
