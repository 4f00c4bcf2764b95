"""What a person reading the comparison report needs (issue 18.10): what an empty answer
was, the few-shot prompt the base model got, and how to give prices where the report was
made (Python or the command line)."""

from __future__ import annotations

import itertools
import json
from html import escape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import ftsdk
from ftsdk.cli import main
from ftsdk.compare import ComparisonReport, compare
from ftsdk.models import ChatParams, ChatResponse, ModelInfo, Usage
from ftsdk.testing.emulator import Emulator, EmulatorConfig


class Mumbler(ftsdk.Provider):
    """A base model that answers nothing, or only blank lines, yet counts 14 tokens (what
    a small local model does when it writes only special tokens or whitespace)."""

    name = "mumbler"
    capabilities = ftsdk.Capabilities(operations=frozenset({ftsdk.Operation.CHAT}))
    answers = ("", "\n\n ")
    asked = itertools.count()

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        content = self.answers[next(self.asked) % 2]
        return ChatResponse(
            content=content, model=model.id, usage=Usage(prompt_tokens=30, completion_tokens=14)
        )


def test_an_empty_answer_says_what_the_model_produced(
    job: ftsdk.Job, eval_set: Path, tmp_path: Path
) -> None:
    registry = ftsdk.ProviderRegistry()
    registry.register(Mumbler, distribution="tests")
    base = ftsdk.client("mumbler", registry=registry).model("tiny")
    assert job.model is not None
    report = compare(base, job.model, eval_set, progress=False)
    page = report.to_html(tmp_path / "report.html", plots=False).read_text()
    answers = {item.answer for item in report.base.items}
    assert answers == {"", "\n\n "}
    assert "(empty answer: 14 completion tokens)" in page
    assert escape("(blank answer: only whitespace, '\\n\\n ', in 14 completion tokens)") in page
    assert "<td class='bad'><pre></pre></td>" not in page  # no blank red cell


def test_the_few_shot_prompt_is_shown(
    client: ftsdk.Client, job: ftsdk.Job, eval_set: Path, pool: Path, tmp_path: Path
) -> None:
    assert job.model is not None
    report = compare(
        client.model(job.state.base_model or ""),
        job.model,
        eval_set,
        few_shot=2,
        few_shot_pool=pool,
        progress=False,
    )
    page = report.to_html(tmp_path / "report.html", plots=False).read_text()
    assert "Few-shot prompt" in page
    pool_rows = [json.loads(line) for line in pool.read_text().splitlines()]
    shown = [row for row in pool_rows if escape(row["messages"][-1]["content"]) in page]
    assert len(shown) == 2  # the two drawn, with their answers
    turns = ComparisonReport.model_validate_json(report.to_json()).base.few_shot_messages
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]


@pytest.fixture
def unpriced(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An emulator that also serves a model no price table knows."""
    config = EmulatorConfig()
    config.openai_models = (*config.openai_models, "gpt-9-preview")
    with Emulator(config=config, clock_speed=500) as emu:
        monkeypatch.setenv("OPENAI_API_KEY", emu.api_key)
        monkeypatch.setenv("FTSDK_NO_PROGRESS", "1")
        yield emu


def test_a_report_made_by_the_cli_names_the_cli_options(
    unpriced: Emulator, eval_set: Path, tmp_path: Path
) -> None:
    html = tmp_path / "report.html"
    result = CliRunner().invoke(
        main,
        ["compare", "-p", "openai", "--set", f"base_url={unpriced.openai_base_url}",
         "--base", "gpt-9-preview", "--tuned", "gpt-4o-mini-2024-07-18",
         "--eval", str(eval_set), "--html", str(html)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for text in (result.output, html.read_text()):
        assert "--base-price INPUT,OUTPUT and --tuned-price INPUT,OUTPUT" in text
        assert "prices=" not in text


def test_a_report_made_in_python_names_the_argument(
    unpriced: Emulator, eval_set: Path, tmp_path: Path
) -> None:
    client = ftsdk.client("openai", base_url=unpriced.openai_base_url)
    report = compare(
        client.model("gpt-9-preview"),
        client.model("gpt-4o-mini-2024-07-18"),
        eval_set,
        progress=False,
    )
    page = report.to_html(tmp_path / "report.html", plots=False).read_text()
    assert escape("pass prices={'base': (INPUT, OUTPUT)") in page
    assert "--base-price" not in page
    assert "pass prices={'base'" in report.table()
