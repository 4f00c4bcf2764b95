"""``score_model`` graders asking a real model over HTTP: a judge fine-tuned on OpenAI's
emulator (its fine-tuned models answer from their training data), reached by the real
``openai`` client through ``ftsdk``. Scores, token usage, replies without a score, and
failed requests, each as the service reports them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest
from ftsdk.graders import Multi, ScoreModel, StringCheck
from ftsdk.testing.data import write_jsonl
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"
GRADER = ScoreModel(
    name="capital judge",
    model="gpt-4o-2024-08-06",
    input=[
        {"role": "system", "content": "You grade answers to geography questions."},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Question: capital of {{item.country}}?"},
                {"type": "input_text", "text": "Answer: {{sample.output_text}}"},
            ],
        },
    ],
    range=[0, 10],
    sampling_params={"temperature": 0, "seed": 7, "max_completions_tokens": 20},
)
CAPITALS = {
    "France": "Paris",
    "Japan": "Tokyo",
    "Peru": "Lima",
    "Kenya": "Nairobi",
    "Chile": "Santiago",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ftsdk.Client]:
    home = tmp_path_factory.mktemp("home")
    policy = ftsdk.RetryPolicy(max_attempts=1, initial_wait=0.01, max_wait=0.02)
    with (
        Emulator(clock_speed=500) as emulator,
        ftsdk.client(
            "openai",
            api_key=emulator.api_key,
            base_url=emulator.openai_base_url,
            home=home,
            retry=policy,
        ) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def judge(client: ftsdk.Client, tmp_path_factory: pytest.TempPathFactory) -> ftsdk.Model:
    """A judge trained to give 10 to the right capital and 2 to a wrong one."""
    lessons = [
        {
            "messages": [
                *GRADER.messages(answer, item={"country": country}),
                {"role": "assistant", "content": f'{{"result": {10 if right else 2}}}'},
            ]
        }
        for country, capital in CAPITALS.items()
        for answer, right in [(capital, True), ("Springfield", False)]
    ]
    job = client.train(
        base_model=BASE,
        training_data=write_jsonl(tmp_path_factory.mktemp("data") / "judge.jsonl", lessons),
    )
    job = job.wait(poll_interval=0.02, progress=False)
    assert job.model is not None
    return job.model


def test_the_prompt_is_filled_in_and_asks_for_a_result() -> None:
    messages = GRADER.messages("Lima", item={"country": "Peru"})
    assert messages[0] == {
        "role": "system",
        "content": 'Reply with JSON only: {"result": <score>}, where <score> is a number '
        "from 0 to 10.",
    }
    assert messages[2] == {"role": "user", "content": "Question: capital of Peru?\nAnswer: Lima"}


def test_a_fine_tuned_judge_scores_through_the_real_client(judge: ftsdk.Model) -> None:
    grader = GRADER.with_model(judge)
    right = grader.run("Tokyo", item={"country": "Japan"})
    wrong = grader.run("Springfield", item={"country": "Japan"})
    assert (right.reward, wrong.reward) == (10.0, 2.0)  # the score itself, in its range
    assert right.ok
    assert right.metadata.sampled_model_name == judge.id
    usage = right.model_grader_token_usage_per_model[judge.id]
    assert usage.prompt_tokens > 20
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert right.metadata.token_usage == usage.total_tokens
    assert grader.to_api() == GRADER.to_api()  # the judge is not part of the JSON


def test_a_multi_grader_adds_up_the_judges_tokens(judge: ftsdk.Model) -> None:
    grader = Multi(
        name="both",
        calculate_output="judge / 10 * exact",
        graders={
            "judge": GRADER.with_model(judge),
            "exact": StringCheck(
                name="exact",
                input="{{sample.output_text}}",
                reference="{{item.capital}}",
                operation="eq",
            ),
        },
    )
    result = grader.run("Nairobi", item={"country": "Kenya", "capital": "Nairobi"})
    assert result.reward == 1.0
    assert result.sub_rewards == {"judge": 10.0, "exact": 1.0}
    assert list(result.model_grader_token_usage_per_model) == [judge.id]


def test_a_reply_without_a_score_is_a_parse_error(client: ftsdk.Client) -> None:
    # A base model on the emulator answers in prose, with no score in it.
    result = GRADER.with_model(client.model(BASE)).run("Paris", item={"country": "France"})
    assert result.reward == 0.0
    assert result.errors.model_grader_parse_error
    assert "no score in the reply" in result.messages[0]
    assert result.model_grader_token_usage_per_model[BASE].total_tokens > 0


def test_a_score_outside_the_range_is_a_parse_error(judge: ftsdk.Model) -> None:
    narrow = GRADER.model_copy(update={"range": [0, 5]}).with_model(judge)
    result = narrow.run("Paris", item={"country": "France"})
    assert result.errors.model_grader_parse_error
    assert "the score 10 is outside the range 0..5" in result.messages[0]


def test_a_failed_request_is_a_server_error(client: ftsdk.Client) -> None:
    missing = client.model("ft:gpt-4o-mini-2024-07-18:org::nosuch")
    result = GRADER.with_model(missing).run("Paris", item={"country": "France"})
    assert result.reward == 0.0
    assert result.errors.model_grader_server_error
    assert "does not exist" in (result.errors.model_grader_server_error_details or "")


def test_without_a_model_the_error_says_how_to_attach_one() -> None:
    with pytest.raises(InvalidRequest, match=r"with_model\(client.model"):
        GRADER.run("Paris", item={"country": "France"})
