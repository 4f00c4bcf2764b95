"""Local generation for ``Model.chat()`` and ``Model.stream()``: full or merged weights, or a
base plus a LoRA adapter."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftsdk.models import ChatChunk, ChatParams, ChatResponse, Usage

__all__ = ["Loaded", "chat", "load", "stream"]

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

    inputs, settings = _generation(loaded, messages, params)
    with torch.no_grad():
        output = loaded.model.generate(**inputs, **settings)
    content, usage, finish_reason = _answer(loaded, inputs, output, params)
    return ChatResponse(content=content, model=model_id, usage=usage, finish_reason=finish_reason)


def stream(
    loaded: Loaded, messages: list[dict[str, Any]], params: ChatParams, *, model_id: str
) -> Iterator[ChatChunk]:
    """Answer ``messages`` as :func:`chat` does, a piece at a time as it is written.

    ``generate`` runs in a thread and writes into a ``TextIteratorStreamer``; the pieces
    add up to :func:`chat`'s content (trailing space, and text a ``stop`` string may still
    cut, wait for what follows), and the last chunk carries its usage and finish reason.
    Closing the generator stops ``generate`` at the next token and joins the thread; an
    error in the thread is raised here, to the reader.
    """
    from transformers import StoppingCriteriaList, TextIteratorStreamer

    inputs, settings = _generation(loaded, messages, params)
    stop = threading.Event()
    streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
    settings["streamer"] = streamer
    settings["stopping_criteria"] = StoppingCriteriaList([_stop_when_set(stop)])
    outcome: dict[str, Any] = {}

    def generate() -> None:
        import torch

        try:
            with torch.no_grad():  # grad mode is per thread
                outcome["output"] = loaded.model.generate(**inputs, **settings)
        except BaseException as err:  # raised again in the reader's thread
            outcome["error"] = err
            # generate stopped without ending the stream: end it, or the reader waits forever
            streamer.end()  # type: ignore[no-untyped-call]

    thread = threading.Thread(target=generate, name="ftsdk-trl-generate", daemon=True)
    thread.start()
    written, sent = "", ""
    try:
        for piece in streamer:
            written += piece
            ready = _ready(written, params.stop)
            if len(ready) > len(sent):
                yield ChatChunk(content=ready[len(sent) :], model=model_id)
                sent = ready
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        content, usage, finish_reason = _answer(loaded, inputs, outcome["output"], params)
        # The rest of the answer decoded from all its tokens at once, exactly as chat
        # gives it; what was sent is its start (the streamer decodes the same tokens).
        rest = content[len(sent) :] if content.startswith(sent) else ""
        yield ChatChunk(content=rest, finish_reason=finish_reason, usage=usage, model=model_id)
    finally:
        stop.set()
        thread.join()


def _generation(
    loaded: Loaded, messages: list[dict[str, Any]], params: ChatParams
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The prompt's tensors and ``generate``'s settings for ``params``."""
    import torch

    tokenizer = loaded.tokenizer
    encoded = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    inputs = {k: v.to(loaded.device) for k, v in encoded.items()}
    sample = bool(params.temperature) and params.top_p != 0  # top_p 0: the likeliest token
    settings: dict[str, Any] = {
        "max_new_tokens": _room(loaded, inputs["input_ids"].shape[1], params.max_tokens),
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
    return inputs, settings


def context_length(loaded: Loaded) -> int | None:
    """Tokens the model reads at most (prompt and answer), from its config and tokenizer."""
    config = getattr(loaded.model, "config", None)
    known = [
        getattr(config, name, None)
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length")
    ]
    known.append(getattr(loaded.tokenizer, "model_max_length", None))
    sizes = [size for size in known if isinstance(size, int) and 0 < size < 10**8]
    return min(sizes) if sizes else None


def _room(loaded: Loaded, prompt_tokens: int, asked: int | None) -> int:
    """New tokens to generate: as asked, capped by what the model's context leaves after
    the prompt (a request for a million tokens ends where the model must end anyway)."""
    from ftsdk.errors import InvalidRequest

    wanted = asked or DEFAULT_MAX_TOKENS
    context = context_length(loaded)
    if context is None:
        return wanted
    if prompt_tokens >= context:
        raise InvalidRequest(
            f"messages: the conversation is {prompt_tokens:,} tokens; this model reads at "
            f"most {context:,} (prompt and answer together): shorten it",
            field="messages",
        )
    return min(wanted, context - prompt_tokens)


def _answer(
    loaded: Loaded, inputs: dict[str, Any], output: Any, params: ChatParams
) -> tuple[str, Usage, str]:
    """The answer's text, usage and finish reason from ``generate``'s output."""
    tokenizer = loaded.tokenizer
    prompt_tokens = inputs["input_ids"].shape[1]
    new = output[0][prompt_tokens:]
    finished = len(new) > 0 and int(new[-1]) == tokenizer.eos_token_id
    text = _cut(tokenizer.decode(new, skip_special_tokens=True), params.stop)
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=len(new))
    return text.strip(), usage, "stop" if finished or params.stop else "length"


def _cut(text: str, stop: list[str] | None) -> str:
    """``text`` up to the first ``stop`` string."""
    for string in stop or []:
        text = text.split(string, maxsplit=1)[0]
    return text


def _ready(written: str, stop: list[str] | None) -> str:
    """What of the text ``written`` so far is sure to begin the answer: cut at a ``stop``
    string and stripped as the answer is, less trailing space and any end that may
    become a ``stop`` string with the next piece.

    >>> _ready("  March 7, 20", ["2024"])
    'March 7,'
    >>> _ready("  March 7, 2024 or so", ["2024"])
    'March 7,'
    """
    text = _cut(written, stop)
    if text == written:  # no stop string yet: hold back what may start one
        held = max(
            (
                size
                for string in stop or []
                for size in range(1, min(len(string) - 1, len(text)) + 1)
                if string.startswith(text[-size:])
            ),
            default=0,
        )
        text = text[: len(text) - held]
    return text.strip()


def _stop_when_set(event: threading.Event) -> Any:
    """A ``StoppingCriteria`` that ends ``generate`` once ``event`` is set (checked after
    each token)."""
    import torch
    from transformers import StoppingCriteria

    class StopWhenSet(StoppingCriteria):
        def __init__(self) -> None:
            self.event = event

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), self.event.is_set(), device=input_ids.device)

    return StopWhenSet()
