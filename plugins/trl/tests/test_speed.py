"""Speed defaults of TRL jobs (issue 20): padding-free SFT batches give every example exactly
the loss it has alone, each default is recorded with its reason, and an option wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk_trl.speed import Device, MemoryNeed, SpeedPlan, memory_need, speed_plan
from ftsdk_trl.training import build_trainer

CPU = Device("cpu", "cpu", 24 * 1024**3, bf16=False)
GiB = 1024**3


def uneven_chats(count: int) -> list[dict[str, Any]]:
    """Date questions after 0-20 filler words: lengths from ~40 to ~190 tokens."""
    rows = date_to_words_examples(count, seed=1)
    for number, row in enumerate(rows):
        user = row["messages"][-2]
        user["content"] = "please " * (number * 13 % 21) + user["content"]
    return rows


@pytest.fixture(scope="module")
def sft_trainer(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The trainer a job with default options builds (no training done)."""
    work = tmp_path_factory.mktemp("speed")
    train = write_jsonl(work / "train.jsonl", uneven_chats(16))
    return build_trainer(
        model_path=str(tiny_model),
        method={"type": "sft", "batch_size": 4, "max_steps": 1},
        train_file=train,
        output_dir=work / "out",
    )


def test_the_default_sft_batch_is_one_unpadded_row_with_restarting_positions(
    sft_trainer: Any,
) -> None:
    assert sft_trainer.model.config._attn_implementation == "sdpa_varlen"
    examples = [sft_trainer.train_dataset[i] for i in range(4)]
    lengths = [len(e["input_ids"]) for e in examples]
    assert len(set(lengths)) > 1, "the examples should differ in length"
    batch = sft_trainer.data_collator(examples)
    assert sft_trainer.args.padding_free
    assert not sft_trainer.args.packing
    assert "attention_mask" not in batch
    assert batch["input_ids"].shape == (1, sum(lengths))  # no padding token computed
    starts = (batch["position_ids"][0] == 0).nonzero().flatten().tolist()
    assert starts == [sum(lengths[:i]) for i in range(4)]


def _token_losses(logits: Any, labels: Any) -> Any:
    import torch

    return torch.nn.functional.cross_entropy(
        logits[:-1].float(), labels[1:], ignore_index=-100, reduction="none"
    )


def test_padding_free_gives_each_example_the_loss_it_has_alone(sft_trainer: Any) -> None:
    import torch

    model = sft_trainer.model.eval()
    examples = [sft_trainer.train_dataset[i] for i in range(4)]
    batch = sft_trainer.data_collator(examples)
    with torch.no_grad():
        # as the trainer calls it: the row, its position ids and example boundaries
        inputs = {key: value for key, value in batch.items() if key != "labels"}
        packed = model(**inputs).logits[0]
        # the same row as one plain causal sequence: later examples see earlier ones
        leaky = model(input_ids=batch["input_ids"]).logits[0]
        start = 0
        packed_losses, alone_losses = [], []
        for example in examples:
            ids = torch.tensor(example["input_ids"])
            labels = torch.tensor(example["labels"])
            end = start + len(ids)
            alone = model(input_ids=ids[None]).logits[0]
            torch.testing.assert_close(packed[start:end], alone, atol=1e-4, rtol=1e-4)
            packed_loss = _token_losses(packed[start:end], labels)
            alone_loss = _token_losses(alone, labels)
            mask = labels[1:] != -100
            packed_losses.append(packed_loss[mask].mean().item())
            alone_losses.append(alone_loss[mask].mean().item())
            if start:  # the check above would catch attention across examples
                assert not torch.allclose(leaky[start:end], alone, atol=1e-3)
            start = end
    assert packed_losses == pytest.approx(alone_losses, abs=1e-5)
    assert len({round(v, 3) for v in alone_losses}) > 1  # four different losses compared


