"""Reinforcement prompts as the dataset toolkit reads them: ``messages`` ending with a user
turn beside the grader's fields, read so only where the method takes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftsdk._vocab import DataFormat
from ftsdk.dataset import Dataset, Target
from ftsdk.dataset.formats import check_example
from ftsdk.dataset.grader_fields import missing_item_fields
from ftsdk.graders import Multi, StringCheck
from ftsdk.testing.data import write_jsonl

PROMPT: dict[str, Any] = {
    "messages": [
        {"role": "developer", "content": "Answer with the number only."},
        {"role": "user", "content": "What is 2 + 4?"},
    ],
    "answer": "6",
    "meta": {"source": "arithmetic"},
}


def test_rft_prompt_is_well_formed() -> None:
    assert check_example(PROMPT, DataFormat.REINFORCEMENT) == []


def test_rft_prompt_must_end_with_a_user_turn() -> None:
    answered = {**PROMPT, "messages": [*PROMPT["messages"], {"role": "assistant", "content": "6"}]}
    [finding] = check_example(answered, DataFormat.REINFORCEMENT)
    assert (finding.kind, finding.field) == ("last_not_user", "messages[2].role")
    assert not finding.warning


def test_rft_prompt_messages_are_still_checked() -> None:
    empty = {**PROMPT, "messages": [{"role": "user", "content": ""}]}
    assert [f.kind for f in check_example(empty, DataFormat.REINFORCEMENT)] == ["empty_content"]


def test_rft_prompts_validate_for_openai_o4_mini(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "prompts.jsonl", [PROMPT] * 12)
    report = Dataset.load(path).validate(
        target=Target.for_model("openai", "o4-mini", method="reinforcement")
    )
    assert report.format == "reinforcement"
    assert [p.kind for p in report.errors] == []
    assert report.stats is not None
    assert report.stats.total > 0  # the prompts' tokens are counted


def test_rft_prompts_are_chat_to_an_sft_target(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "prompts.jsonl", [PROMPT] * 12)
    report = Dataset.load(path).validate(
        target=Target.for_model("openai", "gpt-4o-mini", method="sft")
    )
    assert report.format == "chat"
    assert {"unknown_key", "bad_role", "no_assistant"} <= set(report.counts())


def test_rft_missing_item_fields_are_located() -> None:
    grader = Multi(
        name="both",
        calculate_output="a * b",
        graders={
            "a": StringCheck(
                name="a", input="{{sample.output_text}}", reference="{{item.answer}}",
                operation="eq",
            ),
            "b": StringCheck(
                name="b", input="{{item.meta.source}}", reference="arithmetic", operation="eq"
            ),
        },
    )  # fmt: skip
    rows = [PROMPT, {k: v for k, v in PROMPT.items() if k != "meta"}, {"messages": []}]
    dataset = Dataset.from_records(rows)
    problems = missing_item_fields(dataset.examples(), grader)
    assert [(str(p.origin), p.field) for p in problems] == [
        ("<records>[1]", "item.meta.source"),
        ("<records>[2]", "item.answer"),
    ]
    assert all(p.kind == "missing_item_field" for p in problems)
    assert "'both'" in problems[0].message
