from __future__ import annotations

from pathlib import Path

import pytest

from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.fixtures import emulator, openai_client

__all__ = ["emulator", "openai_client"]


@pytest.fixture
def train_path(tmp_path: Path) -> Path:
    """24 date-to-words chat examples."""
    return write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(24))