def test_the_padding_free_batch_loss_equals_the_padded_batch_loss(sft_trainer: Any) -> None:
    import torch
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model = sft_trainer.model.eval()
    examples = [sft_trainer.train_dataset[i] for i in range(4)]
    free = sft_trainer.data_collator(examples)
    padded = DataCollatorForLanguageModeling(
        pad_token_id=sft_trainer.processing_class.pad_token_id
    )(examples)
    assert padded["input_ids"].numel() > free["input_ids"].numel()  # padding was computed
    with torch.no_grad():
        free_loss = model(
            input_ids=free["input_ids"], position_ids=free["position_ids"], labels=free["labels"]
        ).loss
        padded_loss = model(**padded).loss
    assert free_loss.item() == pytest.approx(padded_loss.item(), abs=1e-5)


def test_on_a_cpu_each_default_is_resolved_with_its_reason() -> None:
    plan = speed_plan({}, method="sft", device=CPU, per_device_batch_size=8)
    assert {name: choice.value for name, choice in plan.choices.items()} == {
        "packing": False,
        "padding_free": True,
        "group_by_length": False,
        "bf16": False,
        "attn_implementation": "sdpa_varlen",
        "liger": False,
        "gradient_checkpointing": False,
        "torch_compile": False,
    }
    assert {choice.source for choice in plan.choices.values()} == {"default"}
    assert "no bfloat16 matrix units" in plan["bf16"].why
    assert plan.trainer_arguments()["train_sampling_strategy"] == "random"


@pytest.mark.parametrize(
    ("options", "changed"),
    [
        (
            {"padding_free": False},
            {"padding_free": False, "group_by_length": True, "attn_implementation": "sdpa"},
        ),
        (
            {"padding_free": False, "group_by_length": False},
            {"padding_free": False, "attn_implementation": "sdpa"},
        ),
        ({"packing": True}, {"packing": True, "padding_free": False}),
        ({"bf16": True}, {"bf16": True}),
        ({"gradient_checkpointing": True}, {"gradient_checkpointing": True}),
        ({"torch_compile": True}, {"torch_compile": True}),
        ({"attn_implementation": "eager"}, {"attn_implementation": "eager"}),
    ],
)
def test_an_option_wins_over_the_default(options: dict[str, Any], changed: dict[str, Any]) -> None:
    default = speed_plan({}, method="sft", device=CPU, per_device_batch_size=8)
    plan = speed_plan(options, method="sft", device=CPU, per_device_batch_size=8)
    values = {name: choice.value for name, choice in plan.choices.items()}
    assert values == {name: c.value for name, c in default.choices.items()} | changed
    for name in options:
        assert plan[name].source == "option"


@pytest.mark.parametrize(("hidden", "bf16"), [(64, False), (512, True)])
def test_on_a_cpu_with_bf16_units_bf16_is_for_models_large_enough(hidden: int, bf16: bool) -> None:
    amx = Device("cpu", "cpu", 24 * GiB, bf16=True)
    plan = speed_plan({}, method="sft", device=amx, per_device_batch_size=8, hidden_size=hidden)
    assert plan.value("bf16") is bf16
    assert f"hidden {'size ' if not bf16 else ''}{hidden}" in plan["bf16"].why


def test_one_example_per_device_has_no_padding_to_save() -> None:
    plan = speed_plan({}, method="sft", device=CPU, per_device_batch_size=1)
    assert not plan.value("padding_free")
    assert not plan.value("group_by_length")
    assert "no padding to save" in plan["padding_free"].why


