"""Templates that name something missing: an error naming the variable, before a job is
made (``check_item``), and the service's error flag, with a reward of 0, when run."""

from __future__ import annotations

import pytest

from ftsdk.errors import InvalidRequest
from ftsdk.graders import Multi, StringCheck, TemplateError, TextSimilarity

GRADER = Multi(
    name="answer",
    calculate_output="exact",
    graders={
        "exact": StringCheck(
            name="exact",
            input="{{ sample.output_text }}",
            reference="{{ item.ground_truth.answer }}",
            operation="eq",
        ),
        "close": TextSimilarity(
            name="close",
            input="{{sample.output_json.answer}}",
            reference="{{item.label}}",
            evaluation_metric="fuzzy_match",
        ),
    },
)


def test_the_variables_and_item_fields_a_grader_reads() -> None:
    assert GRADER.variables() == [
        "sample.output_text",
        "item.ground_truth.answer",
        "sample.output_json.answer",
        "item.label",
    ]
    assert GRADER.item_fields() == ["ground_truth", "label"]
    quoted = StringCheck(name="q", input="{{ item['first name'] }}", reference="x", operation="eq")
    assert quoted.item_fields() == ["first name"]
    assert quoted.run("x", item={"first name": "x"}).reward == 1.0


def test_a_missing_item_field_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError) as caught:
        GRADER.check_item({"ground_truth": {"answer": "4"}})
    assert caught.value.field == "item.label"
    assert "item has no field 'label' (it has: ground_truth)" in str(caught.value)
    assert isinstance(caught.value, InvalidRequest)

    with pytest.raises(TemplateError) as nested:
        GRADER.check_item({"ground_truth": {"value": "4"}, "label": "4"})
    assert nested.value.field == "item.ground_truth.answer"
    assert "item.ground_truth has no field 'answer' (it has: value)" in str(nested.value)

    GRADER.check_item({"ground_truth": {"answer": "4"}, "label": "4"})  # all there: no error


def test_running_with_a_missing_field_flags_invalid_variable_and_scores_zero() -> None:
    result = GRADER.run("4", item={"label": "4"})
    assert result.reward == 0.0
    assert result.errors.invalid_variable_error
    assert not result.errors.sample_parse_error
    assert any("item.ground_truth" in message for message in result.messages)
    assert "messages" not in result.to_api()  # the service's answer has no such key


def test_output_json_of_an_answer_that_is_not_json_is_a_sample_parse_error() -> None:
    result = GRADER.graders["close"].run("four", item={"label": "4"})
    assert result.reward == 0.0
    assert result.errors.sample_parse_error
    with pytest.raises(TemplateError) as caught:
        GRADER.check_item({"ground_truth": {"answer": "4"}, "label": "4"}, sample="four")
    assert caught.value.kind == "sample_parse_error"
    assert caught.value.field == "sample.output_json.answer"


@pytest.mark.parametrize(
    ("template", "field", "says"),
    [
        ("{{ answer }}", "answer", "unknown namespace 'answer'"),
        ("{{ items.answer }}", "items.answer", "unknown namespace 'items'"),
        ("{{ item.choices[3] }}", "item.choices[3]", "item.choices has no index 3"),
        ("{{ sample.output_txt }}", "sample.output_txt", "sample has no field 'output_txt'"),
    ],
)
def test_unknown_namespaces_indexes_and_sample_fields_are_named(
    template: str, field: str, says: str
) -> None:
    grader = StringCheck(name="c", input=template, reference="x", operation="eq")
    with pytest.raises(TemplateError) as caught:
        grader.check_item({"choices": ["a", "b"]}, sample="x")
    assert caught.value.field == field
    assert says in str(caught.value)


def test_values_that_are_not_strings_are_written_as_json() -> None:
    grader = StringCheck(
        name="c", input="{{item.nums}} {{item.n}} {{item.ok}}", reference="x", operation="eq"
    )
    result = grader.run("x", item={"nums": [1, 2], "n": 3.5, "ok": True})
    assert result.reward == 0.0  # the filled-in input is "[1, 2] 3.5 true", not "x"
    same = StringCheck(
        name="c",
        input="{{item.nums}} {{item.n}} {{item.ok}}",
        reference="[1, 2] 3.5 true",
        operation="eq",
    )
    assert same.run("x", item={"nums": [1, 2], "n": 3.5, "ok": True}).reward == 1.0
