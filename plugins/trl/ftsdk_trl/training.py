"""Build the TRL trainer for a resolved job: data, model, config, with the defaults that
matter on CPU and GPU (chosen in :mod:`ftsdk_trl.speed`). Used by the runner and the benches.

Everything heavy (torch, transformers, trl, peft) is imported inside the functions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ftsdk.batchplan import BatchPlan, split_batch
from ftsdk.errors import InvalidRequest
from ftsdk_trl import varlen
from ftsdk_trl.speed import SpeedPlan, device_facts, memory_need, speed_plan

__all__ = [
    "DEFAULTS",
    "BatchPlan",
    "batch_plan",
    "build_trainer",
    "device_kind",
    "load_rows",
    "plan_speed",
    "resolve_hyperparameters",
    "world_size",
]

DEFAULTS: dict[str, Any] = {
    "epochs": 3,
    "batch_size": 8,
    "learning_rate": {"full": 2e-5, "lora": 2e-4, "qlora": 2e-4},
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "beta": 0.1,
    "max_seq_length": 1024,
}
"""What ``"auto"`` / unset hyperparameters become (TRL's and PEFT's usual values)."""


def device_kind() -> str:
    """``"cuda"`` when a CUDA GPU is visible, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_hyperparameters(method: dict[str, Any]) -> dict[str, Any]:
    """The job's hyperparameters with every default filled in. ``learning_rate_multiplier``
    scales the default learning rate (as OpenAI's does theirs); ``learning_rate`` sets it.
    The batch depends on the process count too: see :func:`batch_plan`.

    >>> resolve_hyperparameters({"learning_rate_multiplier": 10})["learning_rate"]
    0.0002
    >>> resolve_hyperparameters({"adapter": "lora"})["learning_rate"]
    0.0002
    """
    adapter = method.get("adapter") or "full"
    resolved = {
        "type": method.get("type", "sft"),
        "adapter": adapter,
        "epochs": _value(method.get("epochs"), DEFAULTS["epochs"]),
        "learning_rate": _value(
            method.get("learning_rate"),
            DEFAULTS["learning_rate"][adapter] * _value(method.get("learning_rate_multiplier"), 1),
        ),
        "max_steps": _value(method.get("max_steps"), -1),
        "warmup_ratio": _value(method.get("warmup_ratio"), 0.0),
        "weight_decay": _value(method.get("weight_decay"), 0.0),
        "max_seq_length": _value(method.get("max_seq_length"), DEFAULTS["max_seq_length"]),
        "lora_r": _value(method.get("lora_r"), DEFAULTS["lora_r"]),
        "lora_alpha": _value(method.get("lora_alpha"), DEFAULTS["lora_alpha"]),
        "lora_dropout": _value(method.get("lora_dropout"), DEFAULTS["lora_dropout"]),
    }
    if resolved["type"] == "dpo":
        resolved["beta"] = _value(method.get("beta"), DEFAULTS["beta"])
    return resolved


def _value(given: Any, default: Any) -> Any:
    return default if given in (None, "auto") else given


