"""The built-in scorers, user scorers and the judge's reply parser, on real strings."""

from __future__ import annotations

from typing import Any

import pytest

from ftsdk.compare import Scorer, exact_match, normalized_match, similarity, token_f1
from ftsdk.compare.scorers import JudgeError, parse_score, resolve_scorers
from ftsdk.errors import InvalidRequest

REF = "March 7, 2024"


@pytest.mark.parametrize(
    ("prediction", "exact", "normalized"),
    [
        ("March 7, 2024", 1.0, 1.0),
        ("  March 7, 2024\n", 1.0, 1.0),
        ("march 7 2024", 0.0, 1.0),
        ("MARCH  7,\t2024.", 0.0, 1.0),
        ("March 8, 2024", 0.0, 0.0),
        ("", 0.0, 0.0),
    ],
)
def test_exact_and_normalized_match(prediction: str, exact: float, normalized: float) -> None:
    assert exact_match(prediction, REF, {}) == exact
    assert normalized_match(prediction, REF, {}) == normalized


def test_similarity_gives_partial_credit_in_order() -> None:
    right = similarity(REF, REF, {})
    one_digit = similarity("March 8, 2024", REF, {})
    other_month = similarity("May 7, 2024", REF, {})
    nonsense = similarity("I would need more context", REF, {})
    assert right == 1.0
    assert 1.0 > one_digit > other_month > nonsense >= 0.0
    # difflib's ratio on the normalized texts: 2 * 11 matching chars / (12 + 12)
    assert one_digit == round(22 / 24, 4)
    assert similarity("", "", {}) == 1.0


def test_token_f1_counts_shared_words() -> None:
    assert token_f1(REF, REF, {}) == 1.0
    # answer words: the 7th of march 2024 (5), reference: march 7 2024 (3); shared: march, 2024
    assert token_f1("the 7th of March 2024", REF, {}) == round(2 * (2 / 5) * (2 / 3) / (16 / 15), 4)
    assert token_f1("nothing alike", REF, {}) == 0.0
    assert token_f1("", "", {}) == 1.0


def test_a_user_function_is_a_scorer_named_after_it() -> None:
    def mentions_year(prediction: str, reference: str, example: dict[str, Any]) -> bool:
        return reference[-4:] in prediction

    (scorer,) = resolve_scorers([mentions_year])
    assert scorer.name == "mentions_year"
    assert scorer("in 2024", REF, {}) == 1.0
    assert scorer("soon", REF, {}) == 0.0


def test_a_scorer_that_returns_no_number_says_so() -> None:
    scorer = Scorer("broken", lambda p, r, e: "yes")  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="scorer 'broken' returned 'yes', not a number"):
        scorer("a", "b", {})
    with pytest.raises(ValueError, match="not a number"):
        Scorer("nan", lambda p, r, e: float("nan"))("a", "b", {})


def test_scorer_names_are_checked() -> None:
    assert [s.name for s in resolve_scorers(None)] == [
        "exact_match",
        "normalized_match",
        "similarity",
    ]
    with pytest.raises(InvalidRequest, match="unknown scorer 'bleu'; built in: exact_match"):
        resolve_scorers(["bleu"])
    with pytest.raises(InvalidRequest, match="two scorers are named exact_match"):
        resolve_scorers(["exact_match", Scorer("exact_match", exact_match)])
    with pytest.raises(InvalidRequest, match="at least one scorer"):
        resolve_scorers([])
    with pytest.raises(InvalidRequest, match="not a scorer: 3"):
        resolve_scorers([3])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("reply", "scale", "score"),
    [
        ("Score: 7", (0, 10), 0.7),
        ("score=10", (0, 10), 1.0),
        ("**Score:** 4/5", (0, 10), 0.8),  # a fraction is read on its own scale
        ("The answer is right but terse.\nScore: 9", (0, 10), 0.9),
        ("Score: 2 ... on reflection, Score: 6", (0, 10), 0.6),  # the last one counts
        ("8", (0, 10), 0.8),
        ("  3.5  ", (1, 6), 0.5),
        ("7/10", (0, 1), 0.7),
        ("Final score is 1", (0, 1), 1.0),
    ],
)
def test_judge_replies_are_parsed(reply: str, scale: tuple[float, float], score: float) -> None:
    assert parse_score(reply, *scale) == score


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("I cannot grade this.", "holds no score: 'I cannot grade this.'"),
        ("Score: 12", "the judge's score 12 is outside 0..10"),
        ("Score: -1", "outside 0..10"),
        ("", "holds no score: ''"),
        ("x" * 300, r"holds no score: 'xxx.*\.\.\.'"),
    ],
)
def test_bad_judge_replies_are_errors_that_quote_them(reply: str, why: str) -> None:
    with pytest.raises(JudgeError, match=why):
        parse_score(reply, 0, 10)


def test_numpy_numbers_are_scores_and_infinities_are_not() -> None:
    numpy = pytest.importorskip("numpy")
    # what a scorer built on numpy or scikit-learn returns
    assert Scorer("f32", lambda p, r, e: numpy.float32(0.5))("a", "b", {}) == 0.5
    assert Scorer("i64", lambda p, r, e: numpy.int64(1))("a", "b", {}) == 1.0
    assert Scorer("bool", lambda p, r, e: numpy.bool_(True))("a", "b", {}) == 1.0
    # an infinite mean would not survive the report's JSON
    with pytest.raises(ValueError, match="scorer 'inf' returned inf, not a finite number"):
        Scorer("inf", lambda p, r, e: float("inf"))("a", "b", {})


def test_one_scorer_name_given_as_a_string_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequest, match=r"scorers: a list, e\.g\. \['exact_match'\]"):
        resolve_scorers("exact_match")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match=r"<lambda>: name them apart, e\.g\. Scorer\("):
        resolve_scorers([lambda p, r, e: 1.0, lambda p, r, e: 0.0])


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [("« Paris »", "Paris"), ("東京。", "東京"), ("¿Qué?", "qué"), ("„Ja“", "ja")],
)
def test_normalized_match_ignores_punctuation_in_any_script(
    prediction: str, reference: str
) -> None:
    assert normalized_match(prediction, reference, {}) == 1.0
    assert normalized_match("3 + 4", "3 4", {}) == 1.0  # ASCII symbols as before
