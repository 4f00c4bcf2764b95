"""Local generation for ``Model.chat()``: full or merged weights, or a base plus a LoRA adapter."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftsdk.models import ChatParams, ChatResponse, Usage

__all__ = ["Loaded", "chat", "load"]

DEFAULT_MAX_TOKENS = 256


@dataclass
class Loaded:
    """A model and its tokenizer, ready to generate."""

    model: Any
    tokenizer: Any
    device: str


def load(path: Path) -> Loaded:
    """Load the weights in ``path``: a model folder, an adapter folder (its base is read
    from ``adapter_config.json``), or a checkpoint of either."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else None
    adapter_config = path / "adapter_config.json"
    if adapter_config.is_file():
        from peft import PeftModel

        base = json.loads(adapter_config.read_text(encoding="utf-8"))["base_model_name_or_path"]
        base_model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
        model: Any = PeftModel.from_pretrained(base_model, str(path))
        tokenizer_from = path if (path / "tokenizer_config.json").is_file() else Path(base)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
        tokenizer_from = path
    if not (tokenizer_from / "tokenizer_config.json").is_file():  # a checkpoint folder
        spec_file = path.parent.parent / "spec.json"
        if spec_file.is_file():
            tokenizer_from = Path(json.loads(spec_file.read_text(encoding="utf-8"))["model_path"])
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_from))
    model.to(device).eval()
    return Loaded(model=model, tokenizer=tokenizer, device=device)


def chat(
    loaded: Loaded, messages: list[dict[str, Any]], params: ChatParams, *, model_id: str
) -> ChatResponse:
    """Answer ``messages``: greedy unless a temperature above 0 is given."""
    import torch

    tokenizer = loaded.tokenizer
    encoded = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    inputs = {k: v.to(loaded.device) for k, v in encoded.items()}
    sample = bool(params.temperature)
    settings: dict[str, Any] = {
        "max_new_tokens": params.max_tokens or DEFAULT_MAX_TOKENS,
        "do_sample": sample,
        "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if sample:
        settings["temperature"] = params.temperature
        if params.top_p is not None:
            settings["top_p"] = params.top_p
    if params.stop:
        settings["stop_strings"] = params.stop
        settings["tokenizer"] = tokenizer
    if params.seed is not None:
        torch.manual_seed(params.seed)
    with torch.no_grad():
        output = loaded.model.generate(**inputs, **settings)
    prompt_tokens = inputs["input_ids"].shape[1]
    new = output[0][prompt_tokens:]
    finished = len(new) > 0 and int(new[-1]) == tokenizer.eos_token_id
    text = tokenizer.decode(new, skip_special_tokens=True)
    for stop in params.stop or []:
        text = text.split(stop)[0]
    return ChatResponse(
        content=text.strip(),
        model=model_id,
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=len(new)),
        finish_reason="stop" if finished or params.stop else "length",
    )
