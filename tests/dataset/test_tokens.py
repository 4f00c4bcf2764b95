"""Token counts equal tiktoken's own (run offline on its own encoding files) for OpenAI
models, with the cookbook's chat overhead; and the HF tokenizer's own count for local models."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftsdk.capabilities import DataFormat
from ftsdk.dataset import Dataset, Target
from ftsdk.dataset.problems import Origin
from ftsdk.dataset.sources import Example
from ftsdk.dataset.tokens import (
    _ENCODINGS,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    TOKENS_REPLY_PRIMING,
    HFTokenCounter,
    OpenAITokenCounter,
    Tally,
    _bundled_ranks,
    _guard,
    count_example,
    load_encoding,
)
from ftsdk.dataset.validation import validate_items
from ftsdk.errors import ConfigurationError

SAMPLES = [
    "hello world",
    "",
    "  leading and trailing spaces  \n\n\t",
    "Ça va? Größe, naïve café, 日本語のテキスト, 한국어, العربية, עברית",
    "emoji 😀👍🏽👨‍👩‍👧‍👦 and flags 🇫🇷🇯🇵",
    "digits 1234567890 3.14159 1e10 0x1F 2024-03-07",
    "code: def f(x):\n    return {'a': [1, 2, 3]}  # comment\r\n",
    "<|endoftext|> special-token text counts as plain text <|fim_prefix|>",
    "a" * 5000,
    "word " * 3000,
    "two <|endoftext|> in <|endoftext|>one text",
    "<|endoftext|>",
    "ends with half a separator <|endoftext|",
    "lone surrogate \ud800 in the middle",
    " ",
    "\n\n",
]

# Pieces that make counters disagree: contractions, digits, whitespace runs, the separator,
# code points newer than tiktoken's Unicode tables (U+088F, U+1ACF: letters to toktok-rs).
PIECES = ["'s", "'LL", "'re", "123", "4567", "  ", "\n\n", "\r\n", "\t", " ", "a", "Ab",
          "é", "日本", "😀", "\u088f", "\u1acf", "\U00033479", "<|endoftext|>", "\ud800",
          "."]  # fmt: skip
try:
    import toktok  # noqa: F401  # the tokens extra installs it where it has wheels
except ImportError:  # pragma: no cover - Linux on ARM and others: tiktoken counts there
    HAS_TOKTOK = False
else:
    HAS_TOKTOK = True
needs_toktok = pytest.mark.skipif(not HAS_TOKTOK, reason="toktok-rs has no wheel here")
BACKENDS = [pytest.param("toktok-rs", marks=needs_toktok), "tiktoken"]


def cookbook_num_tokens(encoding: Any, messages: list[dict[str, str]]) -> int:
    """num_tokens_from_messages of the OpenAI cookbook, verbatim but for encode_ordinary
    (the cookbook's encode() refuses text that spells a special token)."""
    num_tokens = 0
    for message in messages:
        num_tokens += 3
        for key, value in message.items():
            num_tokens += len(encoding.encode_ordinary(value))
            if key == "name":
                num_tokens += 1
    num_tokens += 3
    return num_tokens


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_text_counts_equal_tiktoken(tiktoken_offline: Any, name: str, backend: str) -> None:
    reference = tiktoken_offline.get_encoding(name)
    counter = OpenAITokenCounter(name, backend=backend)
    assert counter.backend == backend
    for text in SAMPLES:
        assert counter.count_text(text) == len(reference.encode_ordinary(text)), text[:40]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400) | st.builds("".join, st.lists(st.sampled_from(PIECES))))
def test_any_text_counts_equal_tiktoken(tiktoken_offline: Any, backend: str, text: str) -> None:
    for name in ("o200k_base", "cl100k_base"):
        expected = len(tiktoken_offline.get_encoding(name).encode_ordinary(text))
        assert OpenAITokenCounter(name, backend=backend).count_text(text) == expected


