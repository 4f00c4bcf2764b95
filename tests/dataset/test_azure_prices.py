"""Azure's prices in the estimate: Azure prices fine-tuning per region and training tier and
publishes no figure without them, so ftsdk takes the user's price per 1M training tokens
(``token_price=``, ``--token-price``, ``FTSDK_AZURE_TOKEN_PRICE``) and, without one, says
where to find it, never $0. What Microsoft's cost guide does give in figures (RFT at $100
an hour for o4-mini, hosting at $1.70 an hour) is recorded with its source and shown."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ftsdk.dataset import Dataset, Target
from ftsdk.dataset.cost import token_price_env, token_prices_from_env
from ftsdk.dataset.targets import declared_rules
from ftsdk.errors import InvalidRequest
from ftsdk.testing.data import arithmetic_prompts, date_to_words_examples, write_jsonl

FTSDK = Path(sys.executable).with_name("ftsdk")
GUIDE = Path(__file__).parents[2] / "docs" / "guide" / "data.md"
ENV = "FTSDK_AZURE_TOKEN_PRICE"
PAGE = "https://azure.microsoft.com/en-us/pricing/details/azure-openai/"
HOSTING = "then $1.70/hour while deployed (Standard/Global Standard)"
COMMIT = "3e1d6f3cbe54d271b78c64e4662ac24ffb5f7c27"


@pytest.fixture(autouse=True)
def no_prices_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV, "FTSDK_OPENAI_TOKEN_PRICE", "FTSDK_TRL_TOKEN_PRICE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def train(tmp_path: Path) -> Path:
    """The file the guide's examples read: 60 chat examples, 2,340 tokens."""
    return write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(60))


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "rft.jsonl", arithmetic_prompts(20))


def says_how_to_price(text: str) -> None:
    """``text`` says where Azure's price is (page, region, tier) and how to give it."""
    for words in (PAGE, "region", "tier", "Global Standard 10-30 % less", "'$-'", ENV):
        assert words in text, words
    assert "--token-price" in text


# -- what is recorded, with its source ----------------------------------------------------


def test_azure_records_only_what_microsoft_documents_with_its_source() -> None:
    rules = declared_rules("azure")
    # No price per token anywhere: Azure publishes none without a region and tier, and
    # the guide's "$2 / 1M" is an example only.
    assert {name: spec.price_per_million for name, spec in rules.models.items()} == dict.fromkeys(
        rules.models
    )
    rft = rules.models["o4-mini-2025-04-16"]
    assert rft.price_per_hour == 100.0
    assert rft.price_note is not None
    assert "$5,000" in rft.price_note
    assert "grader tokens billed separately" in rft.price_note
    assert [m for m, spec in rules.models.items() if spec.price_per_hour] == ["o4-mini-2025-04-16"]
    assert dict(rules.hosting_per_hour) == {"Standard": 1.7, "Global Standard": 1.7, "Developer": 0}
    for key in ("prices", "hours", "hosting"):
        source = rules.sources[key]
        assert "fine-tuning-cost-management.md" in source
        assert COMMIT in source
        assert "02/11/2026" in source
    assert "$2 / 1M" in rules.sources["prices"]
    assert "example only" in rules.sources["prices"]
    assert PAGE in rules.sources["prices"]
    assert "2026-10-07" in rules.sources["prices"]
    assert rules.price_lookup is not None
    says_how_to_price(rules.price_lookup + " --token-price FTSDK_AZURE_TOKEN_PRICE")


# -- the Python API -----------------------------------------------------------------------


def test_without_a_price_there_is_no_money_figure_and_it_says_how_to_get_one(
    train: Path,
) -> None:
    cost = Dataset.load(train).estimate_cost(("azure", "gpt-4.1-mini"))
    assert (cost.tokens, cost.epochs, cost.billed_tokens) == (2340, 3, 7020)
    assert cost.usd is None  # unknown, never $0
    assert cost.price_source is None
    assert cost.no_price is not None
    says_how_to_price(cost.no_price)
    assert "token_price=" in cost.no_price
    assert "gpt-4.1-mini-2025-04-14" in cost.no_price  # the model to look up
    assert cost.hosting == HOSTING
    body = cost.to_dict()
    assert body["usd"] is None
    assert body["no_price"] == cost.no_price
    assert body["hosting_per_hour"] == {"Standard": 1.7, "Global Standard": 1.7, "Developer": 0}
    assert body["hosting"] == HOSTING
    # The check report carries the same estimate.
    report = Dataset.load(train).validate(("azure", "gpt-4.1-mini"))
    assert report.cost is not None
    assert report.cost.usd is None
    assert report.cost.no_price == cost.no_price


