"""The HTML report opens in a real browser (Debian's Chromium, headless, driven by
Playwright) with its plots loaded and nothing fetched from anywhere; the plots are real PNGs
from any job's metrics; a missing matplotlib is one clear error."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import ftsdk
from ftsdk.compare import ComparisonReport, compare, plots
from ftsdk.errors import ConfigurationError, InvalidRequest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def report(client: ftsdk.Client, job: ftsdk.Job, eval_set: Path, pool: Path) -> ComparisonReport:
    assert job.model is not None
    return compare(
        client.model(job.state.base_model or ""),
        job.model,
        eval_set,
        few_shot=2,
        few_shot_pool=pool,
        progress=False,
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) read from the PNG header."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)
def test_the_report_opens_in_chromium_with_its_plots(
    report: ComparisonReport, job: ftsdk.Job, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    page_path = report.to_html(tmp_path / "report.html", job=job)
    shot = tmp_path / "screens" / "report.png"
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({alt: e.alt, ok: e.complete, w: e.naturalWidth}))"
            )
            summary = page.inner_text("#summary")
            rows = page.locator("#items tr").count()
            title = page.title()
            # nothing wider than the window: no sideways scrolling at 1280 px
            wide = page.evaluate(
                "() => [document.documentElement.scrollWidth, ...Array.from("
                "document.querySelectorAll('table, pre'), e => e.scrollWidth - e.clientWidth)]"
            )
            shot.parent.mkdir()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert [i["alt"] for i in images] == ["Base vs fine-tuned", "Training"]
    assert all(i["ok"] and i["w"] > 0 for i in images), images
    assert [i["w"] for i in images] == [1100, 900]  # bars with cost; loss and accuracy
    assert "exact_match" in summary
    assert "cost / 1,000 requests" in summary
    assert "base (2-shot)" in summary
    assert rows == 1 + report.examples
    assert title.startswith(f"ftsdk compare: {report.tuned.model}")
    # self-contained: the page and its data: images, nothing else
    assert requested[0] == page_path.resolve().as_uri()
    assert all(url.startswith("data:image/png;base64,") for url in requested[1:]), requested
    assert png_size(shot.read_bytes())[0] == 1280
    assert wide[0] <= 1280, f"the page is {wide[0]} px wide"
    assert max(wide[1:], default=0) <= 1, "a table or code block scrolls sideways"


def test_the_page_escapes_what_models_say(report: ComparisonReport, tmp_path: Path) -> None:
    item = report.tuned.items[0].model_copy(update={"answer": "<script>alert(1)</script>"})
    hostile = report.model_copy(
        update={"tuned": report.tuned.model_copy(update={"items": [item, *report.tuned.items[1:]]})}
    )
    text = hostile.to_html(tmp_path / "r.html", plots=False).read_text()
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert not re.findall(r'(?:src|href)="(?!data:)', text)
    assert "Plots left out" in text


def test_training_curves_from_a_jobs_metrics(job: ftsdk.Job, tmp_path: Path) -> None:
    metrics = job.metrics()
    assert {"train_loss", "valid_loss", "train_accuracy"} <= set(metrics[-1].values)
    data = plots.training_curves(job, path=tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes() == data
    assert png_size(data) == (900, 340)  # loss beside accuracy
    only_loss = [m.model_copy(update={"values": {"train_loss": 1.0}}) for m in metrics]
    assert png_size(plots.training_curves(only_loss)) == (600, 340)
    with pytest.raises(InvalidRequest, match="no loss to plot"):
        plots.training_curves([])


def test_comparison_bars_are_a_png(report: ComparisonReport) -> None:
    assert png_size(plots.comparison_bars(report)) == (1100, 360)  # quality, tokens, cost


def test_without_matplotlib_plots_are_a_clear_error(
    report: ComparisonReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an uninstalled package does
    with pytest.raises(ConfigurationError, match=r"pip install 'ftsdk\[plots\]'"):
        plots.comparison_bars(report)
    with pytest.raises(ConfigurationError, match="plots need matplotlib"):
        report.to_html(tmp_path / "r.html", plots=True)
    page = report.to_html(tmp_path / "r.html").read_text()  # plots=None: left out, said so
    assert "Plots left out (install matplotlib: ftsdk[plots])" in page
    assert "<img" not in page


def test_content_parts_show_as_their_text(report: ComparisonReport, tmp_path: Path) -> None:
    parts = [{"type": "text", "text": "Quelle est la date ? "}, {"type": "text", "text": "日本"}]
    item = report.base.items[0].model_copy(
        update={"messages": [{"role": "user", "content": parts}]}
    )
    changed = report.model_copy(
        update={"base": report.base.model_copy(update={"items": [item, *report.base.items[1:]]})}
    )
    text = changed.to_html(tmp_path / "r.html", plots=False).read_text()
    assert "<pre>user: Quelle est la date ? 日本</pre>" in text
    assert "&#x27;type&#x27;" not in text
