"""Scorers: how good one answer is against its reference, as a number from 0 to 1.

Built in: :func:`exact_match`, :func:`normalized_match` (case, whitespace and punctuation
ignored), :func:`similarity` (``difflib``'s ratio of the normalized texts) and
:func:`token_f1` (SQuAD-style F1 of the normalized words). Any function
``(prediction, reference, example) -> float`` (or ``bool``) is a scorer too, named after the
function; :func:`judge` asks a model on any provider to grade. A scorer that raises, or a
judge whose reply holds no score, records an error for that item and that scorer only.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ftsdk.errors import InvalidRequest

if TYPE_CHECKING:
    from ftsdk.models import Model, Usage

__all__ = [
    "BUILTIN",
    "Judge",
    "JudgeError",
    "Scorer",
    "exact_match",
    "judge",
    "normalize",
    "normalized_match",
    "parse_score",
    "resolve_scorers",
    "similarity",
    "token_f1",
]

ScoreFunction = Callable[[str, str, Mapping[str, Any]], float | bool]
"""``(prediction, reference, example) -> score``: the example is the eval item as read."""

_ASCII_PUNCTUATION = frozenset(string.punctuation)


def _punctuation(char: str) -> bool:
    # ASCII marks (symbols such as + and $ too) and Unicode punctuation in any script: « » 。 ¿
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def normalize(text: str) -> str:
    """Lower case, Unicode NFKC, punctuation removed, whitespace collapsed.

    >>> normalize("  March 7,\\n2024. ")
    'march 7 2024'
    >>> normalize("« Où ? »")
    'où'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(c for c in folded if not _punctuation(c)).split())


def exact_match(prediction: str, reference: str, example: Mapping[str, Any]) -> float:
    """1.0 when the answer is the reference exactly (outer whitespace ignored), else 0.0.

    >>> exact_match(" March 7, 2024", "March 7, 2024", {})
    1.0
    >>> exact_match("march 7 2024", "March 7, 2024", {})
    0.0
    """
    return float(prediction.strip() == reference.strip())


def normalized_match(prediction: str, reference: str, example: Mapping[str, Any]) -> float:
    """1.0 when the answer equals the reference after :func:`normalize` (case, whitespace and
    punctuation ignored), else 0.0.

    >>> normalized_match("march 7 2024!", "March 7, 2024", {})
    1.0
    """
    return float(normalize(prediction) == normalize(reference))


def similarity(prediction: str, reference: str, example: Mapping[str, Any]) -> float:
    """How alike the normalized texts are, from 0 to 1: ``difflib.SequenceMatcher``'s ratio
    (twice the matching characters over the characters of both). Partial credit for a
    nearly right answer.

    >>> similarity("March 8, 2024", "March 7, 2024", {})
    0.9167
    """
    a, b = normalize(prediction), normalize(reference)
    if not a and not b:
        return 1.0
    return round(difflib.SequenceMatcher(None, a, b, autojunk=False).ratio(), 4)