def test_chat_overhead_is_the_cookbooks(tiktoken_offline: Any) -> None:
    assert (TOKENS_PER_MESSAGE, TOKENS_PER_NAME, TOKENS_REPLY_PRIMING) == (3, 1, 3)
    counter = OpenAITokenCounter("o200k_base")
    encoding = tiktoken_offline.get_encoding("o200k_base")
    messages = [
        {"role": "system", "content": "You convert ISO dates to words."},
        {"role": "user", "name": "alice", "content": "convert 2024-03-07 to words"},
        {"role": "assistant", "content": "March 7, 2024"},
    ]
    expected = cookbook_num_tokens(encoding, messages)
    assert counter.count_messages(messages) == expected
    # by hand: 3 per message, the tokens of every value, 1 for the name, 3 to prime the reply
    by_hand = 3 * 3 + 3 + 1
    by_hand += sum(len(encoding.encode_ordinary(v)) for m in messages for v in m.values())
    assert expected == by_hand
    # a weight is not text: it adds nothing
    weighted = [*messages[:2], {**messages[2], "weight": 1}]
    assert counter.count_messages(weighted) == expected


@settings(max_examples=100, deadline=None)
@given(
    messages=st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["system", "user", "assistant"]), "content": st.text()},
            optional={"name": st.text(min_size=1, max_size=10)},
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_chat_counts_equal_the_cookbook_with_tiktoken(
    tiktoken_offline: Any, messages: list[dict[str, str]]
) -> None:
    for name in ("o200k_base", "cl100k_base"):
        expected = cookbook_num_tokens(tiktoken_offline.get_encoding(name), messages)
        assert OpenAITokenCounter(name).count_messages(messages) == expected


def test_report_totals_match_tiktoken(tiktoken_offline: Any, tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": f"question {i} 😀"},
                      {"role": "assistant", "content": f"answer {i} " * i}]}
        for i in range(1, 13)
    ]  # fmt: skip
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for model, name in (("gpt-4o-mini", "o200k_base"), ("gpt-3.5-turbo", "cl100k_base")):
        report = Dataset.load(path).validate(("openai", model))
        encoding = tiktoken_offline.get_encoding(name)
        counts = [cookbook_num_tokens(encoding, r["messages"]) for r in rows]
        assert report.stats.total == sum(counts)
        assert (report.stats.min, report.stats.max) == (min(counts), max(counts))


def test_local_model_counts_with_its_own_tokenizer(tiny_tokenizer: Path) -> None:
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(tiny_tokenizer)
    counter = HFTokenCounter(str(tiny_tokenizer))
    messages = [
        {"role": "user", "content": "convert 2024-03-07 to words"},
        {"role": "assistant", "content": "March 7, 2024"},
    ]
    expected = len(reference.apply_chat_template(messages, tokenize=True, return_dict=False))
    assert counter.count_messages(messages) == expected
    assert count_example(counter, {"messages": messages}, DataFormat.CHAT) == expected
    text = "convert 2024-03-07 to words"
    assert counter.count_text(text) == len(reference(text, add_special_tokens=False)["input_ids"])


def test_local_target_truncates_instead_of_refusing(tiny_tokenizer: Path, tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    rows = [{"text": "convert 2024-03-07 to words"}, {"text": "March 7, 2024 " * 40}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = Dataset.load(path).validate(("trl", str(tiny_tokenizer)))
    assert report.ok
    assert report.stats.limit == 64  # the tokenizer's model_max_length
    [warning] = [p for p in report.warnings if p.kind == "truncated"]
    assert str(warning).startswith("train.jsonl:2: ")
    assert report.cost.usd is None  # local: no price


def test_a_missing_local_tokenizer_is_explained(tmp_path: Path) -> None:
    from ftsdk.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="no tokenizer for"):
        HFTokenCounter(str(tmp_path / "not-a-model"))
    report = Dataset.from_records([{"text": "a"}]).validate(
        Target.for_model("trl", str(tmp_path / "not-a-model"))
    )
    assert "tokens_unknown" in [p.kind for p in report.warnings]
    assert report.ok  # the format is still checked


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_the_offline_encoding_is_tiktokens_own(tiktoken_offline: Any, name: str) -> None:
    reference = tiktoken_offline.get_encoding(name)  # built by tiktoken from its own files
    ours = load_encoding(name)
    assert ours._pat_str == reference._pat_str
    assert ours._special_tokens == reference._special_tokens
    assert ours.max_token_value == reference.max_token_value
    sha256 = _ENCODINGS[name][2]
    # the bundled file, read as numbered lines, holds exactly tiktoken's ranks
    assert _bundled_ranks(name, sha256) == reference._mergeable_ranks
    assert load_encoding(name) is ours  # loaded once per process


def test_a_bundled_file_that_is_not_tiktokens_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="sha256 differs"):
        _bundled_ranks("o200k_base", "0" * 64)
    with pytest.raises(ConfigurationError, match="unknown OpenAI encoding 'p50k_base'"):
        load_encoding("p50k_base")