def batch_plan(
    method: dict[str, Any], *, num_processes: int = 1, max_per_device: int | None = None
) -> BatchPlan:
    """Split the job's ``batch_size`` (TRL's default when unset, rounded up so that it
    splits) over processes and accumulation steps (:func:`ftsdk.batchplan.split_batch`).

    >>> str(batch_plan({"batch_size": 16, "gradient_accumulation_steps": 2}, num_processes=2))
    '16 examples per optimizer step = 4 per device x 2 accumulation x 2 processes'
    >>> batch_plan({"batch_size": 24}, max_per_device=8).gradient_accumulation_steps
    3

    :raises InvalidRequest: ``batch_size`` does not divide evenly (field ``method.batch_size``).
    """
    processes = max(1, num_processes)
    accumulation = _value(method.get("gradient_accumulation_steps"), None)
    unit = processes * (accumulation or 1)
    given = _value(method.get("batch_size"), None)
    batch = given if given is not None else -(-DEFAULTS["batch_size"] // unit) * unit
    return split_batch(
        batch,
        processes=processes,
        accumulation=accumulation,
        max_per_device=max_per_device,
        provider="trl",
    )


def world_size() -> int:
    """Processes training together: ``accelerate launch`` sets ``WORLD_SIZE``; else one."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """The examples of a JSONL file."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _sft_rows(rows: list[dict[str, Any]], tokenizer: Any) -> tuple[list[dict[str, Any]], bool]:
    """SFT rows in a shape TRL trains on, and whether to use assistant-only loss.

    Chat data keeps its messages when the template marks assistant turns (or TRL knows a
    training template for it); otherwise each chat becomes a conversational prompt/completion
    pair whose completion is the last assistant turn, so the loss still covers answers only.
    """
    if not rows or "messages" not in rows[0]:
        return rows, False
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = tokenizer.chat_template
    if has_generation_markers(template):
        return rows, True
    try:
        if get_training_chat_template(tokenizer) is not None:
            return rows, True
    except Exception:  # TRL raises plain errors for templates it has no training copy of
        pass
    converted = []
    for row in rows:
        messages = row["messages"]
        converted.append({"prompt": messages[:-1], "completion": messages[-1:]})
    return converted, False


def _dpo_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from ftsdk.capabilities import DataFormat
    from ftsdk.dataset.formats import convert

    return [
        convert(row, DataFormat.PREFERENCE, DataFormat.PREFERENCE, preference="trl") for row in rows
    ]


def plan_speed(
    *,
    model_path: str,
    method: dict[str, Any],
    train_file: str | Path,
    options: dict[str, Any] | None = None,
) -> SpeedPlan:
    """The job's speed settings on this machine (padding-free batches, bf16, attention
    kernel, gradient checkpointing from the memory estimate...), each with its reason."""
    opts = options or {}
    batch = batch_plan(
        method, num_processes=world_size(), max_per_device=opts.get("max_per_device_batch_size")
    )
    device = device_facts()

    def memory(bf16: bool) -> Any:
        return memory_need(
            model_path,
            str(train_file),
            method,
            per_device_batch_size=batch.per_device_batch_size,
            device=device,
            bf16=bf16,
        )

    kind = resolve_hyperparameters(method)["type"]
    return speed_plan(
        opts,
        method=kind,
        device=device,
        per_device_batch_size=batch.per_device_batch_size,
        hidden_size=_hidden_size(model_path),
        # the estimate counts training tokens of SFT/DPO rows; GRPO's are generated
        memory=None if kind == "reinforcement" else memory,
    )


def _hidden_size(model_path: str) -> int | None:
    """The model's hidden size from its files, or ``None`` when they cannot be read."""
    from ftsdk.dataset.estimate import read_model_shape

    try:
        return read_model_shape(model_path).hidden_size
    except InvalidRequest:  # the job still trains; bf16 on a CPU then stays off
        return None


def _truncated(dataset: Any, max_length: int) -> Any:
    """``dataset`` (tokenized by TRL) cut to ``max_length`` tokens per example, as TRL cuts
    it when it pads (it leaves that to the caller for padding-free batches); examples left
    without a trained token are dropped, as TRL drops them."""
    if dataset is None or max(len(ids) for ids in dataset["input_ids"]) <= max_length:
        return dataset

    def cut(example: dict[str, Any]) -> dict[str, Any]:
        return {
            "input_ids": example["input_ids"][:max_length],
            "labels": example["labels"][:max_length],
        }

    dataset = dataset.map(cut)
    return dataset.filter(lambda example: any(label != -100 for label in example["labels"]))


def _model_kwargs(adapter: str, speed: SpeedPlan) -> dict[str, Any]:
    """``from_pretrained`` arguments: the dtype, attention kernel and 4-bit quantization."""
    import torch

    bf16 = bool(speed.value("bf16"))
    if speed.value("attn_implementation") == varlen.NAME:
        varlen.register()
    # On a GPU the weights load in bf16 (half the memory); on a CPU they stay float32 and
    # bf16 is autocast only: a CPU has the memory, and float32 weights keep small updates.
    kwargs: dict[str, Any] = {
        "dtype": torch.bfloat16 if bf16 and speed.device.kind == "cuda" else torch.float32,
        "attn_implementation": speed.value("attn_implementation"),
    }
    if adapter == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16 if bf16 else torch.float16,
        )
    return kwargs


