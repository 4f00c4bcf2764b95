"""Reinforcement fine-tuning on TRL (GRPO) rewarded by an ``ftsdk.graders`` grader, end to end:
a job on the tiny model raises its mean reward, ``job.metrics()`` shows it, and
``ftsdk.compare`` with the same grader as scorer shows the fine-tune beating its base; one
user script runs a reinforcement job on TRL and on Azure (the emulator, over real HTTP) with
only the client and the base model changed.

The task is one a 150k-parameter model learns in seconds: whatever the month asked about,
answer with the word in the row's ``answer`` field; the reward is ``fuzzy_match`` (RapidFuzz
``WRatio``), partial credit for answers that contain part of it, so the group of answers to
each prompt differ and GRPO has something to push on.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk import RFT
from ftsdk.compare import compare
from ftsdk.errors import InvalidDataset
from ftsdk.graders import Multi, StringCheck, TextSimilarity

pytestmark = pytest.mark.slow

CLOSE = TextSimilarity(
    name="close",
    input="{{sample.output_text}}",
    reference="{{item.answer}}",
    evaluation_metric="fuzzy_match",
)

OPTIONS: dict[str, Any] = {
    "num_generations": 8,
    "max_completion_length": 8,
    "num_threads": 1,
    "logging_steps": 1,
}


def _prompts(path: Path, count: int, *, reference: bool = False) -> Path:
    rows = []
    for n in range(count):
        messages: list[dict[str, str]] = [{"role": "user", "content": f"name month {n % 12 + 1}"}]
        if reference:  # compare's eval items end with the reference answer
            messages.append({"role": "assistant", "content": "March"})
        rows.append({"messages": messages, "answer": "March"})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_grpo_raises_the_reward_and_compare_shows_the_gain(
    client: ftsdk.Client, tiny_model: Path, tmp_path: Path
) -> None:
    job = client.train(
        base_model=str(tiny_model),
        training_data=str(_prompts(tmp_path / "prompts.jsonl", 64)),
        method=RFT(grader=CLOSE, learning_rate=1e-2, batch_size=2, max_steps=20),
        provider_options=OPTIONS,
        seed=0,
    )
    job.wait(timeout=240)
    assert job.status == "succeeded", job.state.error

    rewards = [m.values["reward"] for m in job.metrics() if "reward" in m.values]
    assert len(rewards) == 20  # one row per step (logging_steps=1)
    first, last = _mean(rewards[:5]), _mean(rewards[-5:])
    print(f"GRPO mean reward: first 5 steps {first:.3f}, last 5 steps {last:.3f}")
    assert last > first + 0.2  # measured: 0.37 -> 0.88
    row = next(m.values for m in job.metrics() if "reward" in m.values)
    assert {"reward_std", "rewards/close/mean", "rewards/close/errors"} <= set(row)
    assert any("reward=" in event.message for event in job.events())

    eval_set = _prompts(tmp_path / "held-out.jsonl", 12, reference=True)
    base = client.model(str(tiny_model))
    tuned = job.model
    assert tuned is not None
    report = compare(base, tuned, eval_set, scorers=[CLOSE], max_tokens=8, progress=False)
    base_score = report.base.summary.quality["close"] or 0.0
    tuned_score = report.tuned.summary.quality["close"] or 0.0
    print(f"compare with the grader: base {base_score:.3f}, fine-tuned {tuned_score:.3f}")
    assert (report.base.summary.errors, report.tuned.summary.errors) == (0, 0)
    assert tuned_score > base_score + 0.2


def test_lora_grpo_with_a_multi_grader_logs_its_sub_rewards(
    client: ftsdk.Client, tiny_model: Path, tmp_path: Path
) -> None:
    exact = StringCheck(
        name="exact", input="{{sample.output_text}}", reference="{{item.answer}}", operation="eq"
    )
    answer = Multi(
        name="answer",
        graders={"exact": exact, "close": CLOSE},
        calculate_output="0.5 * exact + 0.5 * close",
    )
    job = client.train(
        base_model=str(tiny_model),
        training_data=str(_prompts(tmp_path / "prompts.jsonl", 8)),
        method=RFT(grader=answer, adapter="lora", learning_rate=1e-2, batch_size=2, max_steps=2),
        provider_options=OPTIONS | {"num_generations": 2},
    )
    job.wait(timeout=180)
    assert job.status == "succeeded", job.state.error
    result = Path(job.state.result_model or "")
    assert (result / "adapter_config.json").is_file()
    rows = [m.values for m in job.metrics() if "reward" in m.values]
    assert len(rows) == 2
    for row in rows:  # the formula over the sub-rewards' means (linear: the mean of it)
        expected = 0.5 * row["rewards/answer/exact"] + 0.5 * row["rewards/answer/close"]
        assert row["reward"] == pytest.approx(expected, abs=1e-5)
        assert row["rewards/answer/errors"] == 0.0
    tuned = job.model
    assert tuned is not None
    assert tuned.chat("name month 3", max_tokens=4).content is not None


@pytest.mark.parametrize("check_data", [True, False])
def test_prompts_missing_a_graded_field_are_refused_with_file_line_field(
    check_data: bool, client: ftsdk.Client, tiny_model: Path, tmp_path: Path
) -> None:
    """Refused by the client's data check, and by the provider itself when that is skipped:
    never a job that grades every answer 0."""
    data = tmp_path / "bad.jsonl"
    data.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}], "answer": "March"})
        + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "hi"}]})
        + "\n"
        + json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "x"},
                ],
                "answer": "x",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidDataset) as caught:
        client.train(
            base_model=str(tiny_model),
            training_data=str(data),
            method=RFT(grader=CLOSE),
            provider_options=OPTIONS,
            check_data=check_data,
        )
    problems = "\n".join(caught.value.problems)
    assert "bad.jsonl:2: item.answer: the grader 'close' reads {{ item.answer }}" in problems
    assert "bad.jsonl:3: messages[1].role: a reinforcement prompt ends with a user message" in (
        problems
    )
    assert "bad.jsonl:1:" not in problems
    assert client.jobs() == []  # refused before any job folder


def rft_script(
    client: ftsdk.Client, base_model: str, prompts: Path, held_out: Path
) -> tuple[str, list[float], list[float]]:
    """What a user writes once: reinforcement fine-tuning with a grader, then the rewards."""
    exact = StringCheck(
        name="exact", input="{{sample.output_text}}", reference="{{item.answer}}", operation="eq"
    )
    job = client.train(
        base_model=base_model,
        training_data=prompts,
        validation_data=held_out,
        method=ftsdk.RFT(grader=exact, epochs=1, batch_size=2),
        suffix="months",
    )
    job.wait(poll_interval=0.05, timeout=300)
    metrics = job.metrics()
    train = [m.values["train_reward"] for m in metrics if "train_reward" in m.values]
    valid = [m.values["valid_reward"] for m in metrics if "valid_reward" in m.values]
    return job.status, train, valid


def _azure(tmp_path: Path) -> Iterator[tuple[ftsdk.Client, str]]:
    from ftsdk.testing.emulator import Emulator
    from ftsdk_azure.testing import emulator_settings

    with (
        Emulator(clock_speed=500) as emu,
        ftsdk.client(
            "azure", **emulator_settings(emu, mode="entra", home=tmp_path / "azure-home")
        ) as client,
    ):
        yield client, "o4-mini-2025-04-16"


@pytest.mark.parametrize("provider", ["trl", "azure"])
def test_the_same_rft_script_on_trl_and_azure(
    provider: str,
    client: ftsdk.Client,
    tiny_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    prompts = _prompts(tmp_path / "prompts.jsonl", 10)
    held_out = _prompts(tmp_path / "held-out.jsonl", 2)
    with contextlib.ExitStack() as stack:
        if provider == "trl":
            chosen, base_model = client, str(tiny_model)
        else:
            chosen, base_model = stack.enter_context(contextlib.contextmanager(_azure)(tmp_path))
        status, train, valid = rft_script(chosen, base_model, prompts, held_out)
    assert status == "succeeded"
    assert train
    assert valid
    assert all(0.0 <= r <= 1.0 for r in train + valid)


def test_the_reward_function_grades_each_answer_against_its_whole_row() -> None:
    """What TRL calls: each answer graded with its row (the prompt back under ``messages``)
    as ``item``; an answer the grader cannot score gets 0 and counts in ``errors``."""
    from ftsdk_trl.grpo import reward_function

    echo = StringCheck(
        name="echo",
        input="{{sample.output_text}}",
        reference="{{item.messages[0].content}} {{item.answer}}",
        operation="eq",
    )
    logged: dict[str, float] = {}
    reward = reward_function(echo)
    hi, yo = [{"role": "user", "content": "hi"}], [{"role": "user", "content": "yo"}]
    prompts = [hi, hi, yo, yo]
    answers = ["hi March", "hi May", "yo May", "yo"]
    rewards = reward(
        prompts=prompts,
        completions=[[{"role": "assistant", "content": a}] for a in answers],
        answer=["March", "March", "May", "May"],
        trainer_state=None,
        log_metric=logged.__setitem__,
        log_extra=lambda column, values: None,
    )
    assert reward.__name__ == "echo"  # TRL logs rewards/echo/mean
    assert rewards == [1.0, 0.0, 1.0, 0.0]
    assert logged == {"rewards/echo/errors": 0.0}
    with_missing = reward_function(_exact_missing())(
        prompts=prompts[:1], completions=[[{"role": "assistant", "content": "x"}]], answer=["x"],
        log_metric=logged.__setitem__,
    )  # fmt: skip
    assert with_missing == [0.0]
    assert logged["rewards/exact/errors"] == 1.0


def _exact_missing() -> StringCheck:
    return StringCheck(
        name="exact", input="{{sample.output_text}}", reference="{{item.nope}}", operation="eq"
    )
