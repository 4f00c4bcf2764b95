"""The embedded default, end to end: the demo fine-tunes the tiny model on the CPU and
``ftsdk.compare`` shows the fine-tuned model beating the base (given 3 examples in its
prompt) on held-out dates, with the tokens each side spent; ``ftsdk compare --job`` then
compares the same job's models from the command line (4 requests at once: local weights are
loaded once, under a lock), loss curve in its HTML report."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import ftsdk
from ftsdk.cli import main
from ftsdk.compare import ComparisonReport
from ftsdk_trl import demo

pytestmark = pytest.mark.slow


def test_the_demo_compares_base_and_fine_tuned(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert demo.main(["--home", str(home)]) == 0  # 0: the fine-tuned model won
    printed = capsys.readouterr().out
    work = home / "trl" / "demo"
    assert f"HTML report (summary, loss curve, every example): {work / 'report.html'}" in printed
    asked = next(line for line in printed.splitlines() if "ask it yourself" in line)
    assert asked.split(" -> ")[1].strip()  # the fine-tuned model's streamed answer

    report = ComparisonReport.model_validate_json((work / "report.json").read_text())
    base, tuned = report.base.summary, report.tuned.summary
    assert report.examples == 50
    assert report.base.few_shot == 3
    assert base.quality["exact_match"] == 0.0
    assert (tuned.quality["exact_match"] or 0) >= 0.8  # measured: 0.96
    assert (tuned.quality["similarity"] or 0) > (base.quality["similarity"] or 0)
    # the lesson's point: the fine-tuned model needs no examples in its prompt
    assert (base.mean_prompt_tokens or 0) > 3 * (tuned.mean_prompt_tokens or 0)
    assert tuned.mean_completion_tokens
    assert (base.cost_per_1k, tuned.cost_per_1k) == (0.0, 0.0)  # local: no price per token
    assert (base.errors, tuned.errors) == (0, 0)
    page = (work / "report.html").read_text()
    assert page.count('<img alt="') == 2  # bars, and the job's loss curve

    # the same job's models from the command line
    (job,) = ftsdk.client("trl", home=str(home)).jobs()
    monkeypatch.setenv("FTSDK_NO_PROGRESS", "1")
    html = home / "cli.html"
    result = CliRunner().invoke(
        main,
        ["compare", "-p", "trl", "--set", f"home={home}", "--job", job.id,
         "--eval", str(work / "held-out.jsonl"), "--scorer", "exact_match",
         "--max-tokens", "12", "--html", str(html)],  # 4 requests at once (the default)
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("exact_match"))
    cells = row.split()
    assert cells[1] == "0.000"
    assert float(cells[2]) == tuned.quality["exact_match"]  # greedy: the same answers
    assert html.read_text().count('<img alt="') == 2
