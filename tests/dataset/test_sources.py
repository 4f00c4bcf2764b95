"""Every source gives the same examples, each with the origin a person can open."""

from __future__ import annotations

import json
from pathlib import Path

from ftsdk.dataset import Dataset

RECIPE_TEMPLATE = {
    "messages": [
        {"role": "system", "content": "You are a helpful recipe assistant."},
        {"role": "user", "content": "Ingredients for {title}?"},
        {"role": "assistant", "content": "{ingredients}"},
    ]
}


def test_csv_template_builds_messages(tmp_path: Path) -> None:
    path = tmp_path / "recipes.csv"
    path.write_text('title,ingredients\nPancakes,"flour, eggs, milk"\nToast,bread\n')
    rows = list(Dataset.from_csv(path, template=RECIPE_TEMPLATE))
    assert rows[0]["messages"][1]["content"] == "Ingredients for Pancakes?"
    assert rows[0]["messages"][2]["content"] == "flour, eggs, milk"
    assert [e.origin.line for e in Dataset.from_csv(path, template=RECIPE_TEMPLATE).examples()] == [
        2,
        3,
    ]


def test_csv_messages_column_holds_json(tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    path.write_text('messages\n"' + json.dumps(messages).replace('"', '""') + '"\n"[{""role"": "\n')
    report = Dataset.load(path).validate()
    assert report.format == "chat"
    [problem] = report.errors
    assert str(problem).startswith("chat.csv:3: messages: not valid JSON")


def test_json_array_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text(
        '[\n  {"prompt": "a", "completion": "b"},\n  {"prompt": "c",\n   "completion": ""},\n'
        '  {"prompt": "e", "completion": "f"}\n]\n'
    )
    report = Dataset.load(path).validate()
    assert [str(p) for p in report.errors] == ["train.json:3: completion: empty content"]
    assert [e.origin.line for e in Dataset.load(path).examples()] == [2, 3, 5]
    path.write_text('[{"prompt": "a", "completion": "b"},\n {"prompt": "c", "compl')
    kinds = [(p.kind, str(p.origin)) for p in Dataset.load(path).validate().errors]
    assert kinds == [("bad_json", "train.json:2")]


def test_parquet_rows(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"q": ["2+2", "3+3"], "a": ["4", ""]}), path)
    dataset = Dataset.load(path, columns={"prompt": "q", "completion": "a"})
    assert next(iter(dataset)) == {"prompt": "2+2", "completion": "4"}
    assert [str(p) for p in dataset.validate().errors] == [
        "train.parquet[1]: completion: empty content"
    ]


def test_hugging_face_dataset(tmp_path: Path) -> None:
    import datasets

    hf = datasets.Dataset.from_dict({"text": ["one", "two", " "]})
    report = Dataset.from_hf(hf).validate()
    assert [str(p) for p in report.errors] == ["<datasets.Dataset>[2]: text: empty content"]


def test_python_records_and_generators() -> None:
    rows = ({"text": t} for t in ["a", "b"])
    dataset = Dataset.from_records(rows)
    assert list(dataset) == list(dataset) == [{"text": "a"}, {"text": "b"}]
    report = Dataset.from_records([{"text": "a"}, "not a mapping"]).validate()  # type: ignore[list-item]
    assert [str(p) for p in report.errors] == ["<records>[1]: a str where a mapping was expected"]


def test_load_refuses_unknown_suffixes(tmp_path: Path) -> None:
    import pytest

    from ftsdk.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match=r"unknown file type '\.txt'"):
        Dataset.load(tmp_path / "train.txt")
