"""Serve chat for one model: ``python chat.py MODEL_DIR`` (runtime venv, transformers 4.48).

Loads the weights (full, merged, or a LoRA adapter on its base) once, prints
``{"ready": true}``, then answers one JSON request a line on stdin with one JSON line on
stdout: ``{"messages", "max_tokens", "temperature", "top_p", "seed", "stop"}`` →
``{"content", "prompt_tokens", "completion_tokens", "finish_reason"}`` (or ``{"error"}``).
Greedy unless a temperature above 0 is given, as ftsdk's TRL provider.
"""

import json
import os
import sys

DEFAULT_MAX_TOKENS = 64


def load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = os.path.join(path, "adapter_config.json")
    if os.path.isfile(adapter) and not os.path.isfile(os.path.join(path, "config.json")):
        from peft import PeftModel

        with open(adapter, encoding="utf-8") as handle:
            base = json.load(handle)["base_model_name_or_path"]
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), path)
    else:
        model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return model.float().eval(), tokenizer


def answer(model, tokenizer, request):
    import torch

    encoded = tokenizer.apply_chat_template(
        request["messages"], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    encoded.pop("token_type_ids", None)  # some fast tokenizers add it; Llama refuses it
    sample = bool(request.get("temperature")) and request.get("top_p") != 0  # 0: greedy
    settings = {
        "max_new_tokens": request.get("max_tokens") or DEFAULT_MAX_TOKENS,
        "do_sample": sample,
        "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if sample:
        settings["temperature"] = request["temperature"]
        if request.get("top_p") is not None:
            settings["top_p"] = request["top_p"]
    if request.get("seed") is not None:
        torch.manual_seed(request["seed"])
    with torch.no_grad():
        output = model.generate(**encoded, **settings)
    prompt_tokens = encoded["input_ids"].shape[1]
    new = output[0][prompt_tokens:]
    finished = len(new) > 0 and int(new[-1]) == tokenizer.eos_token_id
    text = tokenizer.decode(new, skip_special_tokens=True)
    for stop in request.get("stop") or []:
        text = text.split(stop)[0]
    return {
        "content": text.strip(),
        "prompt_tokens": int(prompt_tokens),
        "completion_tokens": len(new),
        "finish_reason": "stop" if finished or request.get("stop") else "length",
    }


def main():
    model, tokenizer = load(sys.argv[1])
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = answer(model, tokenizer, json.loads(line))
        except Exception as err:  # reported to the caller, the server goes on
            reply = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
