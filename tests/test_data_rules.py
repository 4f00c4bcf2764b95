"""A provider's declared data rules are the rules the core enforces, before any upload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import ftsdk
from ftsdk import ProviderRegistry
from ftsdk.datarules import DataRules
from ftsdk.dataset import Dataset, Target
from ftsdk.errors import InvalidDataset, InvalidRequest, PluginError
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from tests.conftest import MemoryProvider


class RuledProvider(MemoryProvider):
    """A third party's provider that declares its rules as data."""

    name = "ruled"
    data_rules = DataRules(
        formats={"sft": {ftsdk.DataFormat.CHAT}},
        min_examples=5,
        max_file_bytes=4_000,
    )


def _client(provider: type[MemoryProvider]) -> tuple[ftsdk.Client, MemoryProvider]:
    registry = ProviderRegistry()
    registry.register(provider)
    client = ftsdk.client(provider.name, registry=registry, api_key="k-1234")
    assert isinstance(client.provider, MemoryProvider)
    return client, client.provider


def _train(client: ftsdk.Client, path: Path) -> None:
    client.train(base_model="m", training_data=path, method=ftsdk.SFT(epochs=1))


def test_a_third_party_min_examples_refuses_one_fewer_before_upload(tmp_path: Path) -> None:
    client, provider = _client(RuledProvider)
    few = write_jsonl(tmp_path / "few.jsonl", date_to_words_examples(4))
    with pytest.raises(InvalidDataset) as caught:
        _train(client, few)
    message = str(caught.value)
    assert "4 example(s); ruled needs at least 5" in message
    assert provider.calls == []  # nothing uploaded, no job
    _train(client, write_jsonl(tmp_path / "enough.jsonl", date_to_words_examples(5)))
    assert provider.calls[:2] == ["upload_file", "create_job"]


def test_a_third_party_max_file_bytes_is_enforced(tmp_path: Path) -> None:
    client, provider = _client(RuledProvider)
    rows = date_to_words_examples(60)
    big = write_jsonl(tmp_path / "big.jsonl", rows)
    assert big.stat().st_size > 4_000
    with pytest.raises(InvalidDataset, match=r"4,000 bytes"):
        _train(client, big)
    assert provider.calls == []


def test_a_third_party_format_per_method_is_enforced(tmp_path: Path) -> None:
    client, provider = _client(RuledProvider)
    text = tmp_path / "text.jsonl"
    text.write_text("".join(json.dumps({"text": f"line {n}"}) + "\n" for n in range(6)))
    with pytest.raises(InvalidDataset, match="text"):
        _train(client, text)
    assert provider.calls == []


def test_a_provider_without_rules_gets_the_format_checks_only(tmp_path: Path) -> None:
    client, provider = _client(MemoryProvider)
    one = write_jsonl(tmp_path / "one.jsonl", date_to_words_examples(1))
    _train(client, one)  # no minimum declared: one example is enough
    assert provider.calls[:2] == ["upload_file", "create_job"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": [{"role": "user"}]}\n')
    with pytest.raises(InvalidDataset, match=r"broken.jsonl:1"):
        _train(client, broken)


def test_rules_are_checked_when_the_provider_registers() -> None:
    class Wrong(MemoryProvider):
        name = "wrong"
        data_rules = {"min_examples": 3}  # type: ignore[assignment]

    with pytest.raises(PluginError, match=r"data_rules must be an ftsdk\.datarules\.DataRules"):
        ProviderRegistry().register(Wrong)
    with pytest.raises(ValidationError, match="max_examples"):
        DataRules.model_validate({"max_examples": 3})  # a typo is an error, not ignored
    with pytest.raises(ValidationError, match="name models that are not in 'models'"):
        DataRules.model_validate({"aliases": {"small": "nope"}})


def test_a_broken_rules_file_names_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "acme_rules"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "data_rules.json").write_text('{"min_examples": 0}')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=r"(?s)acme_rules/data_rules.json: .*min_examples"):
        DataRules.from_package("acme_rules")


@pytest.mark.parametrize(
    ("provider", "model", "fewest", "largest"),
    [
        ("openai", "gpt-4o-mini", 10, 8 * 1024**3),  # files over 512 MB go through Uploads
        ("azure", "gpt-4o-mini", 10, 512 * 1024**2),
        ("trl", "/models/any", 1, None),
        ("autotrain", "/models/any", 1, None),
    ],
)
def test_each_built_in_target_is_what_its_plugin_declares(
    provider: str, model: str, fewest: int, largest: int | None
) -> None:
    declared = ftsdk.providers().get(provider).data_rules
    assert declared is not None
    assert (declared.min_examples, declared.max_file_bytes) == (fewest, largest)
    target = Target.for_model(provider, model)
    assert (target.min_examples, target.max_file_bytes) == (fewest, largest)


def test_a_method_narrows_the_formats_to_what_it_trains_on() -> None:
    assert Target.for_model("openai", "gpt-4o-mini", method="sft").formats == {"chat"}
    assert Target.for_model("openai", "gpt-4o-mini", method="dpo").formats == {"preference"}
    assert Target.for_model("openai", "babbage-002", method="sft").formats == {"prompt_completion"}
    local: Any = Target.for_model("trl", "/models/any", method="dpo")
    assert local.formats == {"preference"}


def test_a_provider_that_is_not_installed_is_a_clear_error(tmp_path: Path) -> None:
    data = Dataset.from_records(date_to_words_examples(3))
    with pytest.raises(InvalidRequest, match=r"'acme': it is not installed .*registered: .*trl"):
        data.validate(("acme", "m"))


def test_each_data_rules_field_is_documented() -> None:
    guide = (Path(__file__).parent.parent / "docs" / "plugins" / "authoring.md").read_text()
    rows = [line for line in guide.splitlines() if line.startswith("| `")]
    for field in DataRules.model_fields:
        assert any(f"`{field}`" in row.split("|")[1] for row in rows), field
