"""``text_similarity``: how close the filled-in input is to the reference, from 0 to 1.

The metrics come from the libraries the service names (``pip install 'ftsdk[graders]'``):
RapidFuzz for ``fuzzy_match``, NLTK for ``bleu``, ``gleu`` and ``meteor``, Google's
``rouge-score`` for ``rouge_1`` .. ``rouge_5`` and ``rouge_l``. The service publishes the
libraries, not the calls; :data:`METRIC_NOTES` says which call ftsdk makes for each and how
sure the number is (``docs/guide/graders.md`` has the table).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Final, Literal

from ftsdk.errors import ConfigurationError
from ftsdk.graders.base import InputReferenceGrader, Outcome

__all__ = ["METRIC_NOTES", "Metric", "TextSimilarity", "similarity"]

Metric = Literal[
    "cosine",
    "fuzzy_match",
    "bleu",
    "gleu",
    "meteor",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
]

METRIC_NOTES: Final[dict[str, str]] = {
    "fuzzy_match": "rapidfuzz.fuzz.WRatio(input, reference) / 100",
    "bleu": "nltk sentence_bleu, whitespace tokens, 4-gram uniform weights, no smoothing",
    "gleu": "nltk sentence_gleu, whitespace tokens, 1- to 4-grams",
    "meteor": "nltk meteor_score, whitespace tokens; WordNet synonyms only where NLTK's "
    "wordnet data is installed, else exact and stem matches",
    "rouge_n": "rouge_score RougeScorer(['rougeN']) F-measure, no stemming",
    "rouge_l": "rouge_score RougeScorer(['rougeL']) F-measure, no stemming",
    "cosine": "not computed locally: the service embeds both texts with text-embedding-3-large "
    "(evals only, not reinforcement fine-tuning)",
}
"""For each metric, what ftsdk computes."""


def _needs(module: str) -> ConfigurationError:
    return ConfigurationError(
        f"the text_similarity metrics need {module}: pip install 'ftsdk[graders]'"
    )


def _fuzzy(text: str, reference: str) -> float:
    try:
        from rapidfuzz import fuzz
    except ImportError as err:
        raise _needs("rapidfuzz") from err
    return float(fuzz.WRatio(text, reference)) / 100.0


class _NoSynonyms:
    """A WordNet that knows no synonyms: METEOR then matches exact words and stems only."""

    def synsets(self, word: str, *args: Any, **kwargs: Any) -> list[Any]:
        return []


def _wordnet() -> Any:
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError:  # NLTK's data is not installed: nothing is downloaded at run time
        return _NoSynonyms()
    return wordnet


def _nltk(metric: str, text: str, reference: str) -> float:
    try:
        from nltk.translate import gleu_score, meteor_score
        from nltk.translate.bleu_score import sentence_bleu
    except ImportError as err:
        raise _needs("nltk") from err
    hypothesis, references = text.split(), [reference.split()]
    with warnings.catch_warnings():
        # sentence_bleu warns when an n-gram order has no match; its score is then ~0
        warnings.simplefilter("ignore")
        if metric == "bleu":
            return float(sentence_bleu(references, hypothesis))
        if metric == "gleu":
            return float(gleu_score.sentence_gleu(references, hypothesis))
        return float(meteor_score.meteor_score(references, hypothesis, wordnet=_wordnet()))


def _rouge(metric: str, text: str, reference: str) -> float:
    try:
        from rouge_score import rouge_scorer
    except ImportError as err:
        raise _needs("rouge-score") from err
    kind = "rougeL" if metric == "rouge_l" else f"rouge{metric[-1]}"
    return float(rouge_scorer.RougeScorer([kind]).score(reference, text)[kind].fmeasure)


def similarity(metric: str, text: str, reference: str) -> float:
    """The ``metric`` score of ``text`` against ``reference``, from 0 to 1.

    >>> similarity("rouge_1", "the cat sat", "the cat sat down")
    0.8571428571428571
    """
    compute: Callable[[str, str, str], float]
    if metric == "fuzzy_match":
        return _fuzzy(text, reference)
    if metric in ("bleu", "gleu", "meteor"):
        compute = _nltk
    elif metric.startswith("rouge_"):
        compute = _rouge
    else:
        raise ValueError(f"ftsdk does not compute {metric!r} locally: {METRIC_NOTES['cosine']}")
    return compute(metric, text, reference)


class TextSimilarity(InputReferenceGrader):
    """Score how similar two texts are with a metric, from 0 to 1.

    >>> grader = TextSimilarity(name="close", input="{{sample.output_text}}",
    ...                         reference="{{item.answer}}", evaluation_metric="fuzzy_match")
    >>> grader.run("Paris, France", item={"answer": "Paris, France"}).reward
    1.0
    """

    type: Literal["text_similarity"] = "text_similarity"
    evaluation_metric: Metric
    pass_threshold: float | None = None
    """The score at or above which the sample passes (the service's evals read it; the
    reward is the score either way)."""

    def _compare(self, text: str, reference: str) -> Outcome:
        try:
            score = similarity(self.evaluation_metric, text, reference)
        except ValueError as error:
            return Outcome.failed(str(error), other_error=True)
        if not math.isfinite(score):
            return Outcome.failed(f"{self.evaluation_metric} gave {score}", other_error=True)
        return Outcome(reward=score)