def build_trainer(  # noqa: PLR0915  # one flat recipe per method reads best in one place
    *,
    model_path: str,
    method: dict[str, Any],
    train_file: str | Path,
    output_dir: str | Path,
    validation_file: str | Path | None = None,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    callbacks: list[Any] | None = None,
    speed: SpeedPlan | None = None,
    grader: dict[str, Any] | None = None,
) -> Any:
    """A ready-to-train ``SFTTrainer``, ``DPOTrainer`` or ``GRPOTrainer`` for the job.

    :param method: the job's method (``SFT`` / ``DPO`` / ``RFT`` fields as a dict).
    :param grader: the grader's JSON, for ``RFT`` (:mod:`ftsdk_trl.grpo`).
    :param options: the job's provider options (``TRLOptions`` as a dict).
    :param speed: the speed settings (default: :func:`plan_speed` for the job).
    """
    from datasets import Dataset  # type: ignore[import-untyped]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    opts = options or {}
    hp = resolve_hyperparameters(method)
    batch = batch_plan(
        method, num_processes=world_size(), max_per_device=opts.get("max_per_device_batch_size")
    )
    device = device_kind()
    if speed is None:
        speed = plan_speed(
            model_path=model_path, method=method, train_file=train_file, options=opts
        )
    if hp["adapter"] == "qlora" and device != "cuda":
        raise ValueError("QLoRA needs a CUDA GPU (4-bit bitsandbytes); none is visible")
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError(
            f"the base model {model_path} has no chat template; give it one "
            "(tokenizer.chat_template) or train on text / prompt-completion data"
        )
    model_kwargs = _model_kwargs(hp["adapter"], speed)
    model = AutoModelForCausalLM.from_pretrained(model_path, **model_kwargs)
    peft_config = None
    if hp["adapter"] in ("lora", "qlora"):
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=hp["lora_r"],
            lora_alpha=hp["lora_alpha"],
            lora_dropout=hp["lora_dropout"],
            target_modules=opts.get("lora_target_modules") or "all-linear",
            modules_to_save=opts.get("lora_modules_to_save"),
            task_type="CAUSAL_LM",
        )
    rows = load_rows(train_file)
    eval_rows = load_rows(validation_file) if validation_file else None
    common: dict[str, Any] = {
        "output_dir": str(output_dir),
        "num_train_epochs": hp["epochs"],
        "per_device_train_batch_size": batch.per_device_batch_size,
        "per_device_eval_batch_size": batch.per_device_batch_size,
        "learning_rate": hp["learning_rate"],
        "max_steps": hp["max_steps"],
        "warmup_steps": hp["warmup_ratio"],  # transformers 5: a float below 1 is a ratio
        "weight_decay": hp["weight_decay"],
        "gradient_accumulation_steps": batch.gradient_accumulation_steps,
        "max_length": hp["max_seq_length"],
        "seed": seed,
        "data_seed": seed,
        "use_cpu": device == "cpu",
        # bf16 (TRL turns it on whatever the device: slower on a CPU for small models),
        # gradient checkpointing (TRL's default is on: ~25 % more compute, so only when
        # memory is short), Liger, compile, length-grouped sampling
        **speed.trainer_arguments(),
        "logging_steps": opts.get("logging_steps") or 10,  # TRL's; every step costs ~5 %
        # Like a cloud service: a checkpoint each epoch (and every save_minutes, from the
        # runner); every 10 % of a short run cost ~6 % of its throughput.
        "save_strategy": "steps" if opts.get("save_steps") else "epoch",
        "save_steps": opts.get("save_steps") or 500,
        "save_total_limit": opts.get("save_total_limit") or 2,
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }
    if eval_rows:
        common["eval_strategy"] = "steps"
        common["eval_steps"] = opts.get("eval_steps") or 0.1
    trainer: Any
    if hp["type"] == "reinforcement":
        from ftsdk_trl.grpo import build_grpo_trainer

        if grader is None:
            raise ValueError("a reinforcement job needs its grader (spec.json has none)")
        trainer = build_grpo_trainer(
            model=model,
            tokenizer=tokenizer,
            grader_json=grader,
            method=method,
            rows=rows,
            eval_rows=eval_rows,
            common=common,
            per_device_prompts=batch.per_device_batch_size,
            options=opts,
            device=device,
            peft_config=peft_config,
            callbacks=callbacks,
        )
    elif hp["type"] == "dpo":
        from trl.trainer.dpo_config import DPOConfig
        from trl.trainer.dpo_trainer import DPOTrainer

        dpo_config = DPOConfig(**common, beta=hp["beta"])
        ref_model = None
        if peft_config is None:
            # A reference copy from the same weights: DPOTrainer's own reload fails on
            # models built from a config (no _name_or_path).
            ref_model = AutoModelForCausalLM.from_pretrained(model_path, **model_kwargs)
        trainer = DPOTrainer(
            model=model,
            ref_model=ref_model,
            args=dpo_config,
            train_dataset=Dataset.from_list(_dpo_rows(rows)),
            eval_dataset=Dataset.from_list(_dpo_rows(eval_rows)) if eval_rows else None,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=callbacks,
        )
    else:
        from trl.trainer.sft_config import SFTConfig
        from trl.trainer.sft_trainer import SFTTrainer

        train_rows, assistant_only = _sft_rows(rows, tokenizer)
        eval_sft = _sft_rows(eval_rows, tokenizer)[0] if eval_rows else None
        packing, padding_free = speed.value("packing"), speed.value("padding_free")
        # TRL leaves cutting examples to max_length to the caller for padding-free batches
        cut_here = padding_free and not packing
        sft_config = SFTConfig(
            **(common | {"max_length": None} if cut_here else common),
            assistant_only_loss=assistant_only,
            packing=packing,
            padding_free=padding_free,
        )
        trainer = SFTTrainer(
            model=model,
            args=sft_config,
            train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(eval_sft) if eval_sft else None,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=callbacks,
        )
        if cut_here:
            trainer.train_dataset = _truncated(trainer.train_dataset, hp["max_seq_length"])
            trainer.eval_dataset = _truncated(trainer.eval_dataset, hp["max_seq_length"])
    return trainer
