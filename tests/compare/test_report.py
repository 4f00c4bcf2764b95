"""The report's arithmetic (means, cost per 1,000 requests, differences), its table and JSON,
the inference price table, and the checks on eval sets and few-shot pools."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import ftsdk
from ftsdk.compare import ComparisonReport, ItemResult, Price, Side, compare, inference_price
from ftsdk.compare.prices import inference_table
from ftsdk.compare.report import difference, summarize
from ftsdk.compare.run import load_eval_set
from ftsdk.errors import InvalidDataset, InvalidRequest
from ftsdk.testing.data import date_to_words_examples, write_jsonl

SCORERS = ["exact_match", "similarity"]


def item(index: int, prompt: int, completion: int, **fields: object) -> ItemResult:
    return ItemResult(
        index=index,
        origin=f"eval.jsonl:{index + 1}",
        messages=[{"role": "user", "content": f"q{index}"}],
        reference="r",
        prompt_tokens=prompt,
        completion_tokens=completion,
        **fields,  # type: ignore[arg-type]
    )


def test_cost_per_1000_requests_is_mean_tokens_times_prices() -> None:
    price = Price(input=0.15, output=0.60)
    # 1,000 requests of 1,200 prompt and 40 completion tokens: 1.2M x $0.15 + 40k x $0.60
    assert price.per_1k_requests(prompt_tokens=1200, completion_tokens=40) == 0.18 + 0.024
    assert Price.of((2.5, 10)).per_1k_requests(prompt_tokens=100, completion_tokens=10) == 0.35
    with pytest.raises(InvalidRequest, match=r"\(input, output\) in USD per 1M tokens"):
        Price.of("cheap")  # type: ignore[arg-type]


def test_summary_means_leave_failed_requests_out() -> None:
    items = [
        item(0, 100, 10, answer="r", scores={"exact_match": 1.0, "similarity": 1.0}),
        item(1, 140, 30, answer="x", scores={"exact_match": 0.0, "similarity": 0.5}),
        item(2, 0, 0, error="RateLimited: slow down"),
        item(3, 120, 20, answer="y", scores={"exact_match": 0.0}, score_errors={"similarity": "e"}),
    ]
    summary = summarize(items, SCORERS, Price(input=1.0, output=2.0))
    assert summary.requests == 4
    assert summary.errors == 1
    assert summary.quality == {"exact_match": round(1 / 3, 4), "similarity": 0.75}
    assert summary.scored == {"exact_match": 3, "similarity": 2}
    assert summary.score_errors == {"exact_match": 0, "similarity": 1}
    assert summary.mean_prompt_tokens == 120.0
    assert summary.mean_completion_tokens == 20.0
    # (120 x $1 + 20 x $2) per 1M tokens, x 1,000 requests
    assert summary.cost_per_1k == pytest.approx(0.16)
    assert summarize(items, SCORERS, None).cost_per_1k is None


def build(base_items: list[ItemResult], tuned_items: list[ItemResult]) -> ComparisonReport:
    base_price, tuned_price = Price(input=0.15, output=0.6), Price(input=0.3, output=1.2)
    base = Side(
        role="base",
        model="gpt-4o-mini-2024-07-18",
        provider="openai",
        few_shot=3,
        price=base_price,
        items=base_items,
        summary=summarize(base_items, SCORERS, base_price),
    )
    tuned = Side(
        role="tuned",
        model="ft:gpt-4o-mini-2024-07-18:org:dates:abc",
        provider="openai",
        price=tuned_price,
        items=tuned_items,
        summary=summarize(tuned_items, SCORERS, tuned_price),
    )
    return ComparisonReport(
        eval_set="eval.jsonl",
        examples=len(base_items),
        scorers=SCORERS,
        base=base,
        tuned=tuned,
        difference=difference(base.summary, tuned.summary),
        created_at=datetime(2026, 11, 25, tzinfo=UTC),
        seconds=1.5,
    )


def sample_report() -> ComparisonReport:
    scores_wrong = {"exact_match": 0.0, "similarity": 0.2}
    scores_right = {"exact_match": 1.0, "similarity": 1.0}
    return build(
        [item(i, 1000, 40, answer="x", scores=scores_wrong) for i in range(4)],
        [item(i, 100, 8, answer="r", scores=scores_right) for i in range(4)],
    )


def test_difference_is_tuned_minus_base() -> None:
    report = sample_report()
    assert report.base.summary.cost_per_1k == pytest.approx(0.174)  # 1000x0.15 + 40x0.6, /1000
    assert report.tuned.summary.cost_per_1k == pytest.approx(0.0396)  # 100x0.3 + 8x1.2, /1000
    assert report.difference.quality == {"exact_match": 1.0, "similarity": 0.8}
    assert report.difference.mean_prompt_tokens == -900.0
    assert report.difference.mean_completion_tokens == -32.0
    assert report.difference.cost_per_1k == pytest.approx(0.0396 - 0.174)
    assert report.tuned_wins()
    assert report.tuned_wins("similarity")


def test_the_table_is_aligned_and_says_what_it_compares() -> None:
    table = sample_report().table()
    lines = table.splitlines()
    assert lines[0] == "4 examples from eval.jsonl"
    assert lines[1] == "base:       gpt-4o-mini-2024-07-18 (openai)"
    header, rule, *rows = lines[4:12]
    assert header.split() == ["base", "(3-shot)", "fine-tuned", "tuned", "-", "base"]
    assert {len(line) for line in [rule, *rows[:-1]]} == {len(rule)}  # right-aligned columns
    assert rows[0].split() == ["exact_match", "0.000", "1.000", "+1.000"]
    assert rows[2].split() == ["prompt", "tokens", "/", "request", "1000.0", "100.0", "-900.0"]
    assert rows[4].split() == ["cost", "/", "1,000", "requests", "$0.1740", "$0.0396", "-$0.1344"]
    assert str(sample_report()) == table


def test_json_round_trips(tmp_path: Path) -> None:
    report = sample_report()
    text = report.to_json(tmp_path / "report.json")
    assert json.loads((tmp_path / "report.json").read_text()) == json.loads(text)
    again = ComparisonReport.model_validate_json(text)
    assert again == report
    data = json.loads(text)
    assert data["difference"]["cost_per_1k"] == pytest.approx(-0.1344)
    assert data["base"]["price"]["source"] == "given"
    assert "verify" in data["price_note"]


def test_unknown_costs_are_unknown_not_guessed() -> None:
    items = [item(0, 10, 1, answer="r", scores={"exact_match": 1.0, "similarity": 1.0})]
    report = build(items, items).model_copy(
        update={"tuned": build(items, items).tuned.model_copy(update={"price": None})}
    )
    assert "cost n/a: no recorded price" in report.table()


def test_the_price_table_is_data_with_sources_and_dates() -> None:
    table = inference_table()
    assert "AS PUBLISHED; VERIFY" in table["_note"]
    for provider in ("openai", "azure", "trl", "autotrain"):
        assert table[provider]["recorded"]
        assert table[provider]["source"]
    base = inference_price("openai", "gpt-4o-mini", fine_tuned=False)
    tuned = inference_price(
        "openai", "ft:gpt-4o-mini-2024-07-18:org:x:1", fine_tuned=True, base_model=None
    )
    assert base is not None
    assert (base.input, base.output) == (0.15, 0.6)
    assert tuned is not None
    assert (tuned.input, tuned.output) == (0.3, 1.2)
    assert "2026-11-25" in tuned.source
    for name, prices in table["openai"]["models"].items():  # fine-tuned never cheaper
        assert prices["fine_tuned"]["input"] >= prices["base"]["input"], name
    assert inference_price("azure", "gpt-4o-mini", fine_tuned=False) is None
    assert inference_price("openai", "no-such-model", fine_tuned=False) is None
    local = inference_price("trl", "/models/tiny", fine_tuned=True)
    assert local is not None
    assert (local.input, local.output) == (0.0, 0.0)


def test_eval_set_problems_are_listed_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    good = json.dumps(date_to_words_examples(1)[0])
    path.write_text(
        good
        + "\n"
        + '{"messages": [{"role": "user", "content": "hi"}]}\n'
        + '{"prompt": "a", "completion": "b"}\n'
        + "{not json\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidDataset) as caught:
        load_eval_set(path)
    problems = caught.value.problems
    assert problems[0].startswith("eval.jsonl:2: messages: the last message must be the assistant")
    assert problems[1].startswith("eval.jsonl:3: not a chat example")
    assert problems[2].startswith("eval.jsonl:4: not valid JSON")
    assert str(caught.value) == "eval.jsonl: 3 item(s) are not usable as eval examples"
    with pytest.raises(InvalidRequest, match=r"no such file 'missing\.jsonl'"):
        load_eval_set("missing.jsonl")
    rows = date_to_words_examples(2)
    name, items = load_eval_set(rows)
    assert name == "<eval_set>"
    assert [i.reference for i in items] == [r["messages"][-1]["content"] for r in rows]
    assert [i.messages for i in items] == [r["messages"][:-1] for r in rows]


def test_few_shot_mistakes_are_refused_before_any_request(tmp_path: Path) -> None:
    rows = date_to_words_examples(12)
    eval_path = write_jsonl(tmp_path / "eval.jsonl", rows[:4])
    pool = write_jsonl(tmp_path / "pool.jsonl", rows[4:])
    leaky = write_jsonl(tmp_path / "leaky.jsonl", rows[2:6])
    client = ftsdk.client("trl", home=str(tmp_path / "home"))  # never asked: checks come first
    base, tuned = client.model("base"), client.model("tuned")
    with pytest.raises(InvalidRequest, match=r"few_shot=3 needs few_shot_pool="):
        compare(base, tuned, eval_path, few_shot=3)
    with pytest.raises(InvalidRequest, match="few_shot=9 but the pool has 8 examples"):
        compare(base, tuned, eval_path, few_shot=9, few_shot_pool=pool)
    with pytest.raises(InvalidRequest, match=r"leaky.jsonl:1, leaky.jsonl:2 ask what an eval"):
        compare(base, tuned, eval_path, few_shot=2, few_shot_pool=leaky)
    with pytest.raises(InvalidRequest, match="keys are 'base' and 'tuned', not cheap"):
        compare(base, tuned, eval_path, prices={"cheap": (0, 0)})
    with pytest.raises(InvalidRequest, match="concurrency must be 1 or more"):
        compare(base, tuned, eval_path, concurrency=0)


def test_an_eval_item_without_a_question_is_refused() -> None:
    system = {"role": "system", "content": "Be brief."}
    answer = {"role": "assistant", "content": "a"}
    rows = [{"messages": [system, answer]}, {"messages": [answer, answer]}]
    with pytest.raises(InvalidDataset) as caught:
        load_eval_set(rows)
    assert [p.split(": ", 1)[0] for p in caught.value.problems] == [
        "<eval_set>[0]",
        "<eval_set>[1]",
    ]
    assert all("after at least one user message" in p for p in caught.value.problems)


def test_tuned_wins_names_the_scorers_it_knows() -> None:
    with pytest.raises(InvalidRequest, match="no scorer 'bleu' in this report; it has exact_match"):
        sample_report().tuned_wins("bleu")


def test_json_is_written_into_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "today" / "report.json"
    sample_report().to_json(target)
    assert ComparisonReport.model_validate_json(target.read_text()) == sample_report()