def test_counting_never_imports_bpe_openai_nor_opens_a_connection(tmp_path: Path) -> None:
    code = (
        "import socket, sys\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('no network in this test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from ftsdk.dataset.tokens import OpenAITokenCounter\n"
        "counter = OpenAITokenCounter('o200k_base')\n"
        "print(counter.count_text('hello world'), counter.count_texts(['hello', 'world']))\n"
        "print('bpe_openai' in sys.modules)\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "TIKTOKEN_CACHE_DIR": str(tmp_path),
        "PYTHONPATH": ":".join(sys.path),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["2 [1, 1]", "False"]
    assert not list(tmp_path.iterdir())  # tiktoken's download cache stays empty


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_batched_counts_equal_one_by_one(tiktoken_offline: Any, name: str, backend: str) -> None:
    reference = tiktoken_offline.get_encoding(name)
    counter = OpenAITokenCounter(name, backend=backend)
    expected = [len(reference.encode_ordinary(text)) for text in SAMPLES]
    assert counter.count_texts(SAMPLES) == expected
    plain = [text for text in SAMPLES if "<|endoftext|>" not in text and "\ud800" not in text]
    assert counter.count_texts(plain) == [len(reference.encode_ordinary(t)) for t in plain]
    assert counter.count_texts([]) == []
    assert counter.count_texts([""]) == [0]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(max_size=60) | st.sampled_from(SAMPLES[:8] + PIECES), max_size=12))
def test_any_batch_counts_equal_tiktoken(
    tiktoken_offline: Any, backend: str, texts: list[str]
) -> None:
    for name in ("o200k_base", "cl100k_base"):
        reference = tiktoken_offline.get_encoding(name)
        assert OpenAITokenCounter(name, backend=backend).count_texts(texts) == [
            len(reference.encode_ordinary(text)) for text in texts
        ]


