"""JobSpec → AutoTrain parameters and data folder, as a pure translation (fast)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.capabilities import DataFormat
from ftsdk.errors import InvalidDataset, InvalidRequest
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.local import assert_uneven_batch_refused
from ftsdk_autotrain import AutoTrainProvider
from ftsdk_autotrain.translate import HYPERPARAMETERS, project_name, stage_rows, training_params


def params(method: ftsdk.SFT | ftsdk.DPO, **kwargs: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "model": "/m",
        "data_path": "/d",
        "project": "p",
        "data_format": DataFormat.CHAT,
        "chat": True,
        "seed": 7,
        "options": {},
        "model_context": 256,
    }
    return training_params(method.model_dump(mode="json"), **(defaults | kwargs))


def test_sft_full_maps_every_hyperparameter() -> None:
    p = params(
        ftsdk.SFT(
            epochs=6,
            batch_size=16,
            learning_rate=3e-3,
            warmup_ratio=0.05,
            weight_decay=0.01,
            max_seq_length=128,
        )
    )
    assert p["trainer"] == "sft"
    assert (p["epochs"], p["batch_size"], p["gradient_accumulation"], p["lr"]) == (6, 16, 1, 3e-3)
    assert (p["warmup_ratio"], p["weight_decay"]) == (0.05, 0.01)
    assert (p["block_size"], p["model_max_length"]) == (128, 256)
    assert (p["peft"], p["quantization"], p["mixed_precision"]) == (False, "none", "none")
    assert (p["seed"], p["text_column"], p["chat_template"]) == (7, "text", "tokenizer")
    assert p["valid_split"] is None
    assert "token" not in p


@pytest.mark.parametrize(
    ("batch", "accumulation", "backend"),
    [
        (16, None, "local"),
        (16, 4, "local"),
        (16, None, "spaces-a10g-largex2"),
        (16, 2, "spaces-l4x4"),
        (32, 2, "ep-aws-useast1-l"),  # 4 T4s
        (64, None, "nvcf-h100x8"),
    ],
)
def test_translated_batch_multiplies_back_to_batch_size(
    batch: int, accumulation: int | None, backend: str
) -> None:
    """AutoTrain's batch_size is per device and one process runs per GPU (issue 18.13)."""
    from ftsdk_autotrain.translate import processes

    n = processes(backend)
    p = params(ftsdk.SFT(batch_size=batch, gradient_accumulation_steps=accumulation), processes=n)
    assert p["batch_size"] * p["gradient_accumulation"] * n == batch
    assert p["gradient_accumulation"] == (accumulation or 1)


def test_a_batch_that_does_not_split_names_the_processes() -> None:
    from ftsdk_autotrain.translate import processes

    with pytest.raises(InvalidRequest) as caught:
        params(ftsdk.SFT(batch_size=10, gradient_accumulation_steps=4))
    assert caught.value.field == "method.batch_size"
    assert "e.g. 8 or 12" in str(caught.value)
    with pytest.raises(InvalidRequest, match=r"num_processes=4\); use a multiple of 4, e.g. 16"):
        params(ftsdk.SFT(batch_size=18), processes=processes("spaces-l4x4"))


def test_check_and_train_refuse_a_batch_that_does_not_split_over_the_gpus(
    offline_client: ftsdk.Client,
    tiny_model: Path,
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # AutoTrain starts one process per GPU
    spec = ftsdk.JobSpec(
        base_model=str(tiny_model),
        training_data=write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(20)),
        method=ftsdk.SFT(batch_size=15),
    )
    assert_uneven_batch_refused((offline_client.check, offline_client.train), spec)
    assert not list((home / "autotrain" / "jobs").glob("*"))


def test_lora_qlora_and_merge() -> None:
    lora = params(
        ftsdk.SFT(adapter="lora", lora_r=8, lora_alpha=16, lora_dropout=0.1),
        options={"merge_adapter": True},
    )
    assert (lora["peft"], lora["lora_r"], lora["lora_alpha"], lora["lora_dropout"]) == (
        True,
        8,
        16,
        0.1,
    )
    assert (lora["merge_adapter"], lora["quantization"], lora["target_modules"]) == (
        True,
        "none",
        "all-linear",
    )
    assert params(ftsdk.SFT(adapter="qlora"))["quantization"] == "int4"


def test_dpo_columns_and_beta() -> None:
    p = params(ftsdk.DPO(beta=0.2, max_seq_length=128), data_format=DataFormat.PREFERENCE)
    assert p["trainer"] == "dpo"
    assert p["dpo_beta"] == 0.2
    assert (p["text_column"], p["rejected_text_column"], p["prompt_text_column"]) == (
        "chosen",
        "rejected",
        "prompt",
    )
    assert p["max_prompt_length"] == 64


def test_block_size_defaults_to_the_model_context() -> None:
    assert params(ftsdk.SFT())["block_size"] == 256
    assert params(ftsdk.SFT(), model_context=None)["block_size"] == 1024


def test_project_name_is_what_autotrain_accepts() -> None:
    assert project_name("a_b.c" * 20) == ("a-b-c" * 10)[:50]


