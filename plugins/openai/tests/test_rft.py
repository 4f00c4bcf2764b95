"""Reinforcement fine-tuning on OpenAI through ftsdk: the user's grader goes to the
emulator over real HTTP in the request the published description defines (strict mode
checks it), reward metrics come back, and bad data is refused before any upload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ftsdk
from ftsdk import RFT, JobStatus
from ftsdk.errors import InvalidDataset, InvalidRequest
from ftsdk.graders import Multi, Python, StringCheck, TextSimilarity
from ftsdk.spec import read_spec_file, validate_spec
from ftsdk.testing.data import arithmetic_prompts as prompts
from ftsdk.testing.data import write_jsonl
from ftsdk.testing.emulator import Emulator

BASE = "o4-mini-2025-04-16"
EXACT = StringCheck(
    name="exact", input="{{sample.output_text}}", reference="{{item.answer}}", operation="eq"
)


@pytest.fixture
def rft_train(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "rft-train.jsonl", prompts(30))


@pytest.fixture
def rft_valid(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "rft-valid.jsonl", prompts(10, seed=100))


def uploads(emulator: Emulator) -> list[str]:
    return [r.path for r in emulator.requests if r.method == "POST" and "/files" in r.path]


def test_rft_job_carries_the_grader_and_reports_rewards(
    client: ftsdk.Client, emulator: Emulator, rft_train: Path, rft_valid: Path
) -> None:
    grader = Multi(
        name="answer",
        calculate_output="0.7 * exact + 0.3 * close",
        graders={
            "exact": EXACT,
            "close": TextSimilarity(
                name="close",
                input="{{sample.output_text}}",
                reference="{{item.answer}}",
                evaluation_metric="fuzzy_match",
            ),
        },
    )
    method = RFT(grader=grader, epochs=1, reasoning_effort="low", eval_samples=2)
    job = client.train(
        base_model=BASE, training_data=rft_train, validation_data=rft_valid, method=method
    )
    job.wait(poll_interval=0.02)
    assert job.status == JobStatus.SUCCEEDED
    assert job.state.method == "reinforcement"
    sent = emulator.jobs[-1]
    assert sent.method == {"type": "reinforcement", "grader": grader.to_api()}
    assert sent.hyperparameters["reasoning_effort"] == "low"
    assert sent.hyperparameters["eval_samples"] == 2
    metrics = [e.metrics for e in job.events() if e.type == "metrics"]
    assert metrics
    assert {"train_reward", "valid_reward"} <= set(metrics[-1])
    assert metrics[-1]["train_reward"] > metrics[0]["train_reward"]
    assert "train_loss" not in metrics[0]
    # strict mode checked each request against OpenAI's published description
    assert emulator.config.strict
    assert [r for r in emulator.requests if r.status == 400] == []


def test_rft_python_grader_is_sent_to_openai(
    client: ftsdk.Client, emulator: Emulator, rft_train: Path
) -> None:
    grader = Python(
        name="close",
        source="def grade(sample, item):\n"
        "    return float(sample['output_text'] == item['answer'])\n",
    )
    job = client.train(base_model=BASE, training_data=rft_train, method=RFT(grader=grader))
    assert emulator.jobs[-1].method["grader"]["type"] == "python"
    assert job.state.method == "reinforcement"


def test_rft_missing_item_field_is_refused_before_upload(
    client: ftsdk.Client, emulator: Emulator, tmp_path: Path
) -> None:
    rows = prompts(30)
    del rows[3]["answer"]
    path = write_jsonl(tmp_path / "rft-train.jsonl", rows)
    with pytest.raises(InvalidDataset) as caught:
        client.train(base_model=BASE, training_data=path, method=RFT(grader=EXACT))
    assert caught.value.field == "item.answer"
    assert any(p.startswith("rft-train.jsonl:4: item.answer: ") for p in caught.value.problems)
    assert "'exact'" in str(caught.value)
    assert uploads(emulator) == []


def test_rft_prompt_must_end_with_a_user_turn(
    client: ftsdk.Client, emulator: Emulator, tmp_path: Path
) -> None:
    rows = prompts(30)
    rows[5]["messages"].append({"role": "assistant", "content": "7"})
    path = write_jsonl(tmp_path / "rft-train.jsonl", rows)
    with pytest.raises(InvalidDataset) as caught:
        client.train(base_model=BASE, training_data=path, method=RFT(grader=EXACT))
    assert "rft-train.jsonl:6: messages[2].role" in str(caught.value)
    assert uploads(emulator) == []


def test_rft_needs_a_model_that_trains_with_it(
    client: ftsdk.Client, emulator: Emulator, rft_train: Path
) -> None:
    with pytest.raises(InvalidRequest, match=f"models that it trains so: {BASE}"):
        client.train(
            base_model="gpt-4o-mini-2024-07-18", training_data=rft_train, method=RFT(grader=EXACT)
        )
    assert uploads(emulator) == []


def test_rft_bad_hyperparameter_and_cosine_are_refused_before_upload(
    client: ftsdk.Client, emulator: Emulator, rft_train: Path
) -> None:
    with pytest.raises(InvalidRequest, match=r"method\.epochs: 51 is outside 1\.\.50"):
        client.train(base_model=BASE, training_data=rft_train, method=RFT(grader=EXACT, epochs=51))
    cosine = TextSimilarity(
        name="cos", input="{{sample.output_text}}", reference="{{item.answer}}",
        evaluation_metric="cosine",
    )  # fmt: skip
    with pytest.raises(InvalidRequest) as caught:
        client.train(base_model=BASE, training_data=rft_train, method=RFT(grader=cosine))
    assert caught.value.field is not None
    assert caught.value.field.startswith("method.grader")
    assert uploads(emulator) == []


def test_rft_from_a_spec_file(
    client: ftsdk.Client, emulator: Emulator, rft_train: Path, tmp_path: Path
) -> None:
    spec_path = tmp_path / "rft.yaml"
    spec_path.write_text(
        f"base_model: {BASE}\n"
        f"training_data: {rft_train}\n"
        "method:\n"
        "  type: reinforcement\n"
        "  eval_interval: 2\n"
        f"  grader: {json.dumps(EXACT.to_api())}\n",
        encoding="utf-8",
    )
    source = read_spec_file(spec_path)
    spec = validate_spec(source.data, source)
    assert isinstance(spec.method, RFT)
    assert spec.method.grader == EXACT
    client.train(spec)
    assert emulator.jobs[-1].method["grader"] == EXACT.to_api()
    assert emulator.jobs[-1].hyperparameters["eval_interval"] == 2
