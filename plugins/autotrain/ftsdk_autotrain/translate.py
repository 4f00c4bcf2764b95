"""JobSpec → AutoTrain: ``LLMTrainingParams`` fields and AutoTrain's data folder.

Pure and fast (no AutoTrain, no torch): the provider stages what this returns into the job
folder and the runtime venv turns it into ``LLMTrainingParams``.

What maps to what (AutoTrain 0.8.36, ``autotrain llm``):

============================  ==============================================================
ftsdk                         AutoTrain
============================  ==============================================================
``SFT`` / ``DPO``             ``trainer="sft"`` / ``"dpo"``
``epochs``                    ``epochs``
``batch_size``                examples per optimizer step, as everywhere in ftsdk: AutoTrain's
                              ``batch_size`` (per device) x ``gradient_accumulation`` x the
                              processes AutoTrain starts (one per GPU: :func:`processes`)
``gradient_accumulation_..``  ``gradient_accumulation`` (default 1)
``learning_rate``             ``lr``
``warmup_ratio``              ``warmup_ratio``
``weight_decay``              ``weight_decay``
``max_seq_length``            ``block_size`` and ``model_max_length`` (SFT packs blocks)
``adapter`` full/lora/qlora   ``peft`` False/True/True, ``quantization`` none/none/int4
``lora_r/alpha/dropout``      ``lora_r`` / ``lora_alpha`` / ``lora_dropout``
``beta`` (DPO)                ``dpo_beta``
``seed``                      ``seed``
chat data                     ``text`` column of message lists, ``chat_template="tokenizer"``
prompt/completion             chat (one user turn) when the model has a chat template,
                              else plain ``text`` = prompt + completion
text                          ``text`` column
preference pairs              ``chosen`` / ``rejected`` (full conversations) and ``prompt``
============================  ==============================================================

Not honoured, so not declared (the core refuses them before anything runs):
``max_steps`` (AutoTrain has no step limit) and ``learning_rate_multiplier``. Validation
data is refused: 0.8.36 drops the validation split and then fails its evaluation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ftsdk.batchplan import split_batch
from ftsdk.capabilities import DataFormat, MethodType
from ftsdk.local import COMMON_HYPERPARAMETERS

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "HYPERPARAMETERS",
    "batch_split",
    "processes",
    "project_name",
    "stage_data",
    "training_params",
]

DEFAULT_BLOCK_SIZE = 1024
"""Block size when ``max_seq_length`` is not set (capped by the model's context)."""

HYPERPARAMETERS: dict[MethodType, frozenset[str]] = {
    "sft": COMMON_HYPERPARAMETERS,
    "dpo": COMMON_HYPERPARAMETERS | {"beta"},
}
"""Per method, the JobSpec hyperparameters AutoTrain honours (the capabilities)."""

_DIRECT = {
    "epochs": "epochs",
    "learning_rate": "lr",
    "warmup_ratio": "warmup_ratio",
    "weight_decay": "weight_decay",
    "lora_r": "lora_r",
    "lora_alpha": "lora_alpha",
    "lora_dropout": "lora_dropout",
    "beta": "dpo_beta",
}


def project_name(job_id: str) -> str:
    """AutoTrain's project name for a job: alphanumerics and hyphens, at most 50 chars.

    >>> project_name("atjob-20261125-1a2b3c4d")
    'atjob-20261125-1a2b3c4d'
    """
    name = re.sub(r"[^A-Za-z0-9-]", "-", job_id).strip("-")[:50]
    return name or "ftsdk"


_ENDPOINT_GPUS = {"ep-aws-useast1-l": 4}  # g4dn.12xlarge: 4 T4; "<n>xl" is n A100s


def processes(backend: str, *, local_gpus: int = 0) -> int:
    """Processes AutoTrain trains with on ``backend``: one per GPU, as its ``accelerate
    launch`` does (``local_gpus`` for ``"local"``); one on a CPU.

    >>> processes("spaces-a10g-largex4"), processes("ep-aws-useast1-2xl"), processes("local")
    (4, 2, 1)
    """
    if backend.startswith("local"):
        return max(1, local_gpus)
    if backend in _ENDPOINT_GPUS:
        return _ENDPOINT_GPUS[backend]
    counted = re.search(r"(?:x(\d+)|-(\d+)xl)$", backend)
    return int(next(g for g in counted.groups() if g)) if counted else 1


def batch_split(method: Mapping[str, Any], *, processes: int = 1) -> dict[str, int] | None:
    """How ``batch_size`` (examples per optimizer step) becomes AutoTrain's per-device
    ``batch_size`` x ``gradient_accumulation`` x ``processes``; ``None`` when the batch is
    left to AutoTrain (its per-device default, with accumulation 1).

    >>> batch_split({"batch_size": 16, "gradient_accumulation_steps": 2}, processes=2)
    {'batch_size': 16, 'per_device_batch_size': 4, 'gradient_accumulation_steps': 2, \
'num_processes': 2}

    :raises InvalidRequest: ``batch_size`` does not divide evenly (field ``method.batch_size``).
    """
    batch = method.get("batch_size")
    if batch in (None, "auto"):
        return None
    accumulation = method.get("gradient_accumulation_steps")
    return split_batch(
        batch,
        processes=processes,
        accumulation=None if accumulation == "auto" else accumulation,
        provider="autotrain",
    ).as_dict()


def training_params(
    method: Mapping[str, Any],
    *,
    model: str,
    data_path: str,
    project: str,
    data_format: DataFormat | None,
    chat: bool,
    seed: int | None,
    options: Mapping[str, Any],
    model_context: int | None = None,
    processes: int = 1,
) -> dict[str, Any]:
    """The ``LLMTrainingParams`` fields for ``method`` (a dumped :class:`ftsdk.SFT`/``DPO``),
    trained by ``processes`` processes (:func:`processes`).

    ``chat`` says the staged data holds message lists (rendered with the tokenizer's chat
    template). Never contains a token: hosted runs add it in the runtime, from ``HF_TOKEN``.

    >>> p = training_params({"type": "sft", "epochs": 2, "batch_size": 8, "adapter": "lora"},
    ...     model="/m", data_path="/d", project="p", data_format=DataFormat.CHAT, chat=True,
    ...     seed=0, options={})
    >>> (p["trainer"], p["epochs"], p["batch_size"], p["gradient_accumulation"], p["peft"])
    ('sft', 2, 8, 1, True)
    """
    kind = method.get("type", "sft")
    params: dict[str, Any] = {
        "model": model,
        "project_name": project,
        "data_path": data_path,
        "train_split": "train",
        "valid_split": None,
        "trainer": kind,
        "mixed_precision": options.get("mixed_precision") or "none",
        "log": "tensorboard",
        "logging_steps": options.get("logging_steps") or -1,
        "save_total_limit": 1,
        "push_to_hub": False,
        "quantization": "none",
        "peft": False,
        "merge_adapter": bool(options.get("merge_adapter")),
        "add_eos_token": True,
        "padding": "right",
        "disable_gradient_checkpointing": not options.get("gradient_checkpointing", False),
    }
    for name, target in _DIRECT.items():
        value = method.get(name)
        if value not in (None, "auto"):
            params[target] = value
    split = batch_split(method, processes=processes)
    accumulation = method.get("gradient_accumulation_steps")
    params["gradient_accumulation"] = 1 if accumulation in (None, "auto") else accumulation
    if split is not None:
        params["batch_size"] = split["per_device_batch_size"]
    adapter = method.get("adapter") or "full"
    if adapter in ("lora", "qlora"):
        params["peft"] = True
        params["target_modules"] = options.get("target_modules") or "all-linear"
    if adapter == "qlora":
        params["quantization"] = "int4"
    context = model_context or DEFAULT_BLOCK_SIZE
    length = method.get("max_seq_length") or min(DEFAULT_BLOCK_SIZE, context)
    params["block_size"] = length
    params["model_max_length"] = max(length, min(context, 2048))
    if seed is not None:
        params["seed"] = seed
    if chat:
        params["chat_template"] = options.get("chat_template") or "tokenizer"
    if kind == "sft":
        params["text_column"] = "text"
    else:
        params |= {
            "text_column": "chosen",
            "rejected_text_column": "rejected",
            "prompt_text_column": "prompt",
            "max_prompt_length": min(length, max(8, length // 2)),
            "max_completion_length": length,
        }
    for name in ("optimizer", "scheduler"):
        if options.get(name):
            params[name] = options[name]
    del data_format  # recorded by the caller; the fields above do not depend on it
    return params


def _messages(value: Any, role: str) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, dict):
        return [value]
    return list(value or [])


def stage_rows(
    examples: Iterable[Mapping[str, Any]], data_format: DataFormat, *, chat_template: bool
) -> tuple[list[dict[str, Any]], bool]:
    """AutoTrain rows for ftsdk examples (already validated), and whether they are chat.

    >>> stage_rows([{"prompt": "2+2=", "completion": "4"}], DataFormat.PROMPT_COMPLETION,
    ...            chat_template=False)
    ([{'text': '2+2=\\n4'}], False)
    """
    from ftsdk.dataset.formats import convert

    rows: list[dict[str, Any]] = []
    if data_format is DataFormat.PREFERENCE:
        chat = None
        for example in examples:
            trl = convert(example, DataFormat.PREFERENCE, DataFormat.PREFERENCE, preference="trl")
            prompt, chosen, rejected = trl.get("prompt"), trl.get("chosen"), trl.get("rejected")
            is_chat = not isinstance(chosen, str)
            chat = is_chat if chat is None else chat
            if is_chat:
                before = _messages(prompt, "user")
                rows.append(
                    {
                        "prompt": "",  # AutoTrain rebuilds it from chosen[:-1]
                        "chosen": before + _messages(chosen, "assistant"),
                        "rejected": before + _messages(rejected, "assistant"),
                    }
                )
            else:
                rows.append({"prompt": prompt or "", "chosen": chosen, "rejected": rejected})
        return rows, bool(chat)
    if data_format is DataFormat.TEXT:
        return [{"text": example["text"]} for example in examples], False
    if data_format is DataFormat.PROMPT_COMPLETION and not chat_template:
        for example in examples:
            rows.append(
                convert(example, DataFormat.PROMPT_COMPLETION, DataFormat.TEXT)  # prompt+completion
            )
        return rows, False
    for example in examples:
        chat_row = (
            convert(example, DataFormat.PROMPT_COMPLETION, DataFormat.CHAT)
            if data_format is DataFormat.PROMPT_COMPLETION
            else example
        )
        rows.append({"text": chat_row["messages"]})
    return rows, True


def stage_data(
    examples: Iterable[Mapping[str, Any]],
    data_format: DataFormat,
    folder: Path,
    *,
    chat_template: bool,
) -> bool:
    """Write ``folder/train.jsonl`` in AutoTrain's layout; return whether it is chat data."""
    rows, chat = stage_rows(examples, data_format, chat_template=chat_template)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "train.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return chat
