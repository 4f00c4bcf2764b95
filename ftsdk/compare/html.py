"""The comparison as one self-contained HTML page: inline CSS, plots as base64 PNG ``<img>``,
no script and no external resource, so it opens anywhere, offline, and can be mailed."""

from __future__ import annotations

import base64
import json
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftsdk.compare.report import ComparisonReport, ItemResult

__all__ = ["render"]

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #d0d0d7; padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: #f2f2f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.good { background: #e3f5e6; } td.bad { background: #fbe5e5; }
.muted { color: #6e6e73; font-size: 0.9em; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word;
      font: 12px ui-monospace, monospace; }
pre.shots { background: #f7f7fa; border: 1px solid #e5e5ea; padding: 8px; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #e5e5ea; }
"""


def _cell(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{escape(text)}</td>"


def _summary(report: ComparisonReport) -> str:
    head = "".join(
        f"<th>{escape(h)}</th>"
        for h in ("", report.base.label, report.tuned.label, "tuned \u2212 base")
    )
    body = "".join(
        "<tr>" + _cell(name) + "".join(_cell(v, "num") for v in values) + "</tr>"
        for name, *values in report.rows()
    )
    return f'<table id="summary"><tr>{head}</tr>{body}</table>'


def _turns(messages: list[dict[str, Any]]) -> str:
    """``role: content`` lines, content parts joined."""
    from ftsdk.compare.run import _text

    turns = []
    for m in messages:
        content = m.get("content", "")
        shown = _text(content) if isinstance(content, list) else None  # content parts
        turns.append(f"{m.get('role', '?')}: {content if shown is None else shown}")
    return "\n".join(turns)


def _prompt(item: ItemResult) -> str:
    return _turns(item.messages)


def shown_answer(answer: str, completion_tokens: int) -> str:
    """An answer as the report shows it: an empty or blank one says what the model wrote
    (its tokens, its whitespace made visible) rather than showing an empty cell.

    >>> shown_answer("", 14)
    '(empty answer: 14 completion tokens)'
    >>> shown_answer("\\n\\n ", 3)
    "(blank answer: only whitespace, '\\\\n\\\\n ', in 3 completion tokens)"
    """
    if answer.strip():
        return answer
    if not answer:
        return f"(empty answer: {completion_tokens} completion tokens)"
    return f"(blank answer: only whitespace, {answer!r}, in {completion_tokens} completion tokens)"


def _answer(item: ItemResult) -> str:
    if item.error is not None:
        return f'<td class="bad"><pre>error: {escape(item.error)}</pre></td>'
    first = next(iter(item.scores.values()), None)
    cls = "" if first is None else (" class='good'" if first >= 0.999 else " class='bad'")
    text = item.answer or ""
    shown = shown_answer(text, item.completion_tokens)
    pre = "<pre>" if shown is text else '<pre class="muted">'
    return f"<td{cls}>{pre}{escape(shown)}</pre></td>"


def _scores(item: ItemResult, scorers: list[str]) -> str:
    parts = []
    for name in scorers:
        if name in item.scores:
            parts.append(f"{name} {item.scores[name]:.2f}")
        elif name in item.score_errors:
            parts.append(f"{name}: {item.score_errors[name]}")
    parts.append(f"{item.prompt_tokens} + {item.completion_tokens} tokens")
    return f'<td class="muted">{escape(chr(10).join(parts)).replace(chr(10), "<br>")}</td>'


def _items(report: ComparisonReport) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("#", "input", "reference", "base answer", "base scores",
                  "fine-tuned answer", "fine-tuned scores")
    )  # fmt: skip
    rows = []
    for base, tuned in zip(report.base.items, report.tuned.items, strict=True):
        rows.append(
            "<tr>"
            f'<td class="num" title="{escape(base.origin)}">{base.index + 1}</td>'
            f"<td><pre>{escape(_prompt(base))}</pre></td>"
            f"<td><pre>{escape(base.reference)}</pre></td>"
            f"{_answer(base)}{_scores(base, report.scorers)}"
            f"{_answer(tuned)}{_scores(tuned, report.scorers)}"
            "</tr>"
        )
    return f'<table id="items"><tr>{head}</tr>{"".join(rows)}</table>'


def _price(side: Any, hint: str) -> str:
    if side.price is None:
        return f"{side.label}: no recorded price (cost n/a); {hint}"
    p = side.price
    text = f"{side.label}: ${p.input:g} / ${p.output:g} per 1M input / output tokens ({p.source})"
    return text + (f"; to count it, {hint}" if p.input == p.output == 0 else "")


def _few_shot(report: ComparisonReport) -> str:
    """The few-shot turns each side was given before every eval item, as sent."""
    parts = []
    for side in (report.base, report.tuned):
        if side.few_shot_messages:
            parts.append(
                f"<p>{escape(side.label)}: these {len(side.few_shot_messages)} turns came "
                "before every example's own messages (after its system message):</p>"
                f'<pre class="shots">{escape(_turns(side.few_shot_messages))}</pre>'
            )
    return "<h2>Few-shot prompt</h2>" + "".join(parts) if parts else ""


def render(
    report: ComparisonReport, figures: list[tuple[str, bytes]], *, job_label: str | None = None
) -> str:
    """The report as an HTML document; ``figures`` are ``(caption, PNG bytes)``."""
    images = "".join(
        f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}"><figcaption class="muted">'
        f"{escape(caption)}</figcaption></figure>"
        for caption, png in figures
    )
    if not figures:
        images = '<p class="muted">Plots left out (install matplotlib: ftsdk[plots]).</p>'
    b, t = report.base, report.tuned
    judge = ""
    if report.judge_tokens:
        judge = f"<p class='muted'>Judges used {escape(json.dumps(report.judge_tokens))}.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ftsdk compare: {escape(t.model)} vs {escape(b.model)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Did the fine-tune beat the base model?</h1>
<p>{report.examples} examples from <b>{escape(report.eval_set)}</b>,
{escape(report.created_at.strftime("%Y-%m-%d %H:%M UTC"))}, {report.seconds:.1f} s.
{escape(job_label or "")}</p>
<ul>
<li>base: <code>{escape(b.model)}</code> ({escape(b.provider)}{
        f", {b.few_shot}-shot" if b.few_shot else ""
    })</li>
<li>fine-tuned: <code>{escape(t.model)}</code> ({escape(t.provider)}{
        f", {t.few_shot}-shot" if t.few_shot else ""
    })</li>
</ul>
<h2>Summary</h2>
{_summary(report)}
<p class="muted">{escape(_price(b, report.price_hint))}<br>{
        escape(_price(t, report.price_hint))
    }<br>{escape(report.price_note)}</p>
{judge}
{_few_shot(report)}
<h2>Plots</h2>
{images}
<h2>Every example</h2>
{_items(report)}
</body></html>
"""
