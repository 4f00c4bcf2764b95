"""Fuzzing data files as a user hands them over: random and mutated JSONL, JSON, CSV, TSV and
Parquet bytes through ``Dataset`` (check, split, write) and ``ftsdk data check``. Every input
ends as a report, an ftsdk error or a usage error: never a traceback, never a hang (each test
runs under a timeout), and the source file's bytes are never changed (sha256 before/after)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ftsdk.cli import main
from ftsdk.dataset import Dataset, Target
from ftsdk.errors import FtsdkError
from ftsdk.testing.data import date_to_words_examples

pytestmark = pytest.mark.timeout(120)  # a hang is a failure, not a stuck CI job

OPENAI = Target.for_model("openai", "gpt-4o-mini")
SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- a corpus of good files, and ways to break them --------------------------------------

ROWS = date_to_words_examples(6)


def _jsonl() -> bytes:
    return b"".join((json.dumps(row) + "\n").encode() for row in ROWS)


def _json() -> bytes:
    return json.dumps(ROWS, indent=1).encode()


def _csv(delimiter: str = ",") -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(["prompt", "completion", "messages"])
    for row in ROWS:
        writer.writerow([row["messages"][1]["content"], row["messages"][2]["content"], ""])
    return out.getvalue().encode()


def _parquet() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "prompt": [row["messages"][1]["content"] for row in ROWS],
            "completion": [row["messages"][2]["content"] for row in ROWS],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


CORPUS: dict[str, Callable[[], bytes]] = {
    ".jsonl": _jsonl,
    ".json": _json,
    ".csv": _csv,
    ".tsv": lambda: _csv("\t"),
    ".parquet": _parquet,
}

NASTY = [
    b"7" * 5000,  # an integer longer than Python reads
    b'"\\ud83d"',  # a lone surrogate escape
    b"\x00",
    b"\xff\xfe",
    b"\n",
    b"\r",
    b'"',
    b"{",
    b"[" * 3000,  # nested deeper than the recursion limit
    b"NaN",
    b'{"messages": [{"role": "assistant", "tool_calls": [{}]}]}',
    b'{"type": "image_url", "image_url": {"url": "x"}}',
    b"\xef\xbb\xbf",
]


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with a few edits: bytes flipped, cut, inserted, lines repeated or dropped."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "nasty", "line", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif kind == "nasty":
            data[at:at] = draw(st.sampled_from(NASTY))
        elif kind == "line":
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i] if draw(st.booleans()) else b"")
            data = bytearray(b"\n".join(lines))
        else:
            del data[at:]
    return bytes(data)


# -- what is done to each file ----------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def use_every_way(path: Path) -> None:
    """Check, split, write and ``ftsdk data check``; only ftsdk's own errors may stop one."""
    before = _sha(path)
    dataset = Dataset.load(path)
    report = dataset.validate(OPENAI)
    for problem in report:
        assert str(problem)
    json.dumps(report.to_dict())
    out = path.with_name("out.jsonl")
    try:
        train, held_out = dataset.split(0.5, seed=1)
        train.write(out)
        held_out.validate()
    except FtsdkError:
        pass  # refused, with its reason: fine
    with contextlib.suppress(FtsdkError):
        dataset.write(out, format="chat")
    result = CliRunner().invoke(main, ["data", "check", str(path), "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 2), result.output
    assert _sha(path) == before, "the source file changed"


def run_on(suffix: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(content)
        use_every_way(path)


@FUZZ
@given(suffix=st.sampled_from(SUFFIXES), content=st.binary(max_size=600))
@example(suffix=".parquet", content=b"PAR1" + b"\x00" * 20 + b"PAR1")
@example(suffix=".jsonl", content=b'{"text": ' + b"9" * 4400 + b"}\n")
def test_fuzz_random_bytes_in_any_data_file(suffix: str, content: bytes) -> None:
    run_on(suffix, content)


@FUZZ
@given(data=st.data(), suffix=st.sampled_from(SUFFIXES))
def test_fuzz_mutated_good_data_files(data: st.DataObject, suffix: str) -> None:
    run_on(suffix, data.draw(mutated(CORPUS[suffix]())))


def test_fuzz_found_a_damaged_parquet_page_and_a_header_that_is_not_utf8() -> None:
    """What the fuzzing found, kept: a page that pyarrow cannot read raised OSError from the
    middle of the file, and a CSV header that is not UTF-8 broke ``--json``."""
    damaged = bytearray(_parquet())
    damaged[4:12] = b"\xff" * 8  # the first page header
    run_on(".parquet", bytes(damaged))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bad.parquet"
        path.write_bytes(bytes(damaged))
        [problem] = Dataset.load(path).validate().errors
        assert problem.kind == "unreadable"
        assert str(problem).startswith("bad.parquet[0]: cannot read bad.parquet from here on: ")
    run_on(".csv", b"prompt,compl\xe9tion\nq,a\n")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(FUZZ, max_examples=60)
@given(
    rows=st.lists(
        st.dictionaries(
            st.sampled_from(["prompt", "completion", "messages", "text", "chosen", "x"]),
            json_values,
            max_size=4,
        ),
        max_size=5,
    )
)
def test_fuzz_parquet_of_any_columns(rows: list[dict[str, Any]]) -> None:
    """Parquet written by pyarrow from random rows (types mixed as JSON text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = sorted({key for row in rows for key in row})
    table = pa.table({key: [json.dumps(row.get(key)) for row in rows] for key in columns})
    out = io.BytesIO()
    pq.write_table(table, out)
    run_on(".parquet", out.getvalue())


def test_fuzz_local_template_on_mutated_chats(concatenating_tokenizer: Path) -> None:
    """A local target renders every example with its chat template: mutated chats (tool
    calls, images, nulls) are problems, never jinja2's or Python's exceptions."""
    target = Target.for_model("trl", str(concatenating_tokenizer))

    @FUZZ
    @given(content=mutated(_jsonl()))
    def check(content: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "fuzz.jsonl"
            path.write_bytes(content)
            before = _sha(path)
            report = Dataset.load(path).validate(target)
            json.dumps(report.to_dict())
            assert _sha(path) == before

    check()
