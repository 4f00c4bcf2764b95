"""Fuzzing job spec files as ``ftsdk train SPEC`` reads them: random and mutated JSON and YAML.
Every file ends as an ftsdk error or a usage error (exit 1 or 2), never a traceback or a hang,
and the spec file is never changed (sha256 before/after). No spec here can start a job: its
training data does not exist, so nothing reaches the network."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ftsdk.cli import main

pytestmark = pytest.mark.timeout(120)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MISSING = "/nonexistent/ftsdk-fuzz/train.jsonl"
GOOD: dict[str, Any] = {
    "base_model": "gpt-4o-mini-2024-07-18",
    "training_data": MISSING,
    "validation_data": MISSING,
    "method": {"type": "sft", "epochs": 3, "batch_size": 8},
    "suffix": "recipes",
    "seed": 42,
    "metadata": {"team": "a"},
}
SETTINGS = ["-p", "openai", "--set", "api_key=sk-fuzz", "--set", "base_url=http://127.0.0.1:9/v1"]


def train_with(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"job{suffix}"
        path.write_bytes(content)
        before = hashlib.sha256(content).hexdigest()
        result = CliRunner().invoke(main, ["train", str(path), *SETTINGS])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{type(result.exception).__name__}: {result.exception}"
        )
        assert result.exit_code in (1, 2), result.output
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if kind == "flip" and data:
            data[at] = draw(st.sampled_from(b"{}[]:,\"'-# \n\t0aZ\x00\xff"))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 20))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=10))
        else:
            del data[at:]
    return bytes(data)


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
spec_like = st.dictionaries(
    st.sampled_from([*GOOD, "training_file", "method.type", "type", "learning_rate"]),
    values | st.sampled_from(list(GOOD.values())),
    max_size=6,
)


@FUZZ
@given(
    content=st.one_of(
        mutated(json.dumps(GOOD, indent=1).encode()).map(lambda c: (c, ".json")),
        mutated(yaml.safe_dump(GOOD).encode()).map(lambda c: (c, ".yaml")),
        st.binary(max_size=300).map(lambda c: (c, ".yaml")),
        spec_like.map(lambda d: (json.dumps(d).encode(), ".json")),
        spec_like.map(lambda d: (yaml.safe_dump(d).encode(), ".yml")),
    )
)
@example(content=(b'{"base_model": "gpt-4o-mini", "training_data": ', ".json"))
@example(content=(b"- 1\n- 2\n", ".yaml"))
def test_fuzz_spec_files_through_ftsdk_train(content: tuple[bytes, str]) -> None:
    train_with(*content)


@FUZZ
@given(spec=spec_like)
@example(spec={"method": 1})
def test_fuzz_spec_objects_through_ftsdk_train(spec: dict[str, Any]) -> None:
    """Well-formed JSON objects with any fields and values: refused with a clear error."""
    train_with(json.dumps(spec).encode(), ".json")
