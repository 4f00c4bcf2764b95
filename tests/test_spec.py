"""JobSpec: one description of a job, validated with field paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from ftsdk import DPO, SFT, FileRef, JobSpec
from ftsdk.errors import InvalidRequest


def test_from_json_with_a_file_id_and_a_path() -> None:
    spec = JobSpec.model_validate_json(
        json.dumps(
            {
                "base_model": "gpt-4.1-mini-2025-04-14",
                "training_data": {"id": "file-abc"},
                "validation_data": "valid.jsonl",
                "method": {"type": "dpo", "beta": 0.2, "epochs": 2},
                "metadata": {"team": "search"},
            }
        )
    )
    assert spec.training_data == FileRef(id="file-abc")
    assert spec.validation_data == Path("valid.jsonl")
    assert isinstance(spec.method, DPO)
    assert spec.method.explicit() == {"beta": 0.2, "epochs": 2}


def test_default_method_is_sft_with_auto_values() -> None:
    spec = JobSpec(base_model="m", training_data=Path("t.jsonl"))
    assert spec.method == SFT()
    assert spec.method.explicit() == {}


def test_unknown_top_level_field_is_refused_with_its_name() -> None:
    with pytest.raises(InvalidRequest) as caught:
        JobSpec(base_model="m", training_data=Path("t.jsonl"), epochs=3)  # type: ignore[call-arg]
    assert caught.value.field == "epochs"


def test_out_of_range_hyperparameter() -> None:
    with pytest.raises(InvalidRequest) as caught:
        SFT(epochs=0)
    assert caught.value.field == "epochs"


def test_beta_belongs_to_dpo_only() -> None:
    with pytest.raises(InvalidRequest):
        SFT(beta=0.1)  # type: ignore[call-arg]


def test_spec_is_frozen() -> None:
    spec = JobSpec(base_model="m", training_data=Path("t.jsonl"))
    with pytest.raises(ValidationError):
        spec.base_model = "other"  # type: ignore[misc]


def test_keyword_mistakes_raise_invalid_request_naming_the_close_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        SFT(learning_rat=0.1)  # type: ignore[call-arg]
    assert str(caught.value) == "learning_rat: unknown field; did you mean learning_rate?"
    assert caught.value.field == "learning_rat"
    assert isinstance(caught.value.__cause__, ValidationError)  # the original, chained


def test_every_problem_of_a_spec_at_once() -> None:
    with pytest.raises(InvalidRequest) as caught:
        JobSpec(base_model="", training_file="t.jsonl", method=SFT())  # type: ignore[call-arg]
    assert caught.value.problems == (
        "base_model: string should have at least 1 character",
        "training_file: unknown field; did you mean training_data?",
    )


def test_a_spec_file_names_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text('{\n  "base_model": "m",\n  "training_data": "t.jsonl",\n  "seed": "x"\n}\n')
    with pytest.raises(InvalidRequest, match=r"job.json:4: seed: input should be a valid integer"):
        JobSpec.from_file(path)
    path.write_text('{"base_model": "m", "training_data": "t.jsonl"}')
    assert JobSpec.from_file(path).training_data == Path("t.jsonl")
