"""``python`` graders run the user's ``grade(sample, item)`` in a child process: rewards,
errors flagged as the service flags them, and a grader that never returns is stopped."""

from __future__ import annotations

import time

import psutil
import pytest

from ftsdk.graders import Python

# The example of GraderPython in OpenAI's published OpenAPI document.
PUBLISHED = '''
def grade(sample: dict, item: dict) -> float:
    """
    Returns 1.0 if `output_text` equals `label`, otherwise 0.0.
    """
    output = sample.get("output_text")
    label = item.get("label")
    return 1.0 if output == label else 0.0
'''


def test_the_published_example_scores_and_serialises_as_the_service_takes_it() -> None:
    grader = Python(name="Example python grader", image_tag="2025-05-08", source=PUBLISHED)
    assert grader.run("yes", item={"label": "yes"}).reward == 1.0
    assert grader.run("no", item={"label": "yes"}).reward == 0.0
    assert grader.to_api() == {
        "type": "python",
        "name": "Example python grader",
        "source": PUBLISHED,
        "image_tag": "2025-05-08",
    }  # the local time limit is not sent


def test_grade_sees_output_json_and_any_number_is_the_reward() -> None:
    # Azure's countdown example: rewards beyond 0..1, read from output_json.
    source = """
import json
def grade(sample, item):
    result = int(sample["output_json"]["result"])
    if result == int(item["target"]):
        return 5
    return 4 if abs(result - int(item["target"])) <= 1 else 2
"""
    grader = Python(name="countdown", source=source)
    assert grader.run('{"result": 100}', item={"target": "100"}).reward == 5.0
    assert grader.run('{"result": 99}', item={"target": "100"}).reward == 4.0
    assert grader.run('{"result": 7}', item={"target": "100"}).reward == 2.0


def test_prints_in_the_grader_do_not_confuse_the_answer() -> None:
    grader = Python(name="chatty", source="def grade(s, i):\n    print('0.0')\n    return 0.5\n")
    assert grader.run("x").reward == 0.5


def test_an_exception_is_a_runtime_error_with_the_traceback() -> None:
    grader = Python(name="broken", source="def grade(sample, item):\n    return item['missing']\n")
    result = grader.run("x", item={})
    assert result.reward == 0.0
    assert result.errors.python_grader_runtime_error
    details = result.errors.python_grader_runtime_error_details
    assert details is not None
    assert "KeyError: 'missing'" in details
    assert "<grader broken>" in details  # the line is in the user's code
    assert result.messages == ("python grader 'broken': KeyError: 'missing'",)


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("def grade(s, i):\n    return 'high'\n", "grade() returned str 'high', not a number"),
        ("def grade(s, i):\n    return True\n", "grade() returned bool"),
        ("def grade(s, i):\n    return float('nan')\n", "not a finite number"),
        ("def score(s, i):\n    return 1\n", "defines no grade(sample, item)"),
        ("def grade(s, i) return 1\n", "SyntaxError"),
        ("import sys\ndef grade(s, i):\n    sys.exit(3)\n", "SystemExit: 3"),
    ],
)
def test_answers_that_are_not_numbers_are_runtime_errors(source: str, says: str) -> None:
    result = Python(name="bad", source=source).run("x")
    assert result.reward == 0.0
    assert result.errors.python_grader_runtime_error
    assert says in (result.errors.python_grader_runtime_error_details or "")


def test_a_grader_that_loops_forever_is_stopped_at_its_time_limit() -> None:
    # it starts a process of its own too: the whole group is stopped, nothing is left
    source = (
        "import subprocess, sys\n"
        "def grade(sample, item):\n"
        "    subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
        "    while True:\n"
        "        pass\n"
    )
    grader = Python(name="forever", source=source, time_limit=1.5)
    started = time.monotonic()
    result = grader.run("x")
    took = time.monotonic() - started
    assert 1.5 <= took < 10
    assert result.reward == 0.0
    assert result.errors.unresponsive_reward_error
    assert "ran past its 1.5 s limit" in result.messages[0]
    time.sleep(0.2)  # the killed grandchild is re-parented and reaped by init
    left = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "while True: pass" in " ".join(p.info["cmdline"] or [])
    ]
    assert left == []


def test_a_child_that_dies_is_a_server_error() -> None:
    source = "import os, signal\ndef grade(s, i):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    result = Python(name="dies", source=source).run("x")
    assert result.reward == 0.0
    assert result.errors.python_grader_server_error
    assert result.errors.python_grader_server_error_type == "process_exited"


def test_run_many_scores_each_case_in_one_process_as_run_does() -> None:
    source = (
        "import os\n"
        "def grade(sample, item):\n"
        "    if item['n'] == 2:\n"
        "        while True:\n"
        "            pass\n"
        "    if item['n'] == 3:\n"
        "        raise ValueError('three')\n"
        "    return item['n'] + os.getpid() * 0\n"
    )
    grader = Python(name="many", source=source, time_limit=1.0)
    items = [{"n": n} for n in range(5)]
    results = grader.run_many(["x"] * 5, items=items)
    assert [r.reward for r in results] == [0.0, 1.0, 0.0, 0.0, 4.0]
    assert [r.ok for r in results] == [True, True, False, False, True]
    assert results[2].errors.unresponsive_reward_error  # only the call that looped
    assert results[3].errors.python_grader_runtime_error
    assert "ValueError: three" in (results[3].errors.python_grader_runtime_error_details or "")
    one_by_one = [grader.run("x", item=item) for item in items[:2] + items[4:]]
    assert [r.reward for r in one_by_one] == [0.0, 1.0, 4.0]


def test_code_that_never_loads_is_stopped_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ftsdk.graders.python as python_module

    monkeypatch.setattr(python_module, "_START_SECONDS", 1.0)
    grader = Python(name="stuck", source="while True:\n    pass\n", time_limit=0.5)
    started = time.monotonic()
    results = grader.run_many(["x", "y"])
    assert 2.0 <= time.monotonic() - started < 10
    assert all(r.errors.unresponsive_reward_error for r in results)
    assert "ran past its 2 s deadline" in results[0].messages[0]


def test_run_many_needs_an_item_per_sample() -> None:
    grader = Python(name="p", source="def grade(s, i):\n    return 1\n")
    with pytest.raises(ValueError, match="2 samples but 1 items"):
        grader.run_many(["a", "b"], items=[{}])