def test_gradient_checkpointing_follows_the_memory_estimate(
    tiny_model: Path, tmp_path: Path
) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", uneven_chats(8))

    def plan_on(memory_bytes: int) -> SpeedPlan:
        device = Device("cuda", "a test GPU", memory_bytes, bf16=True)
        return speed_plan(
            {},
            method="sft",
            device=device,
            per_device_batch_size=8,
            memory=lambda bf16: memory_need(
                str(tiny_model),
                str(train),
                {"type": "sft", "batch_size": 8},
                per_device_batch_size=8,
                device=device,
                bf16=bf16,
            ),
            installed=lambda module: False,
        )

    need = memory_need(
        str(tiny_model), str(train), {"type": "sft"}, per_device_batch_size=8,
        device=Device("cuda", "a test GPU", GiB, bf16=True), bf16=True,
    )  # fmt: skip
    assert need.with_checkpointing < need.without_checkpointing
    roomy, tight = plan_on(4 * need.without_checkpointing), plan_on(need.without_checkpointing)
    assert not roomy.value("gradient_checkpointing")
    assert tight.value("gradient_checkpointing")
    assert "GiB without it" in tight["gradient_checkpointing"].why
    assert tight.value("bf16")
    assert tight.value("attn_implementation") == "sdpa_varlen"


def test_a_model_the_estimate_cannot_read_still_gets_a_plan() -> None:
    def unreadable(bf16: bool) -> MemoryNeed:
        raise InvalidRequest("/models/x: no config.json (not a Hugging Face model folder)")

    plan = speed_plan({}, method="sft", device=CPU, per_device_batch_size=8, memory=unreadable)
    assert plan.value("gradient_checkpointing") is False
    assert "no memory estimate: /models/x: no config.json" in plan["gradient_checkpointing"].why


@pytest.mark.parametrize(
    ("method", "options", "field"),
    [
        ("sft", {"liger": True}, "provider_options.liger"),
        (
            "sft",
            {"attn_implementation": "flash_attention_2"},
            "provider_options.attn_implementation",
        ),
        ("dpo", {"padding_free": True}, "provider_options.padding_free"),
        ("dpo", {"packing": True}, "provider_options.packing"),
    ],
)
def test_a_setting_that_cannot_work_here_is_refused_by_name(
    method: str, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        speed_plan(options, method=method, device=CPU, per_device_batch_size=8)
    assert raised.value.field == field


@pytest.mark.slow
def test_a_job_records_each_choice_in_its_folder_and_events(
    client: ftsdk.Client, tiny_model: Path, tmp_path: Path, home: Path
) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", uneven_chats(32))
    job = client.train(
        base_model=str(tiny_model),
        training_data=train,
        method=ftsdk.SFT(max_steps=2, batch_size=4),
        provider_options={"num_threads": 1, "padding_free": False},
    ).wait(poll_interval=0.5, progress=False)
    assert job.state.status.value == "succeeded", job.state.error
    setup = json.loads((home / "trl" / "jobs" / job.id / "setup.json").read_text("utf-8"))
    speed = setup["speed"]
    assert speed["padding_free"] == {
        "value": False,
        "source": "option",
        "why": "set in provider_options",
    }
    assert speed["group_by_length"]["value"] is True
    assert speed["group_by_length"]["source"] == "default"
    assert speed["gradient_checkpointing"]["why"].startswith("estimated peak")
    assert setup["device"]["kind"] == "cpu"
    events = [e.message for e in job.events() if e.message.startswith("setup on cpu: ")]
    assert len(events) == 1
    shown = set(events[0].removeprefix("setup on cpu: ").split(", "))
    assert shown == {
        f"{name}={c['value']}" + (" (option)" if c["source"] == "option" else "")
        for name, c in speed.items()
    }


def test_padding_free_examples_are_cut_to_max_seq_length_as_padded_ones_are(
    tiny_model: Path, tmp_path: Path
) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", uneven_chats(16))
    method = {"type": "sft", "batch_size": 4, "max_steps": 1, "max_seq_length": 64}
    free, padded = (
        build_trainer(
            model_path=str(tiny_model),
            method=method,
            train_file=train,
            output_dir=tmp_path / name,
            options=options,
        )
        for name, options in (("free", {}), ("padded", {"padding_free": False}))
    )
    assert free.args.padding_free
    assert not padded.args.padding_free
    assert max(len(ids) for ids in free.train_dataset["input_ids"]) == 64
    assert free.train_dataset["input_ids"] == padded.train_dataset["input_ids"]
    assert free.train_dataset["labels"] == padded.train_dataset["labels"]
