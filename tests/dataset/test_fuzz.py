"""No input crashes the validator: any bytes, any JSON, any shape of example."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftsdk.dataset import Dataset, Target
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
