"""A grader as compare's scorer: its reward is the score, the eval item is its ``item``, and
an answer it cannot score is that item's error, not a 0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.compare import compare, graded
from ftsdk.errors import InvalidRequest
from ftsdk.graders import StringCheck
from ftsdk.testing.data import write_jsonl

BASE = "gpt-4o-mini-2024-07-18"  # the conftest job's base


def _exact(reference: str) -> StringCheck:
    return StringCheck(
        name="exact", input="{{sample.output_text}}", reference=reference, operation="eq"
    )


def test_a_grader_scores_as_its_reward_with_the_item_fields(
    client: ftsdk.Client, job: ftsdk.Job, rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    # the reference also as a field the grader reads: it must agree with exact_match
    items = [row | {"answer": row["messages"][-1]["content"]} for row in rows[:10]]
    eval_set = write_jsonl(tmp_path / "eval.jsonl", items)
    tuned = job.model
    assert tuned is not None
    report = compare(
        client.model(BASE),
        tuned,
        eval_set,
        scorers=[
            "exact_match",
            _exact("{{item.answer}}"),
            graded(_exact("{{item.answer}}"), name="again"),
        ],
        progress=False,
    )
    assert report.scorers == ["exact_match", "exact", "again"]
    for side in (report.base, report.tuned):
        for item in side.items:
            assert item.scores["exact"] == item.scores["exact_match"] == item.scores["again"]
    assert report.tuned.summary.quality["exact"] == report.tuned.summary.quality["exact_match"]
    assert (report.tuned.summary.quality["exact"] or 0) > 0  # the emulator's tuned model learnt


def test_an_answer_the_grader_cannot_score_is_an_error_not_a_zero(
    client: ftsdk.Client, job: ftsdk.Job, eval_set: Path
) -> None:
    tuned = job.model
    assert tuned is not None
    report = compare(
        client.model(BASE), tuned, eval_set, scorers=[_exact("{{item.missing}}")], progress=False
    )
    for side in (report.base, report.tuned):
        assert side.summary.quality["exact"] is None
        assert all("item has no field 'missing'" in i.score_errors["exact"] for i in side.items)


def test_one_grader_alone_is_refused_with_the_list_to_write(
    client: ftsdk.Client, job: ftsdk.Job, eval_set: Path
) -> None:
    tuned = job.model
    assert tuned is not None
    with pytest.raises(InvalidRequest, match=r"scorers: a list, e.g. \[StringCheck"):
        compare(client.model(BASE), tuned, eval_set, scorers=_exact("x"))  # type: ignore[arg-type]