def test_the_price_you_give_prices_the_estimate(
    train: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = Dataset.load(train)
    cost = dataset.estimate_cost(("azure", "gpt-4.1-mini"), token_price=5.0)
    assert cost.usd == pytest.approx(7020 * 5.0 / 1e6)
    assert (cost.price_per_million, cost.price_source) == (5.0, "given")
    assert cost.summary.endswith("x $5.00/1M = $0.0351 (your price, as given)")
    assert cost.hosting == HOSTING
    assert cost.to_dict()["note"] == "your price, as given"
    target = Target.for_model("azure", "gpt-4.1-mini").with_token_price(5.0)
    assert dataset.estimate_cost(target).usd == pytest.approx(cost.usd)
    assert Target.for_model("azure", "gpt-4.1-mini", price_per_million=5.0).price_source == "given"
    # 0 is a price (a free tier, credits), not "unknown".
    assert dataset.estimate_cost(("azure", "gpt-4.1"), token_price=0).usd == 0

    monkeypatch.setenv(ENV, "$2.50")
    from_env = dataset.estimate_cost(("azure", "gpt-4.1-mini"))
    assert from_env.usd == pytest.approx(7020 * 2.5 / 1e6)
    assert from_env.price_source == ENV
    assert from_env.summary.endswith(f"(your price, from {ENV})")
    # The argument wins over the environment.
    assert dataset.estimate_cost(("azure", "gpt-4.1-mini"), token_price=5.0).usd == cost.usd


def test_the_environment_gives_a_price_per_model(
    train: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "gpt-4.1-mini=5, gpt-4.1-2025-04-14=25")
    dataset = Dataset.load(train)
    # A short name and a dated one both match, whichever the file or the caller uses.
    assert dataset.estimate_cost(("azure", "gpt-4.1-mini-2025-04-14")).price_per_million == 5.0
    assert dataset.estimate_cost(("azure", "gpt-4.1")).price_per_million == 25.0
    unlisted = dataset.estimate_cost(("azure", "gpt-4o-mini"))
    assert unlisted.usd is None  # not listed: not priced at another model's rate
    assert unlisted.no_price is not None
    assert token_prices_from_env("azure") == {"gpt-4.1-mini": 5.0, "gpt-4.1-2025-04-14": 25.0}


@pytest.mark.parametrize("raw", ["two dollars", "-1", "gpt-4.1=", "=5", "nan", "inf"])
def test_a_malformed_price_in_the_environment_is_an_error_naming_it(
    raw: str, train: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, raw)
    with pytest.raises(InvalidRequest) as caught:
        Dataset.load(train).estimate_cost(("azure", "gpt-4.1-mini"))
    assert caught.value.field == "token_price"
    assert f"{ENV} must be your price in USD per 1M training tokens" in caught.value.message
    assert "gpt-4.1-mini=5,gpt-4.1=25" in caught.value.message  # what it should look like


def test_a_price_given_is_checked(train: Path, tmp_path: Path) -> None:
    target = Target.for_model("azure", "gpt-4.1-mini")
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InvalidRequest, match="token_price must be USD per 1M training"):
            target.with_token_price(bad)
    local = Target.for_model("trl", str(tmp_path))
    with pytest.raises(InvalidRequest, match="priced by GPU time"):
        local.with_token_price(2.0)
    assert target.with_token_price(None) is target