def chat_rows(n: int) -> list[dict[str, Any]]:
    """Chats that repeat a system prompt, with odd texts now and then."""
    odd = ["<|endoftext|> spelled out", "surrogate \ud800 here", "", "日本語 😀", "\u088f's"]
    return [
        {
            "messages": [
                {"role": "system", "content": "You answer in one line."},
                {"role": "user", "name": "ann", "content": f"question {i} {odd[i % 5]}"},
                {"role": "assistant", "content": f"answer {i} " * (i % 7), "weight": 1},
            ]
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_tally_hands_every_count_back_in_order(tiktoken_offline: Any, backend: str) -> None:
    counter = OpenAITokenCounter("o200k_base", backend=backend)
    reference = tiktoken_offline.get_encoding("o200k_base")
    rows = chat_rows(300)
    seen: list[tuple[int, int]] = []

    def done(tags: list[int], counts: list[int]) -> None:
        seen.extend(zip(tags, counts, strict=True))

    with Tally(counter, done, batch_chars=200, threads=2) as tally:  # many small batches
        for i, row in enumerate(rows):
            tally.add(i, row, DataFormat.CHAT)
        tally.close()
    expected = [cookbook_num_tokens(reference, row["messages"][:2]) for row in rows]
    assistant = [len(reference.encode_ordinary(row["messages"][2]["content"])) for row in rows]
    assert [tag for tag, _ in seen] == list(range(300))
    # the cookbook's count of the first two messages, plus the answer's 3 + role + content
    role = len(reference.encode_ordinary("assistant"))
    assert [tokens for _, tokens in seen] == [
        e + TOKENS_PER_MESSAGE + role + a for e, a in zip(expected, assistant, strict=True)
    ]
    assert [tokens for _, tokens in seen] == [
        count_example(counter, row, DataFormat.CHAT) for row in rows
    ]


def test_a_failing_reader_stops_the_counting_threads() -> None:
    def items() -> Iterator[Example]:
        for i, row in enumerate(chat_rows(2000)):
            yield Example(row, Origin("train.jsonl", i + 1))
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        validate_items(items(), target=Target.for_model("openai", "gpt-4o-mini"))
    assert not [t for t in threading.enumerate() if t.name.startswith("ftsdk-tokens")]


def test_duplicates_across_sources_name_both_places() -> None:
    row = chat_rows(1)[0]
    items = [
        Example(row, Origin("a.jsonl", 1)),
        Example(chat_rows(2)[1], Origin("a.jsonl", 2)),
        Example(dict(row), Origin("<records>", row=0)),
    ]
    report = validate_items(items, target=Target.for_model("openai", "gpt-4o-mini"))
    assert [str(p) for p in report.errors if p.kind == "duplicate"] == [
        "<records>[0]: the same example as a.jsonl:1"
    ]


@needs_toktok
@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_the_guard_holds_every_code_point_toktok_reads_differently(
    tiktoken_offline: Any, name: str
) -> None:
    """Every code point, after a letter, before a digit, before a contraction: where toktok-rs
    alone counts differently from tiktoken, the code point is in toktok_guard.json (written by
    scripts/toktok_guard.py for the pinned versions; a bump that changes this fails here)."""
    import toktok

    guard = _guard()
    reference = OpenAITokenCounter(name, backend="tiktoken")
    points = [p for p in range(0x110000) if not 0xD800 <= p <= 0xDFFF]
    seen = 0
    for context in ("{c}'s", "a{c}1"):
        texts = [context.format(c=chr(point)) for point in points]
        fast = toktok.batch_count(texts, name, threads=0)
        slow = reference.count_texts(texts)
        differing = [p for p, a, b in zip(points, fast, slow, strict=True) if a != b]
        assert not [hex(p) for p in differing if not guard.search(chr(p))], context
        seen += len(differing)
    assert seen  # the guard is needed: toktok-rs's tables are newer than tiktoken's


@needs_toktok
def test_a_guarded_text_is_counted_by_tiktoken(tiktoken_offline: Any) -> None:
    import toktok

    text = "\u088f's and more"  # U+088F: a letter to toktok-rs, not to tiktoken
    expected = len(tiktoken_offline.get_encoding("o200k_base").encode_ordinary(text))
    assert toktok.batch_count([text], "o200k_base")[0] != expected
    counter = OpenAITokenCounter("o200k_base", backend="toktok-rs")
    assert counter.count_text(text) == expected
    assert counter.count_texts(["plain", text, "also plain"])[1] == expected


@needs_toktok
def test_the_counter_is_chosen_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OpenAITokenCounter("o200k_base").backend == "toktok-rs"  # installed here
    monkeypatch.setenv("FTSDK_TOKEN_COUNTER", "tiktoken")
    assert OpenAITokenCounter("o200k_base").backend == "tiktoken"
    monkeypatch.setenv("FTSDK_TOKEN_COUNTER", "fastest")
    with pytest.raises(ConfigurationError, match="FTSDK_TOKEN_COUNTER='fastest'"):
        OpenAITokenCounter("o200k_base")
    with pytest.raises(ConfigurationError, match="unknown OpenAI encoding 'p50k_base'"):
        OpenAITokenCounter("p50k_base", backend="toktok-rs")
