"""A malformed job spec file, run through the real ``ftsdk train``: one clear error with
the file and line, every problem at once, never a Python traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FTSDK = Path(sys.executable).with_name("ftsdk")


def train(spec: Path) -> subprocess.CompletedProcess[str]:
    """``ftsdk train SPEC`` as a user runs it; the provider is never reached."""
    env = os.environ | {"FTSDK_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test"}
    return subprocess.run(
        [str(FTSDK), "train", str(spec)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("job.yaml", "base_model: m\ntraining_data: [t.jsonl\n", "job.yaml:3:1: not valid YAML"),
        (
            "job.json",
            '{"base_model": "m",\n "training_data": "t.js',
            "job.json:2:19: not valid JSON",
        ),
        ("job.yaml", "- base_model: m\n", "job.yaml:1: a job spec is a mapping"),
        (
            "job.yaml",
            "base_model: m\ntraining_data: t.jsonl\nmethod: sft\n",
            "job.yaml:3: method: a mapping with its type and hyperparameters, e.g. method: "
            "{type: sft, epochs: 3}; got 'sft'",
        ),
    ],
)
def test_a_malformed_spec_is_one_line_with_file_and_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    spec = tmp_path / name
    spec.write_text(text)
    result = train(spec)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: InvalidRequest: ")
    assert expected in result.stderr


def test_an_unknown_key_is_named_with_the_close_one_and_every_problem_is_listed(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "base_model: m\n"
        "training_file: t.jsonl\n"
        "method:\n"
        "  type: sft\n"
        "  learning_rat: 0.1\n"
        "  epochs: 0\n"
        "epochs: 3\n"
    )
    result = train(spec)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{spec}:2: training_file: unknown field; did you mean training_data?" in result.stderr
    assert f"{spec}:5: method.learning_rat: unknown field; did you mean learning_rate?" in (
        result.stderr
    )
    assert f"{spec}:6: method.epochs: input should be greater than 0" in result.stderr
    assert f"{spec}:7: epochs: unknown field; epochs is a hyperparameter: put it under method" in (
        result.stderr
    )
    assert "training_data: required" not in result.stderr  # the unknown key says it already
    assert "4 problems in the job spec" in result.stderr
