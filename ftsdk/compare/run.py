"""``compare()``: run an eval set through a base model and a fine-tuned model, score both."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from ftsdk.compare.graded import graded, is_grader
from ftsdk.compare.prices import Price, inference_price
from ftsdk.compare.report import ComparisonReport, ItemResult, Side, difference, summarize
from ftsdk.compare.scorers import Judge, ScoreFunction, Scorer, resolve_scorers
from ftsdk.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidDataset,
    InvalidRequest,
    PermissionDenied,
)
from ftsdk.models import ChatParams

if TYPE_CHECKING:
    from ftsdk.dataset import Dataset
    from ftsdk.graders import Grader
    from ftsdk.models import Model

__all__ = ["EvalItem", "compare", "load_eval_set"]


@dataclass(frozen=True)
class EvalItem:
    """One eval example: the conversation to send and the reference answer."""

    origin: str
    messages: list[dict[str, Any]]
    """Everything before the last assistant message."""
    reference: str
    example: dict[str, Any]
    """The example as read (what custom scorers receive)."""


def _dataset(source: Any, label: str) -> Dataset:
    from ftsdk.dataset import Dataset

    if isinstance(source, Dataset):
        return source
    if isinstance(source, str | Path):
        if not Path(source).is_file():
            raise InvalidRequest(f"{label}: no such file {str(source)!r}", field=label)
        return Dataset.load(source)
    if isinstance(source, Iterable):
        return Dataset.from_records(list(source), name=f"<{label}>")
    raise InvalidRequest(
        f"{label}: a file path, a Dataset or a list of chat examples, not {type(source).__name__}",
        field=label,
    )


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if all(isinstance(p, str) for p in parts) and parts:
            return "".join(str(p) for p in parts)
    return None


def load_eval_set(source: Any, *, label: str = "eval_set") -> tuple[str, list[EvalItem]]:
    """Read chat examples whose last message is the assistant's reference answer.

    :returns: the set's name and its items.
    :raises InvalidDataset: every item that is not such an example, with its file and line.
    """
    from ftsdk.dataset import Example

    dataset = _dataset(source, label)
    items: list[EvalItem] = []
    problems: list[str] = []
    for read in dataset.items():
        if not isinstance(read, Example):
            problems.append(str(read))
            continue
        where, messages = str(read.origin), read.data.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            problems.append(f"{where}: not a chat example (no 'messages' list of objects)")
            continue
        asks = any(m.get("role") == "user" for m in messages[:-1])
        if not asks or messages[-1].get("role") != "assistant":
            problems.append(
                f"{where}: messages: the last message must be the assistant's reference "
                "answer, after at least one user message"
            )
            continue
        reference = _text(messages[-1].get("content"))
        if reference is None:
            problems.append(f"{where}: messages[{len(messages) - 1}].content: not text")
            continue
        items.append(EvalItem(where, [dict(m) for m in messages[:-1]], reference, read.data))
    if problems:
        raise InvalidDataset(
            f"{dataset.name}: {len(problems)} item(s) are not usable as eval examples",
            problems=problems,
            field=label,
        )
    if not items:
        raise InvalidDataset(f"{dataset.name}: no examples", field=label)
    return dataset.name, items


def _shots(
    few_shot: int | Any, pool: Any, items: list[EvalItem], seed: int
) -> tuple[list[dict[str, Any]], int]:
    """The few-shot turns (user/assistant pairs) for the base model, and how many examples
    they hold (an example may have several turns)."""
    if few_shot is None or few_shot == 0:
        return [], 0
    if isinstance(few_shot, bool) or (isinstance(few_shot, int) and few_shot < 0):
        raise InvalidRequest(f"few_shot: a count or examples, not {few_shot!r}", field="few_shot")
    if isinstance(few_shot, int):
        if pool is None:
            raise InvalidRequest(
                f"few_shot={few_shot} needs few_shot_pool= (examples kept apart from the eval "
                "set, e.g. from the training data)",
                field="few_shot_pool",
            )
        _, candidates = load_eval_set(pool, label="few_shot_pool")
    else:
        _, candidates = load_eval_set(few_shot, label="few_shot")
    asked = {_last_user(item.messages) for item in items}
    leaks = [c.origin for c in candidates if _last_user(c.messages) in asked]
    if leaks:
        raise InvalidRequest(
            f"few-shot examples {', '.join(leaks[:5])} ask what an eval item asks: keep the "
            "pool apart from the eval set",
            field="few_shot_pool",
        )
    if isinstance(few_shot, int):
        if few_shot > len(candidates):
            raise InvalidRequest(
                f"few_shot={few_shot} but the pool has {len(candidates)} examples",
                field="few_shot",
            )
        candidates = random.Random(seed).sample(candidates, few_shot)
    turns: list[dict[str, Any]] = []
    for shot in candidates:
        turns += [m for m in shot.messages if m.get("role") != "system"]
        turns.append({"role": "assistant", "content": shot.reference})
    return turns, len(candidates)


def _last_user(messages: list[dict[str, Any]]) -> str:
    users = [str(m.get("content")) for m in messages if m.get("role") == "user"]
    return users[-1] if users else ""


def _conversation(
    item: EvalItem, system: str | None, shots: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    leading = [m for m in item.messages if m.get("role") == "system"]
    rest = [m for m in item.messages if m.get("role") != "system"]
    if system is not None:
        leading = [{"role": "system", "content": system}]
    return [*leading, *shots, *rest]


class _Runner:
    """One side's requests, in a thread pool, with a shared progress bar."""

    def __init__(
        self,
        scorers: list[Scorer],
        params: dict[str, Any],
        system: str | None,
        concurrency: int,
        progress: bool | None,
    ) -> None:
        self.scorers, self.params, self.system = scorers, params, system
        self.concurrency, self.progress = concurrency, progress

    def one(
        self, model: Model, item: EvalItem, index: int, shots: list[dict[str, Any]]
    ) -> ItemResult:
        started = time.monotonic()
        sent = _conversation(item, self.system, [])
        try:
            reply = model.chat(_conversation(item, self.system, shots), **self.params)
        except _WHOLE_RUN:
            raise  # every other request would fail the same way: see side()
        except Exception as err:  # recorded, not fatal: one failed request is one item
            return ItemResult(
                index=index,
                origin=item.origin,
                messages=sent,
                reference=item.reference,
                error=_describe(err),
                seconds=round(time.monotonic() - started, 4),
            )
        seconds = round(time.monotonic() - started, 4)  # the request's, not the scorers'
        scores: dict[str, float] = {}
        score_errors: dict[str, str] = {}
        for scorer in self.scorers:
            try:
                scores[scorer.name] = scorer(reply.content, item.reference, item.example)
            except Exception as err:  # a scorer's failure is that item's, for that scorer
                score_errors[scorer.name] = _describe(err)
        return ItemResult(
            index=index,
            origin=item.origin,
            messages=sent,
            reference=item.reference,
            answer=reply.content,
            scores=scores,
            score_errors=score_errors,
            prompt_tokens=reply.usage.prompt_tokens,
            completion_tokens=reply.usage.completion_tokens,
            seconds=seconds,
        )

    def side(
        self,
        role: Literal["base", "tuned"],
        model: Model,
        items: list[EvalItem],
        shots: list[dict[str, Any]],
        *,
        few_shot: int,
        price: Price | None,
    ) -> Side:
        from ftsdk.progress import progress_bar

        bar = progress_bar(
            desc=f"{role} {model.id}", total=len(items), unit="request", enabled=self.progress
        )
        lock = threading.Lock()
        stopped: list[BaseException] = []  # credentials refused: the requests left are skipped

        def run(pair: tuple[int, EvalItem]) -> ItemResult | None:
            if stopped:
                return None
            try:
                result = self.one(model, pair[1], pair[0], shots)
            except _WHOLE_RUN as err:
                with lock:
                    stopped.append(err)
                return None
            with lock:
                bar.update(1)
            return result

        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="ftsdk-compare") as pool:
                done = list(pool.map(run, enumerate(items)))
        finally:
            bar.close()
        if stopped:
            error = stopped[0]
            error.add_note(f"compare stopped: the {role} model {model.id} refused the request")
            raise error
        results = [result for result in done if result is not None]
        names = [s.name for s in self.scorers]
        return Side(
            role=role,
            model=model.id,
            provider=model.provider,
            few_shot=few_shot,
            few_shot_messages=shots,
            price=price,
            items=results,
            summary=summarize(results, names, price),
        )


