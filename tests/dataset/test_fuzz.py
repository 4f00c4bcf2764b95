"""No input crashes the validator: any bytes, any JSON, any shape of example."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ftsdk.dataset import Dataset, Problem, Target
from ftsdk.dataset.sources import Example, read_jsonl
from ftsdk.errors import InvalidDataset

TARGET = Target.for_model("openai", "gpt-4o-mini")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    ["messages", "role", "content", "weight", "tool_calls", "tool_call_id", "name", "prompt",
     "completion", "text", "input", "preferred_output", "non_preferred_output", "chosen",
     "rejected", "tools", "function", "arguments", "id", "type"]
)  # fmt: skip
shaped = st.recursive(
    st.none()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from(["user", "assistant", "tool", "system"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)


def check_file(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.jsonl"
        path.write_bytes(content)
        report = Dataset.load(path).validate(TARGET)
        for problem in report:
            assert str(problem)
        json.dumps(report.to_dict())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_any_bytes(lines: list[bytes]) -> None:
    check_file(b"\n".join(lines))


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=6))
def test_any_json(values: list[Any]) -> None:
    check_file("\n".join(json.dumps(v) for v in values).encode())


@settings(max_examples=500, deadline=None)
@given(st.lists(st.dictionaries(keys, shaped, max_size=5), max_size=6))
def test_any_shape_of_example(examples: list[dict[str, Any]]) -> None:
    report = Dataset.from_records(examples).validate(TARGET)
    assert report.examples == len(examples)
    json.dumps(report.to_dict())
    for fmt in ("chat", "prompt_completion", "text", "preference"):
        # only a clear InvalidDataset may stop a conversion
        with contextlib.suppress(InvalidDataset):
            list(Dataset.from_records(examples).convert(fmt))


def _raw_object(pairs: list[tuple[str, Any]]) -> str:
    """An object written by hand: keys may repeat, as json.dumps never writes them."""
    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"


tricky_text = st.text(
    alphabet=st.sampled_from(['"', "\\", "u", "d", "8", "0", "a", "é", "\x01", " "])
)
json_lines = st.one_of(
    json_values.map(json.dumps),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False, indent=1).replace("\n", " ")),
    st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), json_values), max_size=5).map(_raw_object),
    tricky_text.map(lambda s: '{"a": "' + s + '"}'),
    st.text(max_size=30),
)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a) == json.dumps(b)  # NaN == NaN here; key order counts


@settings(max_examples=400, deadline=None)
@given(st.lists(json_lines, min_size=1, max_size=6))
@example(['{"a": "\\ud800"}', '{"a": 1, "b": 2, "a": 3}', '{"a": NaN} \x0c', "\ufeff{}"])
def test_jsonl_reads_exactly_what_json_reads(lines: list[str]) -> None:
    """Each line becomes the example json.loads gives, or a problem where json refuses it
    (whitespace after the object, any that str.isspace knows, is allowed)."""
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lines.jsonl"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
        read = {item.origin.line: item for item in read_jsonl(path) if item.origin}
    for number, line in enumerate(lines, start=1):
        item = read.get(number)
        if not line.strip():  # blank lines are skipped
            assert item is None
            continue
        try:
            expected = json.loads(line.rstrip())
        except ValueError:
            expected = ValueError
        if not isinstance(expected, dict):
            assert isinstance(item, Problem), (line, item)
        else:
            assert isinstance(item, Example), (line, item)
            assert _same(item.data, expected), (line, item.data, expected)