def test_staged_rows_per_format() -> None:
    chat = date_to_words_examples(1, seed=0)[0]
    rows, is_chat = stage_rows([chat], DataFormat.CHAT, chat_template=True)
    assert is_chat
    assert rows == [{"text": chat["messages"]}]
    pc = {"prompt": "2+2=", "completion": "4"}
    rows, is_chat = stage_rows([pc], DataFormat.PROMPT_COMPLETION, chat_template=True)
    assert is_chat
    assert rows[0]["text"][-1] == {"role": "assistant", "content": "4"}
    assert stage_rows([pc], DataFormat.PROMPT_COMPLETION, chat_template=False) == (
        [{"text": "2+2=\n4"}],  # joined with TEXT_SEPARATOR
        False,
    )
    assert stage_rows([{"text": "hi"}], DataFormat.TEXT, chat_template=True) == (
        [{"text": "hi"}],
        False,
    )
    pair = {
        "input": {"messages": [{"role": "user", "content": "q"}]},
        "preferred_output": [{"role": "assistant", "content": "good"}],
        "non_preferred_output": [{"role": "assistant", "content": "bad"}],
    }
    rows, is_chat = stage_rows([pair], DataFormat.PREFERENCE, chat_template=True)
    assert is_chat
    assert rows[0]["chosen"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "good"},
    ]
    assert rows[0]["rejected"][-1]["content"] == "bad"
    assert "prompt" in rows[0]
    plain = {"prompt": "q", "chosen": "good", "rejected": "bad"}
    assert stage_rows([plain], DataFormat.PREFERENCE, chat_template=False) == ([plain], False)


def test_capabilities_declare_only_what_autotrain_honours() -> None:
    caps = AutoTrainProvider.capabilities
    assert "max_steps" not in caps.accepted_hyperparameters("sft")
    assert "learning_rate_multiplier" not in caps.accepted_hyperparameters("sft")
    assert "beta" in caps.accepted_hyperparameters("dpo")
    assert caps.accepted_hyperparameters("sft") == HYPERPARAMETERS["sft"]
    assert not caps.supports("pause")
    assert not caps.supports("resume")
    assert not caps.supports("checkpoints")


def test_core_refuses_undeclared_hyperparameters_before_anything_runs(
    offline_client: ftsdk.Client, tiny_model: Path, tmp_path: Path, home: Path
) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(20))
    with pytest.raises(InvalidRequest) as caught:
        offline_client.train(
            base_model=str(tiny_model), training_data=data, method=ftsdk.SFT(max_steps=6)
        )
    assert "max_steps" in str(caught.value)
    assert not (home / "autotrain" / "jobs").exists()


def test_bad_data_gets_file_line_field_errors_not_keyerror(
    offline_client: ftsdk.Client, tiny_model: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    good = json.dumps(date_to_words_examples(1)[0])
    bad.write_text(good + "\n" + '{"messages": [{"role": "user"}]}\n', encoding="utf-8")
    with pytest.raises((InvalidDataset, InvalidRequest)) as caught:
        offline_client.train(base_model=str(tiny_model), training_data=bad)
    assert "bad.jsonl:2" in str(caught.value)


def test_validation_data_and_missing_model_are_refused(
    offline_client: ftsdk.Client, tiny_model: Path, tmp_path: Path
) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(20))
    with pytest.raises(InvalidRequest, match="validation"):
        offline_client.train(base_model=str(tiny_model), training_data=data, validation_data=data)
    with pytest.raises(InvalidRequest, match="never downloads"):
        offline_client.train(base_model="org/not-here", training_data=data)


def test_check_refuses_what_train_refuses(
    offline_client: ftsdk.Client, tiny_model: Path, tmp_path: Path
) -> None:
    """``client.check`` passed validation data that ``train`` then refused (issue 18.13)."""
    data = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(20))
    refused = [
        {"base_model": str(tiny_model), "validation_data": data},
        {"base_model": "org/not-here"},
        {"base_model": "org/model", "provider_options": {"backend": "spaces-a10g-large"}},
    ]
    for fields in refused:
        spec = ftsdk.JobSpec(training_data=data, **fields)
        with pytest.raises(InvalidRequest) as by_check:
            offline_client.check(spec)
        with pytest.raises(InvalidRequest) as by_train:
            offline_client.train(spec)
        assert by_check.value.field == by_train.value.field
        assert str(by_check.value) == str(by_train.value)


def test_options_refuse_unknown_backends_and_tokens() -> None:
    from pydantic import ValidationError

    from ftsdk_autotrain.provider import AutoTrainOptions

    assert AutoTrainOptions(backend="spaces-a10g-large").backend == "spaces-a10g-large"
    with pytest.raises(ValidationError, match="backend"):
        AutoTrainOptions(backend="dgx-a100")
    with pytest.raises(ValidationError, match="HF_TOKEN"):
        AutoTrainOptions(extra_params={"token": "hf_x"})


def test_tokenizer_saved_by_transformers_5_gets_a_view_for_4_48(
    tiny_model: Path, tmp_path: Path
) -> None:
    from ftsdk_autotrain.provider import _compatible_model, _needs_compat

    assert _needs_compat(tiny_model)
    view = _compatible_model(tiny_model, tmp_path / "view")
    config = json.loads((view / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert "{% generation %}" in config["chat_template"]
    assert (view / "model.safetensors").resolve() == (tiny_model / "model.safetensors").resolve()
    assert not _needs_compat(view)
