"""The docs site reads at 1280 px in Chromium: no code block or table wider than the page
(nothing hidden behind a scrollbar), and no name in a table cut in the middle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

# What a reader at 1280 px cannot see without scrolling sideways, and names broken in two.
PROBLEMS = """() => {
  const found = [];
  const wider = (el) => el.scrollWidth > el.clientWidth + 1;
  for (const code of document.querySelectorAll('.md-content pre > code')) {
    if (wider(code)) found.push('code block: ' + code.innerText.slice(0, 60));
  }
  const tables = '.md-content .md-typeset__scrollwrap, .md-content .md-typeset__table';
  for (const table of document.querySelectorAll(tables)) {
    if (wider(table)) found.push('table: ' + table.innerText.slice(0, 60));
  }
  for (const code of document.querySelectorAll('.md-content table code')) {
    if (!/\\s/.test(code.innerText) && code.getClientRects().length > 1) {
      found.push('name cut in two: ' + code.innerText);
    }
  }
  return found;
}"""


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)
def test_every_page_reads_at_1280_px(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    site = tmp_path / "site"
    mkdocs = Path(sys.executable).with_name("mkdocs")
    built = subprocess.run(
        [str(mkdocs), "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        env=os.environ | {"NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    pages = sorted(p for p in site.rglob("index.html") if "assets" not in p.parts)
    assert len(pages) > 15
    found: dict[str, list[str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for path in pages:
                page.goto(path.as_uri(), wait_until="load")
                problems = page.evaluate(PROBLEMS)
                if problems:
                    found[str(path.relative_to(site))] = problems
        finally:
            browser.close()
    assert not found, found
