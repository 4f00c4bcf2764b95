"""One streaming pass over a dataset: every example checked against its format and the
target's rules, tokens counted, duplicates found, dataset-level limits applied."""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from typing import Any

from ftsdk._vocab import DataFormat
from ftsdk.dataset.cost import TokenStats, estimate_cost
from ftsdk.dataset.formats import check_example, detect_format
from ftsdk.dataset.problems import Origin, Problem, Severity, ValidationReport
from ftsdk.dataset.sources import Item
from ftsdk.dataset.targets import Target
from ftsdk.dataset.tokens import Tally, TemplateError, TokenCounter, counter_for
from ftsdk.errors import ConfigurationError

__all__ = ["example_key", "lone_surrogate", "validate_items"]

WARNING = Severity.WARNING
_SOURCE_KINDS = frozenset({"unreadable", "missing_column", "unknown_format"})
"""Problems a reader reports about a whole source (before its first row), not an example."""


def _of_source(problem: Problem) -> bool:
    origin = problem.origin
    return problem.kind in _SOURCE_KINDS and (
        origin is None or (origin.row is None and origin.line in (None, 1))
    )


def lone_surrogate(data: Any) -> tuple[str, str] | None:
    """``(field path, the surrogate)`` of the first string (or key) in ``data`` holding a lone
    surrogate, such as JSON's ``"\\ud800"`` escape gives: not text, no UTF-8 encodes it."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError as err:  # the path may hold one too (a key)
                    return path.encode("utf-8", "backslashreplace").decode(), value[err.start]
        elif isinstance(value, dict):
            items = list(value.items())
            for key, item in reversed(items):
                where = f"{path}.{key}" if path else str(key)
                stack.append((item, where))
                stack.append((key, where))  # a key is checked before its value
        elif isinstance(value, list | tuple):
            stack.extend((item, f"{path}[{i}]") for i, item in reversed(list(enumerate(value))))
    return None


def example_key(data: Any) -> int:
    """A 64-bit fingerprint of an example's content (key order and spacing ignored)."""
    try:
        text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):  # Python objects JSON cannot hold (sets, mixed keys)
        text = repr(data)
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _duplicate_pairs(keys: array[int]) -> Iterator[tuple[int, int]]:
    """``(index, index of its first occurrence)`` for each repeat, in index order."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with pyarrow/pandas almost always
        first: dict[int, int] = {}
        for i, key in enumerate(keys):
            if key in first:
                yield i, first[key]
            else:
                first[key] = i
        return
    values = np.frombuffer(keys, dtype=np.uint64)
    if len(values) < 2:
        return
    # Memory: a sorted copy of the keys (8 bytes each) and masks; not argsort's index arrays.
    ordered = np.sort(values)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if not len(repeated):
        return
    involved: list[int] = []
    last = len(repeated) - 1
    for start in range(0, len(values), 1 << 16):  # in slices: a few small arrays at a time
        chunk = values[start : start + (1 << 16)]
        where = np.searchsorted(repeated, chunk)
        np.minimum(where, last, out=where)
        involved += (np.flatnonzero(repeated[where] == chunk) + start).tolist()
    first_seen: dict[int, int] = {}
    for i in involved:  # ascending: the first index of a key is its first occurrence
        key = keys[i]
        if key in first_seen:
            yield i, first_seen[key]
        else:
            first_seen[key] = i


class _Places:
    """Origins of many examples in 8 bytes each while they come from one source, 12 from
    several (a list of Origin objects costs ~100)."""

    def __init__(self) -> None:
        self._names: dict[str, int] = {}
        self._name_of: list[str] = []
        self._name_ids: array[int] | None = None  # made when a second source appears
        self._numbers: array[int] = array("q")

    def append(self, origin: Origin) -> None:
        name_id = self._names.get(origin.source)
        if name_id is None:
            name_id = self._names[origin.source] = len(self._name_of)
            self._name_of.append(origin.source)
            if name_id == 1:
                self._name_ids = array("I", bytes(4 * len(self._numbers)))
        if self._name_ids is not None:
            self._name_ids.append(name_id)
        if origin.line is not None:
            self._numbers.append(origin.line)
        else:
            self._numbers.append(-1 - (origin.row or 0))

    def __getitem__(self, index: int) -> Origin:
        name_id = self._name_ids[index] if self._name_ids is not None else 0
        name, number = self._name_of[name_id], self._numbers[index]
        return Origin(name, line=number) if number >= 0 else Origin(name, row=-1 - number)


# One loop on purpose: it runs once per example, and a 1 GB file has a million of them.
def validate_items(  # noqa: PLR0912, PLR0915
    items: Iterable[Item],
    *,
    target: Target | None = None,
    epochs: int | str = "auto",
    cap: int = 20,
    duplicates: Severity = Severity.ERROR,
    file_bytes: int | None = None,
    count_tokens: bool = True,
) -> ValidationReport:
    """Check every item and return the report (problems, token stats, cost).

    :param items: what a reader yields (examples and reading problems).
    :param target: the provider and model whose rules apply; only format checks without it.
    :param epochs: epochs of the planned run, or ``"auto"`` for the provider's rule.
    :param cap: problems kept per kind (all are counted).
    :param duplicates: whether a repeated example is an error or a warning.
    :param file_bytes: the size of the file to upload, checked against the target's limit.
    :param count_tokens: count tokens (needs the target's tokenizer).
    """
    report = ValidationReport(cap=cap, target=target)
    add = report.add
    counter: TokenCounter | None = None
    limit = target.context_tokens if target else None
    if target is not None and count_tokens:
        try:
            counter = counter_for(target.encoding, target.hf_tokenizer)
        except ConfigurationError as err:
            add(Problem("tokens_unknown", str(err), severity=WARNING))
        if limit is None and counter is not None:
            limit = getattr(counter, "model_max_length", None)
    stats = TokenStats(limit) if counter is not None else None
    truncate = target is not None and target.over_context == "truncate"
    # Reinforcement prompts are ``messages`` too: read them so where the method takes them.
    as_prompts = (
        target is not None
        and DataFormat.REINFORCEMENT in target.formats
        and DataFormat.CHAT not in target.formats
    )
    model = target.model if target else ""

    def counted(origins: list[Origin], counts: list[int]) -> None:
        assert stats is not None
        stats.extend(counts)
        if limit is None or max(counts) <= limit:
            return
        for origin, tokens in zip(origins, counts, strict=True):
            if tokens <= limit:
                continue
            if truncate:
                add(
                    Problem(
                        "truncated",
                        f"{tokens:,} tokens; the trainer cuts examples at {limit:,}",
                        origin,
                        severity=WARNING,
                    )
                )
            else:
                add(
                    Problem(
                        "too_many_tokens",
                        f"{tokens:,} tokens; {model} trains on at most {limit:,} per example "
                        "(the rest would be cut)",
                        origin,
                    )
                )

    tally = Tally(counter, counted) if counter is not None else None
    fmt: DataFormat | None = None
    first_origin: Origin | None = None
    keys: array[int] = array("Q")
    places = _Places()
    examples = 0
    unread = False  # the source (or its header) could not be read: its count means nothing
    with tally if tally is not None else nullcontext():
        for item in items:
            if isinstance(item, Problem):
                if _of_source(item):
                    unread = True
                else:
                    examples += 1
                add(item)
                continue
            examples += 1
            data, origin = item.data, item.origin
            if not item.text_checked and (broken := lone_surrogate(data)) is not None:
                add(
                    Problem(
                        "bad_unicode",
                        f"a lone surrogate \\u{ord(broken[1]):04x}: half of a UTF-16 "
                        "character pair, not text (tokenizers and trainers refuse it); "
                        "write the whole pair, or remove it",
                        origin,
                        broken[0],
                    )
                )
                continue
            found = detect_format(data)
            if found is DataFormat.CHAT and as_prompts:
                found = DataFormat.REINFORCEMENT
            if found is None:
                keys_seen = ", ".join(sorted(map(str, data))) or "none"
                add(
                    Problem(
                        "unknown_format",
                        f"not a known format (keys: {keys_seen}); expected messages, "
                        "prompt/completion, a preference pair or text",
                        origin,
                    )
                )
                continue
            if fmt is None:
                fmt, first_origin = found, origin
            elif found is not fmt:
                add(
                    Problem(
                        "mixed_formats",
                        f"a {found.value} example in a {fmt.value} dataset (from {first_origin})",
                        origin,
                    )
                )
                continue
            bad = False
            for finding in check_example(data, found):
                bad = bad or not finding.warning
                add(
                    Problem(
                        finding.kind,
                        finding.message,
                        origin,
                        finding.field,
                        WARNING if finding.warning else Severity.ERROR,
                    )
                )
            keys.append(item.fingerprint if item.fingerprint is not None else example_key(data))
            places.append(origin)
            if not bad and tally is not None:
                try:
                    tally.add(origin, data, found)
                except TemplateError as err:
                    add(Problem("unsupported_by_template", str(err), origin, err.field))
        if tally is not None:
            tally.close()

    report.examples = examples
    report.format = fmt.value if fmt else None
    for index, first in _duplicate_pairs(keys):
        add(
            Problem(
                "duplicate",
                f"the same example as {places[first]}",
                places[index],
                severity=duplicates,
            )
        )
    if target is not None:
        _dataset_rules(
            report,
            target,
            fmt=fmt,
            first_origin=first_origin,
            examples=None if unread else examples,
            file_bytes=file_bytes,
        )
    if stats is not None:
        report.stats = stats
        cost = estimate_cost(
            stats.billable,
            examples,
            epochs=epochs
            if target is None or target.epochs_rule or epochs != "auto"
            else target.default_epochs or 1,
            **(target.cost_terms() if target is not None else {}),
        )
        report.cost = cost
        limit_billed = target.max_billed_tokens if target is not None else None
        if limit_billed is not None and cost.billed_tokens > limit_billed:
            add(
                Problem(
                    "too_many_billed_tokens",
                    f"{cost.billed_tokens:,} tokens x epochs; at most {limit_billed:,} per job",
                )
            )
    return report


def _dataset_rules(
    report: ValidationReport,
    target: Target,
    *,
    fmt: DataFormat | None,
    first_origin: Origin | None,
    examples: int | None,
    file_bytes: int | None,
) -> None:
    if fmt is not None and fmt not in target.formats:
        accepted = ", ".join(sorted(target.formats))
        report.add(
            Problem(
                "format_not_accepted",
                f"{target.label} does not train on {fmt.value} examples (it takes: {accepted})",
                first_origin,
            )
        )
    if examples is None:  # the source could not be read: that is the problem to fix
        pass
    elif target.min_examples is not None and examples < target.min_examples:
        report.add(
            Problem(
                "too_few_examples",
                f"{examples} example(s); {target.provider} needs at least {target.min_examples}",
            )
        )
    elif target.recommended_examples is not None and examples < target.recommended_examples:
        report.add(
            Problem(
                "few_examples",
                f"{examples} examples; {target.provider} recommends at least "
                f"{target.recommended_examples} for a visible improvement",
                severity=WARNING,
            )
        )
    if file_bytes is not None and target.max_file_bytes is not None:  # noqa: SIM102
        if file_bytes > target.max_file_bytes:
            report.add(
                Problem(
                    "file_too_large",
                    f"{file_bytes:,} bytes; {target.provider} accepts files up to "
                    f"{target.max_file_bytes:,} bytes",
                )
            )