def test_the_environment_variable_is_named_after_the_provider(
    train: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert token_price_env("azure") == ENV
    assert Target.for_model("azure", "gpt-4o").token_price_env == ENV
    # A price of your own replaces a recorded one (a negotiated rate on OpenAI).
    recorded = Dataset.load(train).estimate_cost(("openai", "gpt-4o-mini"))
    assert (recorded.price_per_million, recorded.price_source) == (3.0, "recorded")
    assert recorded.hosting is None  # OpenAI bills no hosting
    monkeypatch.setenv("FTSDK_OPENAI_TOKEN_PRICE", "2")
    assert Dataset.load(train).estimate_cost(("openai", "gpt-4o-mini")).usd == pytest.approx(
        recorded.billed_tokens * 2 / 1e6
    )
    # It prices hosted training only: local training is priced by GPU time.
    monkeypatch.setenv("FTSDK_TRL_TOKEN_PRICE", "2")
    local = Target.for_model("trl", str(tmp_path))
    assert (local.price_per_million, local.token_price_env) == (None, None)


def test_rft_on_azure_is_priced_by_the_hour_with_its_cap(prompts: Path) -> None:
    cost = Dataset.load(prompts).estimate_cost(("azure", "o4-mini"))
    assert cost.billed_by == "hours"
    assert cost.usd is None  # the hours are known only as the job runs
    assert cost.price_per_hour == 100.0
    assert cost.no_price is None  # it is priced: by the hour
    assert "$100.00 per hour of training" in cost.summary
    assert "tokens trained" in cost.summary
    assert "billed tokens" not in cost.summary
    assert "Azure caps a job's billing at $5,000" in cost.summary
    assert cost.hosting == HOSTING
    body = cost.to_dict()
    assert (body["billed_by"], body["price_per_hour"], body["no_price"]) == ("hours", 100.0, None)


# -- the real command line ----------------------------------------------------------------


def ftsdk(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real ``ftsdk``, with no token price in the environment unless ``env`` sets one."""
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN_PRICE")}
    return subprocess.run(
        [str(FTSDK), *args],
        cwd=cwd,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_stats_says_how_to_price_azure_and_takes_your_price(train: Path) -> None:
    bare = ftsdk("data", "stats", "train.jsonl", "-p", "azure", "--model", "gpt-4.1-mini",
                 cwd=train.parent)  # fmt: skip
    assert bare.returncode == 0, bare.stderr
    lines = bare.stdout.splitlines()
    assert lines[2] == "cost: 2,340 tokens x 3 epochs (auto) = 7,020 billed tokens (no price known)"
    assert lines[3].startswith("  to price it: ")
    says_how_to_price(lines[3])
    assert lines[4] == f"  {HOSTING}"
    assert "$0" not in bare.stdout

    priced = ftsdk("data", "stats", "train.jsonl", "-p", "azure", "--model", "gpt-4.1-mini",
                   "--token-price", "5", cwd=train.parent)  # fmt: skip
    assert priced.returncode == 0, priced.stderr
    assert "x $5.00/1M = $0.0351 (your price, as given)" in priced.stdout
    assert "to price it" not in priced.stdout
    assert f"  {HOSTING}" in priced.stdout

    from_env = ftsdk("data", "check", "train.jsonl", "-p", "azure", "--model", "gpt-4.1-mini",
                     cwd=train.parent, FTSDK_AZURE_TOKEN_PRICE="gpt-4.1-mini=5")  # fmt: skip
    assert from_env.returncode == 0, from_env.stderr
    assert f"x $5.00/1M = $0.0351 (your price, from {ENV})" in from_env.stdout

    as_json = ftsdk("data", "stats", "train.jsonl", "-p", "azure", "--model", "gpt-4.1-mini",
                    "--json", cwd=train.parent)  # fmt: skip
    body = json.loads(as_json.stdout)
    assert body["cost"]["usd"] is None
    says_how_to_price(body["cost"]["no_price"])
    assert body["cost"]["hosting"] == HOSTING
    assert body["target"]["hosting_per_hour"]["Standard"] == 1.7


def test_cli_refuses_a_malformed_or_misplaced_price(train: Path, tmp_path: Path) -> None:
    bad = ftsdk("data", "stats", "train.jsonl", "-p", "azure", "--model", "gpt-4.1",
                cwd=train.parent, FTSDK_AZURE_TOKEN_PRICE="cheap")  # fmt: skip
    assert bad.returncode == 2
    assert f"{ENV} must be your price in USD per 1M training tokens" in bad.stderr
    negative = ftsdk("data", "stats", "train.jsonl", "-p", "azure", "--model", "gpt-4.1",
                     "--token-price", "-3", cwd=train.parent)  # fmt: skip
    assert negative.returncode == 2
    no_target = ftsdk("data", "check", "train.jsonl", "--token-price", "3", cwd=train.parent)
    assert no_target.returncode == 2
    assert "--token-price prices a target" in no_target.stderr


def test_cli_stats_of_rft_data_on_azure_gives_the_hourly_rate(prompts: Path) -> None:
    result = ftsdk("data", "stats", "rft.jsonl", "-p", "azure", "--model", "o4-mini",
                   cwd=prompts.parent)  # fmt: skip
    assert result.returncode == 0, result.stderr
    cost = next(line for line in result.stdout.splitlines() if line.startswith("cost: "))
    assert "billed by training time, not tokens: $100.00 per hour of training" in cost
    assert "$5,000" in cost
    assert "to price it" not in result.stdout
    assert f"  {HOSTING}" in result.stdout


def console_blocks(heading: str) -> list[tuple[str, list[str]]]:
    """The ``console`` blocks of the data guide's section ``heading``: each command (after
    ``$ ``) and the lines it prints."""
    text = GUIDE.read_text()
    section = text[text.index(heading) :]
    section = section[: section.index("\n## ")]
    blocks = re.findall(r"^```console\n(.*?)^```$", section, re.M | re.S)
    found = []
    for block in blocks:
        command, *printed = block.splitlines()
        assert command.startswith("$ ftsdk ")
        found.append((command.removeprefix("$ "), printed))
    return found


def test_the_guides_azure_examples_are_what_the_command_prints(train: Path) -> None:
    blocks = console_blocks("### Prices you give: Azure")
    assert len(blocks) == 2
    for command, printed in blocks:
        args = command.split()[1:]
        result = ftsdk(*args, cwd=train.parent)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.splitlines() == printed, command
