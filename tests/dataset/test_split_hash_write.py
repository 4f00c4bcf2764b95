"""Split deterministically, hash stably, write atomically, never touch the source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftsdk.dataset import Dataset
from ftsdk.errors import InvalidDataset, InvalidRequest


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    rows = [{"prompt": f"q{i}", "completion": f"a{i}"} for i in range(100)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def prompts(dataset: Dataset) -> list[str]:
    return [row["prompt"] for row in dataset]


def test_split_is_deterministic_by_seed(source: Path) -> None:
    train, held = Dataset.load(source).split(0.2, seed=7)
    again_train, again_held = Dataset.load(source).split(0.2, seed=7)
    assert prompts(held) == prompts(again_held)
    assert prompts(train) == prompts(again_train)
    assert len(prompts(held)) == 20
    assert len(prompts(train)) == 80
    assert sorted(prompts(train) + prompts(held)) == sorted(prompts(Dataset.load(source)))
    _, other = Dataset.load(source).split(0.2, seed=8)
    assert prompts(other) != prompts(held)
    order = prompts(Dataset.load(source))
    assert prompts(held) == [p for p in order if p in set(prompts(held))]  # source order kept


def test_split_is_the_same_in_another_process(source: Path) -> None:
    code = (
        "import sys; from ftsdk.dataset import Dataset\n"
        "_, held = Dataset.load(sys.argv[1]).split(0.1, seed=3)\n"
        "print(','.join(r['prompt'] for r in held))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code, str(source)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1


def test_split_sizes_are_checked(source: Path) -> None:
    with pytest.raises(InvalidRequest, match="leaves no training data"):
        Dataset.load(source).split(100)
    with pytest.raises(InvalidRequest, match="fraction"):
        Dataset.load(source).split(-0.5)
    train, held = Dataset.load(source).split(5, seed=0)
    assert (len(prompts(train)), len(prompts(held))) == (95, 5)


def test_content_hash_is_stable_and_is_the_uploaded_bytes(source: Path, tmp_path: Path) -> None:
    import hashlib

    dataset = Dataset.load(source)
    assert dataset.content_hash() == hashlib.sha256(source.read_bytes()).hexdigest()
    records = Dataset.from_records(list(Dataset.load(source)))
    written = records.write(tmp_path / "copy.jsonl")
    assert records.content_hash() == hashlib.sha256(written.read_bytes()).hexdigest()
    assert records.content_hash() == Dataset.load(written).content_hash()
    code = (
        "import sys; from ftsdk.dataset import Dataset\n"
        "print(Dataset.from_records([{'text': 'é'}, {'text': 'b'}]).content_hash())"
    )
    hashes = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(hashes) == 1


def test_write_converts_atomically_and_never_touches_the_source(
    source: Path, tmp_path: Path
) -> None:
    before = (source.read_bytes(), source.stat().st_mtime_ns)
    dataset = Dataset.load(source)
    dataset.validate(("openai", "babbage-002"))
    out = dataset.write(tmp_path / "chat.jsonl", format="chat")
    first = json.loads(out.read_text().splitlines()[0])
    assert first == {"messages": [{"role": "user", "content": "q0"},
                                  {"role": "assistant", "content": "a0"}]}  # fmt: skip
    with pytest.raises(InvalidRequest, match="refusing to overwrite the source"):
        dataset.write(source, format="chat")
    assert (source.read_bytes(), source.stat().st_mtime_ns) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    multi_turn = {"messages": [{"role": "user", "content": "a"},
                               {"role": "assistant", "content": "b"},
                               {"role": "user", "content": "c"},
                               {"role": "assistant", "content": "d"}]}  # fmt: skip
    single = {"messages": multi_turn["messages"][:2]}
    dataset = Dataset.from_records([single, multi_turn])
    with pytest.raises(InvalidDataset, match=r"<records>\[1\]: messages: only a single user turn"):
        dataset.write(out, format="prompt_completion")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_upload_path_is_the_jsonl_file_only(source: Path, tmp_path: Path) -> None:
    assert Dataset.load(source).path == source
    with pytest.raises(InvalidRequest, match="write it first"):
        _ = Dataset.from_records([{"text": "a"}]).path
    csv = tmp_path / "d.csv"
    csv.write_text("text\na\n")
    with pytest.raises(InvalidRequest, match=r"d\.csv is not a JSONL file"):
        _ = Dataset.load(csv).path
