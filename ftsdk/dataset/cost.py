"""What a run will train and cost: token statistics, epochs, billed tokens, money.

Billed training tokens are the tokens of the training file times the epochs. When epochs are
``"auto"``, OpenAI (and Azure OpenAI) pick them from the number of examples ``n``::

    n * 3 < 100     ->  min(25, 100 // n)        epochs (small sets are seen more often)
    n * 3 > 25,000  ->  max(1, 25,000 // n)      epochs (large sets fewer times)
    otherwise       ->  3

This is the rule of the OpenAI cookbook (``Chat_finetuning_data_prep``), floor division
included. As there, an example over the context is billed for the context only (the rest is
cut). The money estimate is billed tokens x the price per 1M training tokens: yours where you
give one (``token_price=``, ``--token-price``, ``FTSDK_<PROVIDER>_TOKEN_PRICE``), else the
one the provider's data rules record (as published; verify before budgeting). Where neither
is known (Azure prices by region and tier) there is no money figure, never $0, and the
estimate says where to find the price. A model billed by training time (reinforcement
fine-tuning) has its hourly rate instead, and a provider that bills a deployed fine-tune by
the hour has that fee as the running cost that follows.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ftsdk.errors import InvalidRequest

__all__ = [
    "CostEstimate",
    "TokenStats",
    "default_epochs",
    "estimate_cost",
    "token_price_env",
    "token_prices_from_env",
]

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


def token_price_env(provider: str) -> str:
    """The environment variable that gives your price per 1M training tokens on
    ``provider`` (its name in capitals, other characters as ``_``).

    >>> token_price_env("azure"), token_price_env("openai")
    ('FTSDK_AZURE_TOKEN_PRICE', 'FTSDK_OPENAI_TOKEN_PRICE')
    """
    return f"FTSDK_{re.sub(r'[^A-Z0-9]+', '_', provider.upper()).strip('_')}_TOKEN_PRICE"


def _usd(text: str) -> float:
    value = float(text.strip().removeprefix("$"))
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(text)
    return value


def token_prices_from_env(provider: str) -> float | dict[str, float] | None:
    """Your price in ``FTSDK_<PROVIDER>_TOKEN_PRICE`` (:func:`token_price_env`), USD per
    1M training tokens: one number for every model (``2.50``), or one per model
    (``gpt-4.1-mini=5,gpt-4.1=25``); ``None`` when unset.

    :raises ftsdk.errors.InvalidRequest: set to something else (the message says what).
    """
    name = token_price_env(provider)
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        if "=" not in raw:
            return _usd(raw)
        prices: dict[str, float] = {}
        for pair in raw.split(","):
            model, _, price = pair.partition("=")
            if not model.strip():
                raise ValueError(pair)
            prices[model.strip()] = _usd(price)
        return prices
    except ValueError:
        raise InvalidRequest(
            f"{name} must be your price in USD per 1M training tokens, 0 or more: a number "
            f"for every model (say 2.50) or MODEL=USD pairs separated by commas "
            f"(gpt-4.1-mini=5,gpt-4.1=25), not {raw!r}",
            field="token_price",
            provider=provider,
        ) from None


def _money(usd: float) -> str:
    return f"${usd:,.{2 if usd >= 1 else 4}f}"


@dataclass(frozen=True)
class CostEstimate:
    """Billed tokens and money for one training run (an estimate, from the price you give
    or the one recorded), and what a deployed fine-tune then costs by the hour."""

    tokens: int
    """Tokens in the training data (per epoch)."""
    epochs: int
    """Epochs: as given, or as the provider picks them for ``"auto"``."""
    epochs_auto: bool
    """Whether ``epochs`` came from the provider's ``"auto"`` rule."""
    price_per_million: float | None
    """USD per 1M training tokens; ``None`` when neither given nor recorded."""
    recorded: str | None = None
    """When the provider's prices were recorded."""
    price_source: str | None = None
    """Where :attr:`price_per_million` comes from: ``"recorded"`` (the provider's data
    rules, as published), ``"given"`` (your rate: ``token_price=``, ``--token-price``) or
    the environment variable that gave it (``"FTSDK_AZURE_TOKEN_PRICE"``)."""
    price_per_hour: float | None = None
    """USD per hour of training, for a model billed by training time (reinforcement
    fine-tuning), as recorded: then :attr:`usd` is ``None``, the hours being known only as
    the job runs."""
    price_note: str | None = None
    """What the price leaves out, in the provider's words (grader tokens, a cap)."""
    no_price: str | None = None
    """Without any price: where to find it and how to give it."""
    hosting_per_hour: tuple[tuple[str, float], ...] = ()
    """USD per hour a deployed fine-tune costs while deployed, by deployment type, as
    recorded: the running cost after training (not in :attr:`usd`)."""

    @property
    def billed_tokens(self) -> int:
        """Tokens x epochs."""
        return self.tokens * self.epochs

    @property
    def usd(self) -> float | None:
        """The estimated price of training in USD; ``None`` when no price per token is
        known (never 0 for "unknown")."""
        if self.price_per_million is None:
            return None
        return self.billed_tokens * self.price_per_million / 1_000_000

    @property
    def billed_by(self) -> str:
        """``"hours"`` for a model billed by training time, else ``"tokens"``."""
        if self.price_per_million is None and self.price_per_hour is not None:
            return "hours"
        return "tokens"

    @property
    def hosting(self) -> str | None:
        """The running cost of the deployed fine-tune, in words; ``None`` when none is
        recorded.

        >>> CostEstimate(1, 1, False, None, hosting_per_hour=(
        ...     ("Standard", 1.7), ("Global Standard", 1.7), ("Developer", 0.0))).hosting
        'then $1.70/hour while deployed (Standard/Global Standard)'
        """
        by_fee: dict[float, list[str]] = {}
        for kind, fee in self.hosting_per_hour:
            if fee > 0:
                by_fee.setdefault(fee, []).append(kind)
        if not by_fee:
            return None
        if len(by_fee) == 1:
            ((fee, kinds),) = by_fee.items()
            return f"then ${fee:,.2f}/hour while deployed ({'/'.join(kinds)})"
        fees = " or ".join(f"${fee:,.2f}/hour ({'/'.join(kinds)})" for fee, kinds in by_fee.items())
        return f"then {fees} while deployed"

    @property
    def price_basis(self) -> str:
        """Where the price comes from, in words."""
        if self.price_source == "recorded":
            return f"list price recorded {self.recorded}; verify before budgeting"
        if self.price_source == "given":
            return "your price, as given"
        if self.price_source:
            return f"your price, from {self.price_source}"
        return "no price"

    @property
    def summary(self) -> str:
        """The estimate of training in one line, as ``ftsdk data stats`` prints it after
        ``cost:`` (:attr:`no_price` and :attr:`hosting` on lines of their own)::

        310,775 tokens x 3 epochs (auto) = 932,325 billed tokens x $3.00/1M = $2.80 (list
        price recorded 2026-11-25; verify before budgeting)
        """
        auto = " (auto)" if self.epochs_auto else ""
        line = f"{self.tokens:,} tokens x {self.epochs} epochs{auto} = {self.billed_tokens:,} " + (
            "tokens trained" if self.billed_by == "hours" else "billed tokens"
        )
        usd = self.usd
        if usd is not None:
            line += f" x ${self.price_per_million:,.2f}/1M = {_money(usd)} ({self.price_basis})"
        elif self.price_per_hour is not None:
            line += (
                f"; billed by training time, not tokens: ${self.price_per_hour:,.2f} per hour "
                f"of training (list price recorded {self.recorded}; verify before budgeting), "
                "the hours known only as the job runs (max_cost: ftsdk pauses it at your limit)"
            )
        else:
            line += " (no price known)"
        if self.price_note:
            line += f"; {self.price_note}"
        return line

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        usd = self.usd
        return {
            "tokens": self.tokens,
            "epochs": self.epochs,
            "epochs_auto": self.epochs_auto,
            "billed_tokens": self.billed_tokens,
            "billed_by": self.billed_by,
            "price_per_million": self.price_per_million,
            "price_source": self.price_source,
            "price_per_hour": self.price_per_hour,
            "usd": None if usd is None else round(usd, 4),
            "recorded": self.recorded,
            "no_price": self.no_price if usd is None and self.price_per_hour is None else None,
            "price_note": self.price_note,
            "hosting_per_hour": dict(self.hosting_per_hour),
            "hosting": self.hosting,
            "note": self.price_basis
            if self.price_source not in (None, "recorded")
            else "as published; verify before budgeting",
        }


def estimate_cost(
    tokens: int,
    examples: int,
    *,
    epochs: int | str = "auto",
    price_per_million: float | None = None,
    recorded: str | None = None,
    **pricing: Any,
) -> CostEstimate:
    """The :class:`CostEstimate` of training ``tokens`` in ``examples`` examples; ``pricing``
    sets its other price fields (``price_source``, ``price_per_hour``, ``hosting_per_hour``,
    ...; :meth:`ftsdk.dataset.Target.cost_terms` gives a target's).

    >>> estimate_cost(1_000_000, 20_000, price_per_million=3.0).usd
    3.0
    """
    if price_per_million is not None and "price_source" not in pricing:
        pricing["price_source"] = "given"
    if epochs == "auto":
        return CostEstimate(
            tokens, default_epochs(examples), True, price_per_million, recorded, **pricing
        )
    return CostEstimate(tokens, int(epochs), False, price_per_million, recorded, **pricing)