def token_f1(prediction: str, reference: str, example: Mapping[str, Any]) -> float:
    """F1 of the normalized words of answer and reference (as in SQuAD): the harmonic mean
    of the shares of the answer's words found in the reference and of the reference's words
    found in the answer.

    >>> token_f1("the 7th of March 2024", "March 7, 2024", {})
    0.5
    """
    guess, truth = normalize(prediction).split(), normalize(reference).split()
    if not guess or not truth:
        return float(guess == truth)
    common = sum((Counter(guess) & Counter(truth)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(guess), common / len(truth)
    return round(2 * precision * recall / (precision + recall), 4)


class Scorer:
    """A named scoring function; what :func:`ftsdk.compare.compare` runs on every answer.

    >>> Scorer("short", lambda prediction, reference, example: len(prediction) < 20)("yes", "", {})
    1.0
    """

    def __init__(self, name: str, function: ScoreFunction) -> None:
        self.name = name
        self.function = function

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def __call__(self, prediction: str, reference: str, example: Mapping[str, Any]) -> float:
        """The score as a float; ``ValueError`` when the function gives no number."""
        value = self.function(prediction, reference, example)
        # numbers.Real takes numpy's numbers too; numpy.bool_ is not one but converts
        if not isinstance(value, numbers.Real) and not _is_numpy_bool(value):
            raise ValueError(f"scorer {self.name!r} returned {value!r}, not a number")
        score = float(value)
        if math.isnan(score):
            raise ValueError(f"scorer {self.name!r} returned {value!r}, not a number")
        if math.isinf(score):  # an infinite mean would not survive the report's JSON
            raise ValueError(f"scorer {self.name!r} returned {value!r}, not a finite number")
        return score


def _is_numpy_bool(value: object) -> bool:
    kind = type(value)
    return kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")


BUILTIN: dict[str, ScoreFunction] = {
    "exact_match": exact_match,
    "normalized_match": normalized_match,
    "similarity": similarity,
    "token_f1": token_f1,
}
"""The built-in scorers by name (what ``--scorer`` takes)."""

DEFAULT_SCORERS = ("exact_match", "normalized_match", "similarity")


class JudgeError(ValueError):
    """A judge's reply that holds no usable score."""


_SCORE = re.compile(
    r"score\**\s*(?:is|of)?\s*[:=]?\s*\**\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?",
    re.IGNORECASE,
)
_BARE = re.compile(r"^\**\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?\s*\**\.?$")


def parse_score(reply: str, low: float, high: float) -> float:
    """The score in a judge's ``reply``, scaled from ``low``..``high`` to 0..1.

    Takes the last ``Score: N`` (``score = N``, ``**Score:** N/10``...) or a reply that is
    only a number (or ``N/M``); a fraction ``N/M`` is read on its own scale.

    >>> parse_score("The answer names the right month.\\nScore: 8/10", 0, 10)
    0.8
    >>> parse_score(" 3 ", 1, 5)
    0.5
    >>> parse_score("I cannot tell.", 0, 10)
    Traceback (most recent call last):
    ...
    ftsdk.compare.scorers.JudgeError: the judge's reply holds no score: 'I cannot tell.'
    """
    matches = list(_SCORE.finditer(reply)) or list(filter(None, [_BARE.match(reply.strip())]))
    if not matches:
        shown = reply.strip()
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        raise JudgeError(f"the judge's reply holds no score: {shown!r}")
    number, out_of = matches[-1].group(1), matches[-1].group(2)
    value = float(number)
    if out_of is not None and float(out_of) > 0:
        low, high = 0.0, float(out_of)
    if not low <= value <= high:
        raise JudgeError(f"the judge's score {number} is outside {low:g}..{high:g}")
    return round((value - low) / (high - low), 4)


DEFAULT_RUBRIC = (
    "Grade how well the answer matches the reference answer: the same meaning and the same "
    "facts score high, a wrong or missing fact scores low; wording and style do not matter."
)


class Judge(Scorer):
    """A scorer that asks a model (on any provider) to grade each answer. Build it with
    :func:`judge`. Its replies are parsed with :func:`parse_score`; a reply without a score
    records an error for that item."""

    def __init__(
        self,
        model: Model,
        *,
        rubric: str,
        scale: tuple[float, float],
        name: str,
        max_tokens: int | None,
    ) -> None:
        low, high = scale
        if not high > low:
            raise InvalidRequest(f"judge scale {scale!r}: the top must be above the bottom")
        super().__init__(name, self._grade)
        self.model = model
        self.rubric = rubric
        self.scale = (float(low), float(high))
        self.max_tokens = max_tokens
        self.usage: list[Usage] = []
        """The tokens of every judge request so far."""

    def messages(
        self, prediction: str, reference: str, example: Mapping[str, Any]
    ) -> list[dict[str, str]]:
        """The conversation sent to the judge for one answer."""
        low, high = self.scale
        question = _question(example)
        return [
            {
                "role": "system",
                "content": f"You grade answers. {self.rubric} Reply with one line "
                f"'Score: N', N a number from {low:g} (worst) to {high:g} (best).",
            },
            {
                "role": "user",
                "content": f"Question:\n{question}\n\nReference answer:\n{reference}\n\n"
                f"Answer to grade:\n{prediction}",
            },
        ]

    def _grade(self, prediction: str, reference: str, example: Mapping[str, Any]) -> float:
        params = {} if self.max_tokens is None else {"max_tokens": self.max_tokens}
        reply = self.model.chat(self.messages(prediction, reference, example), **params)
        self.usage.append(reply.usage)
        return parse_score(reply.content, *self.scale)


def _question(example: Mapping[str, Any]) -> str:
    messages: Sequence[Mapping[str, Any]] = example.get("messages") or []
    users = [str(m.get("content", "")) for m in messages[:-1] if m.get("role") == "user"]
    return users[-1] if users else ""


def judge(
    model: Model,
    *,
    rubric: str = DEFAULT_RUBRIC,
    scale: tuple[float, float] = (0, 10),
    name: str = "judge",
    max_tokens: int | None = 64,
) -> Judge:
    """A scorer that asks ``model`` to grade each answer against the reference, on a
    ``scale`` (scores are reported from 0 to 1). The judge sees the question (the eval
    item's last user message), the reference and the answer::

        grader = ftsdk.client("openai").model("gpt-4.1-mini")
        report = compare(base, tuned, "eval.jsonl", scorers=["exact_match", judge(grader)])
    """
    return Judge(model, rubric=rubric, scale=scale, name=name, max_tokens=max_tokens)


def resolve_scorers(scorers: Sequence[str | Scorer | ScoreFunction] | None) -> list[Scorer]:
    """Scorers from names (:data:`BUILTIN`), :class:`Scorer` objects and plain functions;
    names must be unique."""
    if isinstance(scorers, str | Scorer) or callable(scorers):
        raise InvalidRequest(
            f"scorers: a list, e.g. [{scorers!r}], not one scorer on its own", field="scorers"
        )
    chosen: list[Scorer] = []
    for item in DEFAULT_SCORERS if scorers is None else scorers:
        if isinstance(item, Scorer):
            chosen.append(item)
        elif isinstance(item, str):
            if item not in BUILTIN:
                raise InvalidRequest(
                    f"unknown scorer {item!r}; built in: {', '.join(BUILTIN)} (or pass a "
                    "function (prediction, reference, example) -> float)",
                    field="scorers",
                )
            chosen.append(Scorer(item, BUILTIN[item]))
        elif callable(item):
            chosen.append(Scorer(getattr(item, "__name__", "custom"), item))
        else:
            raise InvalidRequest(f"not a scorer: {item!r}", field="scorers")
    if not chosen:
        raise InvalidRequest("give at least one scorer", field="scorers")
    names = [s.name for s in chosen]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidRequest(
            f"two scorers are named {', '.join(twice)}: name them apart, e.g. "
            "Scorer('short', function) or judge(model, name='judge2')",
            field="scorers",
        )
    return chosen
