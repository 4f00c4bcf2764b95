"""AutoTrain checks data with the rules it declares itself (``ftsdk_autotrain/data_rules.json``),
before anything is staged, whether or not the core checked the data first."""

from __future__ import annotations

from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import InvalidDataset
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk_autotrain import AutoTrainProvider


@pytest.mark.parametrize("check_data", [True, False])
def test_dpo_on_chat_data_is_refused_by_autotrains_own_rules(
    offline_client: ftsdk.Client, tiny_model: Path, tmp_path: Path, home: Path, check_data: bool
) -> None:
    rules = AutoTrainProvider.data_rules
    assert rules is not None
    assert rules.formats["dpo"] == {"preference"}
    chat = write_jsonl(tmp_path / "chat.jsonl", date_to_words_examples(20))
    with pytest.raises(InvalidDataset) as caught:
        offline_client.train(
            base_model=str(tiny_model),
            training_data=chat,
            method=ftsdk.DPO(epochs=1, batch_size=4),
            check_data=check_data,
        )
    assert f"autotrain/{tiny_model} does not train on chat examples" in str(caught.value)
    assert "trl" not in str(caught.value)
    assert not list((home / "autotrain" / "jobs").glob("*"))  # refused before any job folder