_WHOLE_RUN = (AuthenticationError, PermissionDenied, ConfigurationError)
"""Errors no other request of the run would escape (a refused key, missing access)."""


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _price(
    model: Model, role: Literal["base", "tuned"], prices: Mapping[str, Any] | None
) -> Price | None:
    given = (prices or {}).get(role)
    if given is not None:
        return Price.of(given)
    return inference_price(
        model.provider, model.id, fine_tuned=role == "tuned", base_model=model.info.base_model
    )


def _graders_wrapped(
    scorers: Sequence[str | Scorer | ScoreFunction | Grader] | None,
) -> Sequence[str | Scorer | ScoreFunction] | None:
    """``scorers`` with each :mod:`ftsdk.graders` grader wrapped as a scorer."""
    if is_grader(scorers):
        raise InvalidRequest(
            f"scorers: a list, e.g. [{scorers!r}], not one scorer on its own", field="scorers"
        )
    if scorers is None or isinstance(scorers, str):
        return scorers  # resolve_scorers says what is wrong with a string
    return [graded(s) if is_grader(s) else s for s in scorers]  # type: ignore[arg-type, misc]


def compare(
    base: Model,
    tuned: Model,
    eval_set: Any,
    *,
    scorers: Sequence[str | Scorer | ScoreFunction | Grader] | None = None,
    few_shot: int | Any = 0,
    few_shot_pool: Any = None,
    few_shot_seed: int = 0,
    system: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = 0.0,
    concurrency: int = 4,
    prices: Mapping[str, Price | Sequence[float]] | None = None,
    progress: bool | None = None,
) -> ComparisonReport:
    """Run ``eval_set`` through ``base`` and ``tuned`` (any providers), score every answer
    against its reference, and report quality, tokens and cost per 1,000 requests for each
    side and the difference::

        import ftsdk
        from ftsdk.compare import compare

        client = ftsdk.client("openai")
        job = client.job("ftjob-abc123")
        report = compare(client.model(job.state.base_model), job.model, "eval.jsonl",
                         few_shot=3, few_shot_pool="train.jsonl")
        print(report)
        report.to_html("report.html", job=job)

    :param eval_set: chat examples whose last message is the assistant's reference answer:
        a file (JSONL, JSON, CSV, Parquet), a :class:`ftsdk.Dataset` or a list of dicts.
    :param scorers: names of built-in scorers (``exact_match``, ``normalized_match``,
        ``similarity``, ``token_f1``), functions ``(prediction, reference, example) ->
        float``, :func:`~ftsdk.compare.judge` scorers, or :mod:`ftsdk.graders` graders
        (the reward of a reinforcement fine-tune; see :mod:`ftsdk.compare.graded`). Default:
        the first three.
    :param few_shot: give the base model examples before each question, as user/assistant
        turns: a number drawn from ``few_shot_pool`` (seeded by ``few_shot_seed``), or the
        examples themselves. The fine-tuned model gets none: it learned the task.
    :param few_shot_pool: where few-shot examples are drawn from; it must not share a
        question with the eval set.
    :param system: a system message for both sides, in place of the items' own.
    :param max_tokens: most tokens per answer; ``temperature`` 0 (default) for a
        reproducible comparison, ``None`` for the provider's default.
    :param concurrency: requests in flight at once, per side.
    :param prices: ``{"base": Price or (input, output), "tuned": ...}`` in USD per 1M tokens,
        in place of the recorded table (``ftsdk/dataset/inference.json``).
    :param progress: force the progress bars on or off (default: on a terminal).
    :returns: the :class:`~ftsdk.compare.ComparisonReport`. A failed request or a scorer
        that cannot score is recorded in the report, not raised.
    :raises ftsdk.errors.AuthenticationError: the provider refused the credentials (HTTP
        401): raised at once, the remaining requests are not sent. So are
        :class:`~ftsdk.errors.PermissionDenied` (403) and
        :class:`~ftsdk.errors.ConfigurationError` (no credentials).
    """
    started = time.monotonic()
    if concurrency < 1:
        raise InvalidRequest(
            f"concurrency must be 1 or more, not {concurrency}", field="concurrency"
        )
    unknown = set(prices or {}) - {"base", "tuned"}
    if unknown:
        raise InvalidRequest(
            f"prices: keys are 'base' and 'tuned', not {', '.join(sorted(unknown))}",
            field="prices",
        )
    chosen = resolve_scorers(_graders_wrapped(scorers))
    name, items = load_eval_set(eval_set)
    shots, shot_count = _shots(few_shot, few_shot_pool, items, few_shot_seed)
    params = {
        key: value
        for key, value in (("max_tokens", max_tokens), ("temperature", temperature))
        if value is not None
    }
    try:  # checked here, not once per request: a bad setting would fail every item
        ChatParams(**params)
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0])
        raise InvalidRequest(
            f"{name}={params[name]!r}: {first['msg'].lower()}", field=name
        ) from err
    # prices too, before any request: a bad one must not waste the base side's run
    base_price, tuned_price = _price(base, "base", prices), _price(tuned, "tuned", prices)
    judges = [s for s in chosen if isinstance(s, Judge)]
    judged_before = {id(j): len(j.usage) for j in judges}  # a judge may grade several runs
    runner = _Runner(chosen, params, system, concurrency, progress)
    base_side = runner.side("base", base, items, shots, few_shot=shot_count, price=base_price)
    tuned_side = runner.side("tuned", tuned, items, [], few_shot=0, price=tuned_price)
    judge_tokens = {}
    if judges:
        usage = [u for j in judges for u in j.usage[judged_before[id(j)] :]]
        judge_tokens = {
            "prompt_tokens": sum(u.prompt_tokens for u in usage),
            "completion_tokens": sum(u.completion_tokens for u in usage),
        }
    return ComparisonReport(
        eval_set=name,
        examples=len(items),
        scorers=[s.name for s in chosen],
        base=base_side,
        tuned=tuned_side,
        difference=difference(base_side.summary, tuned_side.summary),
        created_at=datetime.now(UTC),
        seconds=round(time.monotonic() - started, 3),
        judge_tokens=judge_tokens,
    )
