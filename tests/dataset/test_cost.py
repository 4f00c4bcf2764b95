"""Billed tokens and money: tokens x epochs, OpenAI's "auto" epochs rule, recorded prices."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ftsdk.dataset import Dataset, Target, default_epochs
from ftsdk.dataset.cost import TokenStats, estimate_cost
from ftsdk.dataset.targets import declared_rules


@pytest.mark.parametrize(
    ("examples", "epochs"),
    [(1, 25), (3, 25), (4, 25), (10, 10), (30, 3), (33, 3), (34, 3), (100, 3), (8333, 3),
     (8334, 2), (12500, 2), (12501, 1), (100_000, 1)],
)  # fmt: skip
def test_default_epochs_follow_openais_rule(examples: int, epochs: int) -> None:
    assert default_epochs(examples) == epochs


def test_billed_tokens_are_tokens_times_epochs() -> None:
    cost = estimate_cost(120_000, 20, price_per_million=3.0)
    assert (cost.epochs, cost.epochs_auto) == (5, True)  # 20 * 3 < 100: 100 // 20
    assert cost.billed_tokens == 600_000
    assert cost.usd == pytest.approx(1.8)
    fixed = estimate_cost(120_000, 40, epochs=5, price_per_million=25.0)
    assert (fixed.epochs, fixed.billed_tokens, fixed.usd) == (5, 600_000, 15.0)
    assert estimate_cost(10, 10, price_per_million=None).usd is None


def test_examples_over_the_context_are_billed_up_to_it() -> None:
    stats = TokenStats(limit=100)
    for tokens in (10, 50, 500):
        stats.add(tokens)
    assert (stats.total, stats.billable, stats.over_limit) == (560, 160, 1)
    assert (stats.min, stats.max, stats.p95, round(stats.mean, 1)) == (10, 500, 500, 186.7)


def test_percentile_of_a_hundred() -> None:
    stats = TokenStats()
    for tokens in range(1, 101):
        stats.add(tokens)
    assert (stats.p95, stats.percentile(50), stats.percentile(100)) == (95, 50, 100)


def test_report_cost_uses_the_price_table(tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(40)
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = Dataset.load(path).validate(("openai", "gpt-4o-2024-08-06"), epochs=4)
    cost = report.cost
    assert cost.tokens == report.stats.total
    assert cost.billed_tokens == 4 * report.stats.total
    assert cost.usd == pytest.approx(4 * report.stats.total * 25.0 / 1e6)
    assert Dataset.load(path).estimate_cost(("openai", "gpt-4o-mini")).epochs == 3  # 40 * 3 >= 100
    few = Dataset.from_records(rows[:12]).estimate_cost(("openai", "gpt-4o-mini"))
    assert few.epochs == 8  # 12 * 3 < 100: 100 // 12


def test_azure_job_size_limit(tmp_path: Path) -> None:
    target = Target.for_model("azure", "gpt-4o-mini", max_billed_tokens=100)
    rows = [{"messages": [{"role": "user", "content": f"q{i}"},
                          {"role": "assistant", "content": "a"}]} for i in range(12)]  # fmt: skip
    report = Dataset.from_records(rows).validate(target, epochs=3)
    assert [p.kind for p in report.errors] == ["too_many_billed_tokens"]
    assert report.cost.usd is None  # Azure prices are not recorded


def test_each_provider_declares_where_and_when_its_rules_come_from() -> None:
    for provider in ("openai", "azure", "trl", "autotrain"):
        rules = declared_rules(provider)
        assert rules.recorded
        assert "VERIFY BEFORE BUDGETING" in rules.sources["note"]
        assert rules.sources["prices"]
        assert rules.sources["limits"]
    assert declared_rules("openai").models["gpt-4o-mini-2024-07-18"].price_per_million == 3.0


def test_targets_resolve_aliases_and_fine_tunes() -> None:
    assert Target.for_model("openai", "gpt-4o-mini").model == "gpt-4o-mini-2024-07-18"
    tuned = Target.for_model("openai", "ft:gpt-4o-mini-2024-07-18:acme:recipes:abc123")
    assert tuned.model == "gpt-4o-mini-2024-07-18"
    assert Target.for_model("openai", "gpt-3.5-turbo").encoding == "cl100k_base"
    from ftsdk.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="no recorded rules for model 'gpt-9'"):
        Target.for_model("openai", "gpt-9")
    with pytest.raises(InvalidRequest, match="no data rules for provider 'nope': it is not inst"):
        Target.for_model("nope", "m")


@pytest.mark.parametrize("limit", [None, 100])
def test_stats_of_a_batch_equal_those_of_one_at_a_time(limit: int | None) -> None:
    counts = [10, 500, 50, 100, 101, 0, 500]
    one_by_one, batched = TokenStats(limit), TokenStats(limit)
    for tokens in counts:
        one_by_one.add(tokens)
    batched.extend(counts[:3])
    batched.extend([])
    batched.extend(counts[3:])
    assert batched.to_dict() == one_by_one.to_dict()
    assert batched.billable == one_by_one.billable


def test_auto_epochs_on_a_local_target_are_its_trainers_default(tmp_path: Path) -> None:
    rows = [{"text": f"example {n}"} for n in range(4)]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    epochs = {}
    for provider in ("trl", "autotrain"):
        target = dataclasses.replace(
            Target.for_model(provider, "local-model"), hf_tokenizer=None, encoding="o200k_base"
        )
        cost = Dataset.load(path).validate(target).cost
        assert cost is not None
        epochs[provider] = cost.epochs
    assert epochs == {"trl": 3, "autotrain": 1}  # ftsdk-trl's default; AutoTrain's own
