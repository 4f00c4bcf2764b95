"""``text_similarity`` metrics, pinned to numbers worked out by hand from each metric's
definition (comments show the counts), so a change of library or call shows up here."""

from __future__ import annotations

import pytest

from ftsdk.graders import TextSimilarity

ANSWER = "the cat sat on the mat"
REFERENCE = "the cat is on the mat"


def score(metric: str, answer: str = ANSWER, reference: str = REFERENCE) -> float:
    grader = TextSimilarity(
        name=f"{metric} grader",
        input="{{sample.output_text}}",
        reference="{{item.reference}}",
        evaluation_metric=metric,  # type: ignore[arg-type]
    )
    result = grader.run(answer, item={"reference": reference})
    assert result.ok, result.messages
    return result.reward


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        # 6 words each, 5 in common (the, the, cat, on, mat): P = R = 5/6
        ("rouge_1", 5 / 6),
        # bigrams: the cat, on the, the mat of 5 each: 3/5
        ("rouge_2", 3 / 5),
        # trigrams: only "on the mat" of 4 each: 1/4
        ("rouge_3", 1 / 4),
        ("rouge_4", 0.0),  # no 4-gram in common
        # longest common subsequence "the cat on the mat": 5 of 6 words
        ("rouge_l", 5 / 6),
        # GLEU: min(precision, recall) over all 1- to 4-grams: (5 + 3 + 1 + 0) / 18
        ("gleu", 9 / 18),
        # BLEU without smoothing: no 4-gram in common, so the geometric mean is 0
        ("bleu", 0.0),
    ],
)
def test_word_overlap_metrics_match_their_definitions(metric: str, expected: float) -> None:
    assert score(metric) == pytest.approx(expected, abs=1e-9)


def test_identical_texts_score_one_and_bleu_needs_four_words() -> None:
    same = "the quick brown fox"
    for metric in ("bleu", "gleu", "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_l"):
        assert score(metric, same, same) == pytest.approx(1.0), metric
    # rouge_5 of a four-word text: no 5-gram at all, so nothing to match
    assert score("rouge_5", same, same) == 0.0
    assert score("fuzzy_match", same, same) == 1.0


def test_meteor_without_wordnet_matches_words_and_stems() -> None:
    # 4 of 4 words in one chunk: F-mean 1, fragmentation penalty 0.5 * (1/4)^3
    assert score("meteor", "the quick brown fox", "the quick brown fox") == pytest.approx(
        1 - 0.5 * (1 / 4) ** 3
    )
    # "jumps" and "jumped" share the stem "jump": a match even without synonyms
    assert score("meteor", "fox jumps", "fox jumped") > score("meteor", "fox leaps", "fox jumped")


def test_fuzzy_match_is_rapidfuzz_weighted_ratio() -> None:
    # plain ratio of "Paris" / "paris": 2 * 4 matching characters / 10 characters
    assert score("fuzzy_match", "Paris", "paris") == pytest.approx(0.8)
    # word order matters little to the weighted ratio (its token-sort part)
    assert score("fuzzy_match", "wuzzy fuzzy was a bear", "fuzzy wuzzy was a bear") == 0.95
    assert score("fuzzy_match", "Paris", "Tokyo") < 0.3


def test_rouge_ignores_case_and_punctuation() -> None:
    assert score("rouge_1", "Paris!", "paris") == 1.0


def test_cosine_is_not_computed_locally_and_says_why() -> None:
    grader = TextSimilarity(
        name="cos", input="{{sample.output_text}}", reference="x", evaluation_metric="cosine"
    )
    result = grader.run("x")
    assert result.reward == 0.0
    assert result.errors.other_error
    assert "text-embedding-3-large" in result.messages[0]


def test_pass_threshold_travels_in_the_json_and_leaves_the_reward_alone() -> None:
    grader = TextSimilarity(
        name="t",
        input="{{sample.output_text}}",
        reference="paris",
        evaluation_metric="fuzzy_match",
        pass_threshold=0.9,
    )
    assert grader.to_api() == {
        "type": "text_similarity",
        "name": "t",
        "input": "{{sample.output_text}}",
        "reference": "paris",
        "evaluation_metric": "fuzzy_match",
        "pass_threshold": 0.9,
    }
    assert grader.run("Paris").reward == pytest.approx(0.8)
