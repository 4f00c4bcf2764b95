"""Find the code points that toktok-rs counts differently from tiktoken; write the guard.

ftsdk counts OpenAI tokens with toktok-rs when it is installed and sends every text holding
one of these code points (or a lone surrogate) to tiktoken instead. The two libraries read
Unicode from tables of different ages: a code point assigned after tiktoken's tables (e.g.
U+088F) is a letter to toktok-rs and not to tiktoken, which changes the count in a few
contexts (a contraction after it: ``X's``). Every code point is tried in each context below,
for each encoding, against tiktoken built offline as ftsdk builds it.

Run it after bumping either library, then commit the file it writes:

    .venv/bin/python scripts/toktok_guard.py

``tests/dataset/test_tokens.py`` runs the same scan over the contexts that differ and fails
when a code point outside the guard counts differently.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import time
from pathlib import Path

from ftsdk.dataset import tokens

OUT = Path(__file__).resolve().parent.parent / "ftsdk" / "dataset" / "toktok_guard.json"
CONTEXTS = [
    "{c}", "a{c}b", "A{c}", "{c}a", " {c}", "1{c}", "{c}\n", ".{c}",
    "{c}'s", "{c}'t x", "{c}{c}'s", "x{c}'re", "{c}'LL", "{c}'ve", " {c}'d",
]  # fmt: skip


def differing(encoding: str, context: str) -> list[int]:
    """Code points whose text ``context`` counts differently in the two libraries."""
    import toktok

    points = [p for p in range(0x110000) if not 0xD800 <= p <= 0xDFFF]  # lone surrogates: guarded
    texts = [context.format(c=chr(point)) for point in points]
    fast = toktok.batch_count(texts, encoding, threads=0)  # unguarded: toktok-rs alone
    reference = tokens.OpenAITokenCounter(encoding, backend="tiktoken").count_texts(texts)
    return [p for p, a, b in zip(points, fast, reference, strict=True) if a != b]


def ranges(points: set[int]) -> list[list[int]]:
    """Sorted code points as [first, last] runs."""
    runs: list[list[int]] = []
    for point in sorted(points):
        if runs and runs[-1][1] == point - 1:
            runs[-1][1] = point
        else:
            runs.append([point, point])
    return runs


def main() -> int:
    found: set[int] = set()
    for encoding in ("o200k_base", "cl100k_base"):
        for context in CONTEXTS:
            start = time.perf_counter()
            points = differing(encoding, context)
            found.update(points)
            took = time.perf_counter() - start
            print(f"{encoding} {context!r}: {len(points)} code points ({took:.1f} s)")
    about = {
        "about": "Code points toktok-rs counts differently from tiktoken in some context; "
        "ftsdk counts a text holding one with tiktoken. Written by scripts/toktok_guard.py.",
        "toktok-rs": importlib.metadata.version("toktok-rs"),
        "tiktoken": importlib.metadata.version("tiktoken"),
        "contexts": CONTEXTS,
    }
    runs = ranges(found)
    head = json.dumps(about, indent=1, ensure_ascii=False)[:-2]  # without the closing brace
    body = ",\n".join(f"  [{first}, {last}]" for first, last in runs)
    OUT.write_text(f'{head},\n "ranges": [\n{body}\n ]\n}}\n', encoding="utf-8")
    print(f"{len(found)} code points in {len(runs)} ranges -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
