"""AutoTrain has no trainer that learns from a grader: reinforcement fine-tuning is not
declared, and the core refuses it before anything is staged or run."""

from __future__ import annotations

from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import UnsupportedOperation
from ftsdk.graders import StringCheck


def test_rft_is_refused_before_anything_runs(
    offline_client: ftsdk.Client, tmp_path: Path, home: Path
) -> None:
    assert "reinforcement" not in offline_client.capabilities.methods
    grader = StringCheck(
        name="exact", input="{{sample.output_text}}", reference="{{item.answer}}", operation="eq"
    )
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"messages": [{"role": "user", "content": "2+4?"}], "answer": "6"}\n')
    before = sorted(home.rglob("*"))
    with pytest.raises(UnsupportedOperation, match="does not train with 'reinforcement'") as caught:
        offline_client.train(
            base_model=str(tmp_path), training_data=prompts, method=ftsdk.RFT(grader=grader)
        )
    assert tuple(caught.value.supported) == ("dpo", "sft")
    assert sorted(home.rglob("*")) == before
