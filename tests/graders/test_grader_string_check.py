"""``string_check`` on the operations as OpenAI's graders guide defines them: ``eq`` and ``ne``
case-sensitive, ``like`` the input contains the reference, ``ilike`` ignoring case."""

from __future__ import annotations

import pytest

from ftsdk.graders import StringCheck


def check(operation: str) -> StringCheck:
    return StringCheck(
        name="Example string check grader",
        input="{{sample.output_text}}",
        reference="{{item.label}}",
        operation=operation,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("operation", "answer", "label", "reward"),
    [
        ("eq", "positive", "positive", 1.0),
        ("eq", "Positive", "positive", 0.0),  # case-sensitive
        ("eq", "positive ", "positive", 0.0),  # nothing is stripped
        ("ne", "negative", "positive", 1.0),
        ("ne", "positive", "positive", 0.0),
        ("like", "The sentiment is positive.", "positive", 1.0),
        ("like", "The sentiment is Positive.", "positive", 0.0),
        ("ilike", "The sentiment is POSITIVE.", "positive", 1.0),
        ("ilike", "The sentiment is negative.", "positive", 0.0),
    ],
)
def test_each_operation_scores_as_the_guide_says(
    operation: str, answer: str, label: str, reward: float
) -> None:
    result = check(operation).run(answer, item={"label": label})
    assert result.reward == reward
    assert result.ok
    assert result.metadata.name == "Example string check grader"
    assert result.metadata.type == "string_check"


def test_the_spec_example_round_trips_through_its_json() -> None:
    # The example of GraderStringCheck in OpenAI's published OpenAPI document.
    published = {
        "type": "string_check",
        "name": "Example string check grader",
        "input": "{{sample.output_text}}",
        "reference": "{{item.label}}",
        "operation": "eq",
    }
    grader = StringCheck.model_validate(published)
    assert grader.to_api() == published
    assert grader == check("eq")


def test_templates_read_nested_fields_and_json_answers() -> None:
    grader = StringCheck(
        name="date",
        input="{{ sample.output_json.when[0] }}",
        reference="{{ item.ground_truth.date }}",
        operation="eq",
    )
    item = {"ground_truth": {"date": "2025-03-07"}}
    assert grader.run('{"when": ["2025-03-07", "noon"]}', item=item).reward == 1.0
    assert grader.run('{"when": ["2025-03-08"]}', item=item).reward == 0.0
