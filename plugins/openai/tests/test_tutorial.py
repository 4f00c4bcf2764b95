"""The lesson's OpenAI tutorial as a test: recipes in a CSV → chat messages → split → check
→ upload both files → a job with a suffix → wait with events → the fine-tuned model → chat
on it and on the base model. Then the same for DPO, from TRL-style preference pairs."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest

import ftsdk
from ftsdk.dataset import Dataset
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"
SYSTEM = "You are a helpful recipe assistant. You list the ingredients of a dish."


def recipes_csv(path: Path, n: int = 60) -> Path:
    dishes = ["soup", "stew", "pie", "salad", "curry", "risotto"]
    greens = [
        "leek",
        "kale",
        "pea",
        "bean",
        "onion",
        "carrot",
        "celery",
        "fennel",
        "chard",
        "spinach",
    ]
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["title", "ingredients", "source"])
        for i in range(n):
            dish, green = dishes[i % 6], greens[i % 10]
            writer.writerow(
                [
                    f"{green.title()} {dish} no. {i}",
                    f'["{green}", "salt", "{i % 5 + 1} cups water", "{dish} base"]',
                    "web",
                ]
            )
    return path


def test_recipe_tutorial(
    client: ftsdk.Client, emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = Dataset.from_csv(
        recipes_csv(tmp_path / "recipes.csv"),
        template={
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "{title}"},
                {"role": "assistant", "content": "{ingredients}"},
            ]
        },
    )
    train, valid = data.split(validation=0.2, seed=42)
    report = train.validate(("openai", BASE))
    assert report.ok, report.errors
    assert report.stats is not None
    assert report.stats.total > 0
    assert report.cost is not None
    train_path = train.write(tmp_path / "train.jsonl")
    valid_path = valid.write(tmp_path / "valid.jsonl")
    assert train.count() == 48
    assert valid.count() == 12

    job = client.train(
        base_model=BASE,
        training_data=train_path,
        validation_data=valid_path,
        suffix="recipe-ner",
        method=ftsdk.SFT(epochs=2),
    )
    with caplog.at_level(logging.INFO, logger="ftsdk.jobs"):
        job.wait(poll_interval=0.02)
    assert "succeeded" in caplog.text
    events = job.events()
    assert any("valid_loss" in e.metrics for e in events)
    model = job.model
    assert model is not None
    assert ":recipe-ner:" in model.id

    example = next(iter(train))["messages"]
    question = [example[0], example[1]]
    tuned = model.chat(question, temperature=0)
    base = client.model(BASE).chat(question, temperature=0)
    assert tuned.content == example[2]["content"]
    assert base.content != example[2]["content"]
    assert sorted(f.filename.split(".ftsdk-")[0] for f in emulator.files) == ["train", "valid"]


def test_dpo_tutorial_from_trl_style_pairs(client: ftsdk.Client, tmp_path: Path) -> None:
    pairs = Dataset.from_records(
        [
            {
                "prompt": [{"role": "user", "content": f"Is {i} even?"}],
                "chosen": [{"role": "assistant", "content": "yes" if i % 2 == 0 else "no"}],
                "rejected": [{"role": "assistant", "content": "no" if i % 2 == 0 else "yes"}],
            }
            for i in range(20)
        ],
        name="pairs.jsonl",
    )
    path = pairs.write(tmp_path / "pairs.jsonl", format="preference", preference="openai")
    assert pairs.validate(("openai", BASE)).ok
    job = client.train(
        base_model=BASE, training_data=path, method=ftsdk.DPO(beta=0.1), suffix="parity"
    )
    model = job.wait(poll_interval=0.02).model
    assert model is not None
    assert model.chat("Is 4 even?").content == "yes"
    assert model.chat("Is 7 even?").content == "no"


def test_a_csv_dataset_is_written_and_uploaded_once(
    client: ftsdk.Client, emulator: Emulator, tmp_path: Path
) -> None:
    data = Dataset.from_csv(
        recipes_csv(tmp_path / "recipes.csv", 20),
        template={
            "messages": [
                {"role": "user", "content": "{title}"},
                {"role": "assistant", "content": "{ingredients}"},
            ]
        },
    )
    first = client.upload(data)
    again = client.upload(data)
    assert first.id == again.id
    assert len(emulator.files) == 1
    assert first.filename is not None
    assert first.filename.startswith("recipes.ftsdk-")
