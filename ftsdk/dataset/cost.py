"""What a run will train and cost: token statistics, epochs, billed tokens, money.

Billed training tokens are the tokens of the training file times the epochs. When epochs are
``"auto"``, OpenAI (and Azure OpenAI) pick them from the number of examples ``n``::

    n * 3 < 100     ->  min(25, 100 // n)        epochs (small sets are seen more often)
    n * 3 > 25,000  ->  max(1, 25,000 // n)      epochs (large sets fewer times)
    otherwise       ->  3

This is the rule of the OpenAI cookbook (``Chat_finetuning_data_prep``), floor division
included. As there, an example over the context is billed for the context only (the rest is
cut). The money estimate is billed tokens x the recorded price per 1M tokens of the target
(``targets.json``, as published; verify before budgeting).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = ["CostEstimate", "TokenStats", "default_epochs", "estimate_cost"]

MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MAX_DEFAULT_EPOCHS = 25
DEFAULT_EPOCHS = 3


def default_epochs(n_examples: int) -> int:
    """The epochs OpenAI picks for ``n_examples`` when epochs are ``"auto"``.

    >>> default_epochs(1), default_epochs(30), default_epochs(5000), default_epochs(20000)
    (25, 3, 3, 1)
    """
    if n_examples <= 0:
        return DEFAULT_EPOCHS
    if n_examples * DEFAULT_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * DEFAULT_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(1, MAX_TARGET_EXAMPLES // n_examples)
    return DEFAULT_EPOCHS


class TokenStats:
    """Tokens per example: count, total, min, mean, max, p95, and how many are over the limit.

    Streams: keeps a histogram of counts, not the examples.

    >>> stats = TokenStats(limit=10)
    >>> for n in (4, 8, 12):
    ...     stats.add(n)
    >>> stats.total, stats.min, stats.max, stats.over_limit, stats.p95
    (24, 4, 12, 1, 12)
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.count = 0
        self.total = 0
        self.over_limit = 0
        self.billable = 0
        """Tokens billed per epoch: each example counted up to the limit."""
        self._histogram: Counter[int] = Counter()

    def add(self, tokens: int) -> None:
        """Record one example of ``tokens`` tokens."""
        self.count += 1
        self.total += tokens
        self._histogram[tokens] += 1
        if self.limit is not None and tokens > self.limit:
            self.over_limit += 1
            self.billable += self.limit
        else:
            self.billable += tokens

    def extend(self, counts: list[int]) -> None:
        """Record several examples at once (same result as :meth:`add` for each)."""
        if not counts:
            return
        total = sum(counts)
        self.count += len(counts)
        self.total += total
        self._histogram.update(counts)
        limit = self.limit
        if limit is not None and max(counts) > limit:
            over = [tokens for tokens in counts if tokens > limit]
            self.over_limit += len(over)
            total -= sum(over) - limit * len(over)
        self.billable += total

    @property
    def min(self) -> int:
        """Fewest tokens in one example (0 when empty)."""
        return min(self._histogram, default=0)

    @property
    def max(self) -> int:
        """Most tokens in one example (0 when empty)."""
        return max(self._histogram, default=0)

    @property
    def mean(self) -> float:
        """Mean tokens per example."""
        return self.total / self.count if self.count else 0.0

    def percentile(self, q: float) -> int:
        """The smallest count that ``q`` percent of the examples do not exceed."""
        if not self.count:
            return 0
        rank = math.ceil(q / 100 * self.count)
        seen = 0
        for tokens in sorted(self._histogram):
            seen += self._histogram[tokens]
            if seen >= rank:
                return tokens
        return self.max

    def clipped(self, limit: int) -> int:
        """Total tokens with each example cut at ``limit`` (what a trainer that truncates
        at ``limit`` trains on).

        >>> stats = TokenStats()
        >>> stats.extend([4, 8, 12])
        >>> stats.clipped(10)
        22
        """
        return sum(min(tokens, limit) * n for tokens, n in self._histogram.items())

    @property
    def p95(self) -> int:
        """95th percentile of tokens per example."""
        return self.percentile(95)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "examples": self.count,
            "total": self.total,
            "min": self.min,
            "mean": round(self.mean, 1),
            "p95": self.p95,
            "max": self.max,
            "limit": self.limit,
            "over_limit": self.over_limit,
            "billable": self.billable,
        }


@dataclass(frozen=True)
class CostEstimate:
    """Billed tokens and money for one training run (an estimate, from recorded prices)."""

    tokens: int
    """Tokens in the training data (per epoch)."""
    epochs: int
    """Epochs: as given, or as the provider picks them for ``"auto"``."""
    epochs_auto: bool
    """Whether ``epochs`` came from the provider's ``"auto"`` rule."""
    price_per_million: float | None
    """USD per 1M training tokens; ``None`` when the price is not recorded."""
    recorded: str | None = None
    """When the price was recorded."""

    @property
    def billed_tokens(self) -> int:
        """Tokens x epochs."""
        return self.tokens * self.epochs

    @property
    def usd(self) -> float | None:
        """The estimated price in USD; ``None`` when the price is not recorded."""
        if self.price_per_million is None:
            return None
        return self.billed_tokens * self.price_per_million / 1_000_000

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "tokens": self.tokens,
            "epochs": self.epochs,
            "epochs_auto": self.epochs_auto,
            "billed_tokens": self.billed_tokens,
            "price_per_million": self.price_per_million,
            "usd": None if self.usd is None else round(self.usd, 4),
            "recorded": self.recorded,
            "note": "as published; verify before budgeting",
        }


def estimate_cost(
    tokens: int,
    examples: int,
    *,
    epochs: int | str = "auto",
    price_per_million: float | None = None,
    recorded: str | None = None,
) -> CostEstimate:
    """The :class:`CostEstimate` of training ``tokens`` in ``examples`` examples.

    >>> estimate_cost(1_000_000, 20_000, price_per_million=3.0).usd
    3.0
    """
    if epochs == "auto":
        return CostEstimate(tokens, default_epochs(examples), True, price_per_million, recorded)
    return CostEstimate(tokens, int(epochs), False, price_per_million, recorded)
