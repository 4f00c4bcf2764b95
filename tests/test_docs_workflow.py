"""The workflow guide runs as written: its Python blocks, in order, against the emulator on
OpenAI (credentials from the environment, as the page says) and on Azure OpenAI (API key on
the data plane, Entra ID for the deployments), and on TRL with a tiny model built offline in
place of the page's Qwen."""

from __future__ import annotations

import csv
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ftsdk.testing.emulator import Emulator

PAGE = Path(__file__).parents[1] / "docs" / "guide" / "workflow.md"
FENCE = re.compile(r"^(?P<indent> *)```python\n(?P<code>.*?)^(?P=indent)```$", re.M | re.S)


def python_blocks(text: str) -> list[tuple[str | None, str]]:
    """``(tab, code)`` for each Python block, in page order; ``tab`` is the title of the
    ``=== "Title"`` tab the block sits in, ``None`` outside tabs."""
    blocks = []
    for match in FENCE.finditer(text):
        tab = None
        if match["indent"]:
            tabs = re.findall(r'^=== "([^"]+)"$', text[: match.start()], re.M)
            tab = tabs[-1] if tabs else None
        blocks.append((tab, textwrap.dedent(match["code"])))
    return blocks


def write_recipes(path: Path) -> None:
    dishes = ["leek soup", "pancakes", "risotto", "chili", "hummus", "ratatouille", "pesto"]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["title", "ingredients"])
        for n in range(60):
            dish = dishes[n % len(dishes)]
            writer.writerow([f"{dish.capitalize()} No. {n}", f"{n} onions, salt and {dish}"])


def run_page(tab: str, namespace: dict[str, Any], patch: tuple[str, str] | None = None) -> None:
    blocks = [code for where, code in python_blocks(PAGE.read_text()) if where in (None, tab)]
    assert len(blocks) >= 10, "the page lost its steps"
    if patch is not None:
        assert patch[0] in blocks[0], f"the {tab} tab no longer calls {patch[0]}"
        blocks[0] = blocks[0].replace(*patch)
    for code in blocks:
        exec(compile(code, f"{PAGE.name} [{tab}]", "exec"), namespace)


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FTSDK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    write_recipes(tmp_path / "recipes.csv")
    with Emulator(clock_speed=2000) as emu:
        emu.config.deploy_seconds = 0.5
        yield emu


def check_outcome(ns: dict[str, Any], emu: Emulator) -> None:
    assert ns["report"].ok
    assert ns["cost"].billed_tokens == 3 * ns["cost"].tokens > 0
    assert ns["job"].status == "succeeded"
    assert [job.id for job in emu.jobs] == [ns["job"].id]  # train() reused nothing twice
    assert len(emu.files) == 2  # the upload in step 5 was reused by train()
    assert ns["losses"]
    assert ns["checkpoints"]
    assert ns["answer"].content
    comparison = ns["comparison"]
    assert comparison.examples == 12  # the held-out 20 % of 60 recipes
    assert comparison.tuned_wins("similarity")
    # The few-shot base pays for its examples in prompt tokens on every request.
    assert comparison.difference.mean_prompt_tokens < 0
    assert "<img" in Path("report.html").read_text()


def test_the_workflow_on_openai(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", emulator.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
    ns: dict[str, Any] = {}
    run_page("OpenAI", ns)
    check_outcome(ns, emulator)
    assert ns["model"].id.startswith("ft:gpt-4o-mini-2024-07-18:")


def test_the_workflow_on_azure(emulator: Emulator) -> None:
    from ftsdk_azure.testing import emulator_settings

    ns: dict[str, Any] = {"settings": emulator_settings(emulator)}
    run_page(
        "Azure OpenAI", ns, patch=('ftsdk.client("azure")', 'ftsdk.client("azure", **settings)')
    )
    check_outcome(ns, emulator)
    assert ns["served"].info.kind == "deployment"
    assert emulator.store.deployments == {}  # step 11 undeployed both


def test_the_workflow_on_trl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ftsdk_trl import tiny

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FTSDK_HOME", str(tmp_path / "home"))
    write_recipes(tmp_path / "recipes.csv")
    model = tiny.build(tmp_path / "tiny", seed=0)
    ns: dict[str, Any] = {}
    run_page("TRL (local)", ns, patch=('"Qwen/Qwen2.5-0.5B-Instruct"', repr(str(model))))
    assert ns["report"].ok
    assert ns["cost"].usd is None  # local training has no price per token
    assert ns["job"].status == "succeeded"
    assert ns["losses"]
    assert ns["checkpoints"]  # one an epoch
    assert ns["served"] is ns["model"]  # nothing to deploy locally
    comparison = ns["comparison"]
    assert comparison.examples == 12
    assert comparison.base.summary.errors == comparison.tuned.summary.errors == 0
    assert comparison.difference.mean_prompt_tokens < 0  # the few-shot base pays for examples
    assert "<img" in Path("report.html").read_text()
