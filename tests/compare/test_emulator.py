"""``compare`` on OpenAI's emulator over real HTTP: a base model against a model fine-tuned in
an emulator job, few-shot prompts, an LLM judge that is itself an emulator model, failed
requests, and ``ftsdk compare`` on the command line.

The emulator's fine-tuned models answer from their training data (the closest prompt they
were trained on), its base models answer generically; it counts a token per word or mark
and 3 more per message."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import ftsdk
from ftsdk.cli import main
from ftsdk.compare import ItemResult, compare, judge
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator
from ftsdk_emulator.training import count_tokens

BASE = "gpt-4o-mini-2024-07-18"


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """What the emulator bills for a conversation."""
    return sum(count_tokens(m["content"]) + 3 for m in messages)


def test_the_fine_tuned_model_beats_the_base_with_tokens_and_cost(
    client: ftsdk.Client, job: ftsdk.Job, eval_set: Path, rows: list[dict[str, Any]]
) -> None:
    assert job.model is not None
    assert job.state.base_model == BASE
    report = compare(client.model(BASE), job.model, eval_set, progress=False)

    base, tuned = report.base.summary, report.tuned.summary
    assert report.examples == 10
    assert report.eval_set == "eval.jsonl"
    assert tuned.quality == {"exact_match": 1.0, "normalized_match": 1.0, "similarity": 1.0}
    assert base.quality["exact_match"] == 0.0
    assert 0 < (base.quality["similarity"] or 0) < 0.5
    assert report.tuned_wins()
    assert (base.errors, tuned.errors) == (0, 0)
    # tokens as the emulator billed them: the same prompts, a short answer against a long one
    sent = [row["messages"][:-1] for row in rows[:10]]
    assert tuned.mean_prompt_tokens == base.mean_prompt_tokens == sum(map(prompt_tokens, sent)) / 10
    answers = [row["messages"][-1]["content"] for row in rows[:10]]
    assert tuned.mean_completion_tokens == sum(map(count_tokens, answers)) / 10
    assert (base.mean_completion_tokens or 0) > 5 * (tuned.mean_completion_tokens or 0)
    # prices from the recorded table: base $0.15/$0.60, fine-tuned $0.30/$1.20 per 1M tokens
    assert report.base.price is not None
    assert report.base.price.input == 0.15
    assert report.tuned.price is not None
    assert report.tuned.price.output == 1.2
    expected = (tuned.mean_prompt_tokens * 0.3 + tuned.mean_completion_tokens * 1.2) / 1000
    assert tuned.cost_per_1k == pytest.approx(expected)
    assert report.difference.cost_per_1k == pytest.approx(expected - (base.cost_per_1k or 0))
    first = report.tuned.items[0]
    assert (first.origin, first.answer, first.reference) == ("eval.jsonl:1", answers[0], answers[0])


def test_few_shot_raises_the_base_models_prompt_tokens(
    client: ftsdk.Client, job: ftsdk.Job, eval_set: Path, pool: Path
) -> None:
    assert job.model is not None
    base = client.model(BASE)
    zero = compare(base, job.model, eval_set, scorers=["exact_match"], progress=False)
    three = compare(
        base, job.model, eval_set, scorers=["exact_match"], few_shot=3, few_shot_pool=pool
    )
    shots = date_to_words_examples(2, seed=21)
    given = compare(base, job.model, eval_set, scorers=["exact_match"], few_shot=shots)

    assert (zero.base.few_shot, three.base.few_shot, given.base.few_shot) == (0, 3, 2)
    assert three.base.label == "base (3-shot)"
    assert three.tuned.few_shot == 0
    extra = sum(prompt_tokens(s["messages"][1:]) for s in shots)  # user + assistant turns
    assert (
        given.base.summary.mean_prompt_tokens == (zero.base.summary.mean_prompt_tokens or 0) + extra
    )
    assert (three.base.summary.mean_prompt_tokens or 0) > (
        zero.base.summary.mean_prompt_tokens or 0
    )
    # the fine-tuned side is asked exactly as before: it learned the task
    assert three.tuned.summary.mean_prompt_tokens == zero.tuned.summary.mean_prompt_tokens
    assert (three.difference.mean_prompt_tokens or 0) < (zero.difference.mean_prompt_tokens or 0)
    # the report keeps the eval item as asked, without the shots
    assert three.base.items[0].messages == zero.base.items[0].messages


def example(item: ItemResult) -> dict[str, Any]:
    """The eval item as read: its conversation and the reference answer."""
    reference = {"role": "assistant", "content": item.reference}
    return {"messages": [*item.messages, reference]}


def test_an_llm_judge_on_the_emulator_grades_every_answer(
    client: ftsdk.Client, job: ftsdk.Job, eval_set: Path, tmp_path: Path
) -> None:
    assert job.model is not None
    base = client.model(BASE)
    first = compare(base, job.model, eval_set, scorers=["exact_match"], progress=False)
    # A judge fine-tuned (on the emulator) to give 10 to a right answer and 1 to a wrong one.
    grader = judge(client.model(BASE))
    lessons = [
        {
            "messages": [
                *grader.messages(item.answer or "", item.reference, example(item)),
                {"role": "assistant", "content": "Score: 10" if right else "Score: 1"},
            ]
        }
        for side in (first.base, first.tuned)
        for item in side.items
        for right in [item.answer == item.reference]
    ]
    asked = lessons[0]["messages"][1]["content"]
    assert asked.startswith(f"Question:\n{first.base.items[0].messages[-1]['content']}\n\n")
    judge_job = client.train(
        base_model=BASE, training_data=write_jsonl(tmp_path / "judge.jsonl", lessons)
    ).wait(poll_interval=0.02, progress=False)
    assert judge_job.model is not None

    graded = compare(
        base, job.model, eval_set, scorers=["exact_match", judge(judge_job.model)], progress=False
    )
    assert graded.base.summary.quality["judge"] == 0.1
    assert graded.tuned.summary.quality["judge"] == 1.0
    assert graded.judge_tokens["prompt_tokens"] > 0
    assert graded.judge_tokens["completion_tokens"] > 0

    # A base model as judge answers without a score: recorded per item, the report is whole.
    unparsed = compare(
        base, job.model, eval_set, scorers=["exact_match", judge(base)], progress=False
    )
    assert unparsed.tuned.summary.quality == {"exact_match": 1.0, "judge": None}
    assert unparsed.tuned.summary.score_errors["judge"] == 10
    why = unparsed.tuned.items[0].score_errors["judge"]
    assert why.startswith("JudgeError: the judge's reply holds no score: 'As a general-purpose")
    assert "items a scorer could not score: judge 20" in unparsed.table()


def test_failed_requests_are_recorded_and_counted_not_raised(
    client: ftsdk.Client, emu: Emulator, job: ftsdk.Job, eval_set: Path
) -> None:
    gone = client.model(f"ft:{BASE}:emulator-org:gone:abc123", base_model=BASE, job_id="x")
    emu.faults.add("POST /chat/completions", status=400, times=1)
    report = compare(client.model(BASE), gone, eval_set, concurrency=1, progress=False)

    assert report.base.summary.errors == 1  # the 400, not retried
    assert report.base.summary.mean_prompt_tokens is not None  # 9 answered
    assert report.base.summary.scored["exact_match"] == 9
    assert report.tuned.summary.errors == 10
    assert report.tuned.summary.quality["exact_match"] is None
    assert report.tuned.summary.cost_per_1k is None
    assert report.tuned.items[3].error is not None
    assert report.tuned.items[3].error.startswith("NotFound: ")
    assert not report.tuned_wins()
    row = next(line for line in report.table().splitlines() if line.startswith("failed"))
    assert row.split() == ["failed", "requests", "1", "10"]


@pytest.fixture
def cli_env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("OPENAI_API_KEY", emu.api_key)
    monkeypatch.setenv("FTSDK_NO_PROGRESS", "1")
    return emu


def test_the_command_line_compares_a_jobs_models(
    cli_env: Emulator, job: ftsdk.Job, eval_set: Path, pool: Path, tmp_path: Path
) -> None:
    emu = cli_env
    common = ["compare", "-p", "openai", "--set", f"base_url={emu.openai_base_url}"]
    html, out = tmp_path / "out" / "report.html", tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        [
            *common,
            "--job",
            job.id,
            "--eval",
            str(eval_set),
            "--few-shot",
            "2",
            "--few-shot-file",
            str(pool),
            "--scorer",
            "exact_match",
            "--scorer",
            "token_f1",
            "--html",
            str(html),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == f"base:       {BASE} (openai)"
    assert any(line.split() == ["exact_match", "0.000", "1.000", "+1.000"] for line in lines)
    assert lines[-2:] == [f"HTML report: {html}", f"JSON report: {out}"]
    saved = json.loads(out.read_text())
    assert saved["base"]["few_shot"] == 2
    assert saved["tuned"]["model"] == job.state.result_model
    page = html.read_text()
    assert page.count('<img alt="') == 2  # the bars, and the job's loss curves
    assert job.state.result_model is not None
    assert job.state.result_model in page

    as_json = CliRunner().invoke(
        main,
        [*common, "--base", BASE, "--tuned", job.state.result_model, "--eval", str(eval_set),
         "--tuned-price", "1,2", "--json"],
    )  # fmt: skip
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["tuned"]["price"] == {"input": 1.0, "output": 2.0, "source": "given"}

    bad = CliRunner().invoke(main, [*common, "--job", job.id, "--eval", "missing.jsonl"])
    assert bad.exit_code == 1
    assert bad.output.strip() == "error: InvalidRequest: eval_set: no such file 'missing.jsonl'"
    price = CliRunner().invoke(
        main, [*common, "--job", job.id, "--eval", str(eval_set), "--base-price", "free"]
    )
    assert price.exit_code == 2
    assert "use INPUT,OUTPUT in USD per 1M tokens" in price.output


@pytest.mark.parametrize(
    ("settings", "why"),
    [
        ({"prices": {"tuned": "cheap"}}, r"a price is \(input, output\)"),
        ({"prices": {"base": (0.1, float("inf"))}}, r"a price is \(input, output\)"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": 5}, "temperature"),
    ],
)
def test_bad_prices_and_settings_are_refused_before_any_request(
    client: ftsdk.Client, emu: Emulator, eval_set: Path, settings: dict[str, Any], why: str
) -> None:
    base = client.model(BASE)
    with pytest.raises(ftsdk.errors.InvalidRequest, match=why):
        compare(base, base, eval_set, progress=False, **settings)
    assert emu.requests_to("POST /chat/completions") == []


def test_a_judge_used_twice_reports_each_runs_own_tokens(
    client: ftsdk.Client, eval_set: Path
) -> None:
    base = client.model(BASE)
    grader = judge(base)
    first = compare(base, base, eval_set, scorers=["exact_match", grader], progress=False)
    second = compare(base, base, eval_set, scorers=["exact_match", grader], progress=False)
    assert first.judge_tokens["prompt_tokens"] > 0
    assert second.judge_tokens == first.judge_tokens  # the same 20 requests, not 40


def test_the_command_line_says_which_options_go_together(
    cli_env: Emulator, eval_set: Path, pool: Path, tmp_path: Path
) -> None:
    common = ["compare", "-p", "openai", "--set", f"base_url={cli_env.openai_base_url}",
              "--base", BASE, "--tuned", BASE, "--eval", str(eval_set)]  # fmt: skip
    alone = CliRunner().invoke(main, [*common, "--few-shot", "3"])
    assert alone.exit_code == 2
    assert "--few-shot 3 needs --few-shot-file" in alone.output
    unused = CliRunner().invoke(main, [*common, "--few-shot-file", str(pool)])
    assert unused.exit_code == 2
    assert "--few-shot-file needs --few-shot N" in unused.output
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the report's folder would be
    nowhere = CliRunner().invoke(main, [*common, "--html", str(blocked / "report.html")])
    assert nowhere.exit_code == 2
    assert "Invalid value for --html: cannot write to" in nowhere.output
    assert cli_env.requests_to("POST /chat/completions") == []  # refused before any request
    # --out into a folder that does not exist yet: written, not a traceback after the run
    out = tmp_path / "new" / "report.json"
    written = CliRunner().invoke(main, [*common, "--scorer", "exact_match", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert json.loads(out.read_text())["examples"] == 10


def test_a_multi_turn_few_shot_example_counts_as_one(client: ftsdk.Client, eval_set: Path) -> None:
    (one,) = date_to_words_examples(1, seed=30)
    question, answer = one["messages"][-2:]
    multi_turn = {"messages": [question, answer, {"role": "user", "content": "Again?"}, answer]}
    base = client.model(BASE)
    report = compare(base, base, eval_set, scorers=["exact_match"], few_shot=[multi_turn])
    assert report.base.few_shot == 1
    assert report.base.label == "base (1-shot)"


def test_an_items_seconds_are_its_requests_not_its_scoring(
    client: ftsdk.Client, rows: list[dict[str, Any]]
) -> None:
    def slow(prediction: str, reference: str, example: Any) -> float:
        time.sleep(1.0)  # as a judge's own request would
        return 1.0

    base = client.model(BASE)
    report = compare(base, base, rows[:3], scorers=[slow], concurrency=3, progress=False)
    assert [i.scores for i in report.base.items] == [{"slow": 1.0}] * 3
    assert all(0 < i.seconds < 1.0 for i in report.base.items + report.tuned.items)


def test_judge_settings_add_to_the_providers_own(
    cli_env: Emulator, rows: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    eval_set = write_jsonl(tmp_path / "eval3.jsonl", rows[:3])
    result = CliRunner().invoke(
        main,
        ["compare", "-p", "openai", "--set", f"base_url={cli_env.openai_base_url}",
         "--base", BASE, "--tuned", BASE, "--eval", str(eval_set), "--scorer", "exact_match",
         "--judge-model", BASE, "--judge-set", "timeout=30", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # 3 answers a side, and the judge graded all 6 on the emulator (--set base_url kept)
    assert len(cli_env.requests_to("POST /chat/completions")) == 12
    why = json.loads(result.stdout)["tuned"]["items"][0]["score_errors"]["judge"]
    assert why.startswith("JudgeError: the judge's reply holds no score")


def test_refused_credentials_stop_the_run_at_once(
    emu: Emulator, eval_set: Path, tmp_path: Path
) -> None:
    """A wrong key would fail all the requests: the first refusal is raised, the rest unsent."""
    with (
        ftsdk.client(
            "openai", api_key="sk-wrong", base_url=emu.openai_base_url, home=tmp_path / "wrong"
        ) as wrong,
        pytest.raises(ftsdk.errors.AuthenticationError) as raised,
    ):
        compare(wrong.model(BASE), wrong.model(BASE), eval_set, concurrency=2, progress=False)
    assert f"the base model {BASE} refused the request" in "\n".join(raised.value.__notes__)
    assert len(emu.requests_to("POST /chat/completions")) <= 2  # the ones already in flight
