"""``multi`` graders: the guide's examples, every operator and function the guide lists, and
formulas that must never be run."""

from __future__ import annotations

import math

import pytest

from ftsdk.errors import InvalidRequest
from ftsdk.graders import Formula, FormulaError, Multi, StringCheck, TextSimilarity, parse_grader

# The multigrader example of Azure's reinforcement fine-tuning guide, as the service takes it.
AZURE_EXAMPLE = {
    "type": "multi",
    "name": "Example multigrader",
    "graders": {
        "similarity_score": {
            "type": "text_similarity",
            "name": "similarity grader",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.summary }}",
            "evaluation_metric": "bleu",
        },
        "label_checker": {
            "type": "string_check",
            "name": "label grader",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.label }}",
            "operation": "eq",
        },
    },
    "calculate_output": "(similarity_score + label_checker) / 2",
}


def test_the_guide_example_parses_runs_and_serialises_back() -> None:
    grader = parse_grader(AZURE_EXAMPLE)
    assert isinstance(grader, Multi)
    assert grader.to_api() == AZURE_EXAMPLE
    item = {"summary": "the quick brown fox", "label": "the quick brown fox"}
    result = grader.run("the quick brown fox", item=item)
    assert result.reward == pytest.approx(1.0)
    assert result.sub_rewards == {"similarity_score": pytest.approx(1.0), "label_checker": 1.0}
    wrong = grader.run("a quick brown fox", item=item)
    # the one 4-gram differs in its first word: BLEU (unsmoothed) is 0 (NLTK gives a tiny
    # positive float for it), and so is eq
    assert wrong.sub_rewards == {
        "similarity_score": pytest.approx(0.0, abs=1e-12),
        "label_checker": 0.0,
    }
    assert wrong.reward == pytest.approx(0.0, abs=1e-12)
    half = grader.run("the quick brown fox", item={**item, "label": "other"})
    assert half.reward == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("a + b", 0.75),
        ("a - b", 0.25),
        ("a * b", 0.125),
        ("a / b", 2.0),
        ("b ^ 2", 0.0625),
        ("2 * b ^ 2", 0.125),  # ^ binds tighter than *
        ("-a + 1", 0.5),
        ("(a + b) / 2", 0.375),
        ("min(a, b)", 0.25),
        ("max(a, b, 0.9)", 0.9),
        ("abs(b - a)", 0.25),
        ("floor(a + 1.5)", 2.0),
        ("ceil(b)", 1.0),
        ("exp(a)", math.exp(0.5)),
        ("sqrt(b)", 0.5),
        ("log(a)", math.log(0.5)),
    ],
)
def test_every_operator_and_function_the_guide_lists(formula: str, expected: float) -> None:
    assert Formula(formula).evaluate({"a": 0.5, "b": 0.25}) == pytest.approx(expected)


@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os').system('true')",
        "a.__class__",
        "[a, b]",
        "a if b else 1",
        "a < b",
        "(lambda: 1)()",
        "open('x')",
        "'text'",
        "min(a, key=b)",
        "sqrt(a, b)",
        "0.5 * a +  0.5 * b)",  # the published spec's own example is missing a parenthesis
    ],
)
def test_formulas_beyond_the_whitelist_are_refused_before_running(formula: str) -> None:
    with pytest.raises(FormulaError):
        Formula(formula)


def test_a_formula_naming_no_grader_is_a_formula_parse_error() -> None:
    grader = Multi(
        name="m",
        calculate_output="exact + missing",
        graders={
            "exact": StringCheck(
                name="e", input="{{sample.output_text}}", reference="x", operation="eq"
            )
        },
    )
    result = grader.run("x")
    assert result.reward == 0.0
    assert result.errors.formula_parse_error
    assert "names missing, which no grader in 'graders' is" in result.messages[0]


def test_arithmetic_that_fails_is_an_other_error_and_keeps_the_sub_rewards() -> None:
    grader = Multi(
        name="m",
        calculate_output="1 / exact",
        graders={
            "exact": StringCheck(
                name="e", input="{{sample.output_text}}", reference="x", operation="eq"
            )
        },
    )
    assert grader.run("x").reward == 1.0
    result = grader.run("y")
    assert result.reward == 0.0
    assert result.errors.other_error
    assert result.sub_rewards == {"exact": 0.0}


def test_sub_grader_errors_show_at_the_top_and_say_which_grader() -> None:
    grader = Multi(
        name="m",
        calculate_output="0.5 * exact + 0.5 * close",
        graders={
            "exact": StringCheck(
                name="e",
                input="{{sample.output_text}}",
                reference="{{item.answer}}",
                operation="eq",
            ),
            "close": TextSimilarity(
                name="c",
                input="{{sample.output_text}}",
                reference="{{item.answr}}",
                evaluation_metric="rouge_1",
            ),
        },
    )
    result = grader.run("4", item={"answer": "4"})
    assert result.reward == 0.5
    assert result.errors.invalid_variable_error
    assert result.messages == (
        "close: {{ item.answr }}: item has no field 'answr' (it has: answer)",
    )


def test_a_grader_that_is_not_one_is_an_error_naming_the_field() -> None:
    broken = {**AZURE_EXAMPLE, "graders": {"x": {"type": "string_check", "name": "x"}}}
    with pytest.raises(InvalidRequest) as caught:
        parse_grader(broken)
    assert caught.value.field == "grader.graders.x.input"
    assert caught.value.problems == (
        "grader.graders.x.input: Field required",
        "grader.graders.x.reference: Field required",
        "grader.graders.x.operation: Field required",
    )
    with pytest.raises(InvalidRequest) as unknown:
        parse_grader({"type": "label_model", "name": "l"})
    assert unknown.value.field == "grader"
    assert "'label_model' found using 'type' does not match" in str(unknown.value)
