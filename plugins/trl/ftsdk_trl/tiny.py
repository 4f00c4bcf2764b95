"""A tiny chat model built offline and deterministically, for tests, the bench and the demo.

A Llama from a config (hidden 64, 2 layers, tied embeddings: ~150k parameters) and a
byte-level BPE tokenizer trained on the spot on the dates-to-words task, with single digits
split and a chat template that marks assistant turns with ``{% generation %}`` and ends each
turn with ``<|im_end|>`` (the EOS), so TRL's assistant-only loss works and the model learns
to stop. Nothing is downloaded::

    from ftsdk_trl import tiny
    path = tiny.build("/tmp/tiny", seed=0)   # a folder AutoModelForCausalLM loads

An untrained tiny model writes the same unprintable byte over and over; :func:`teach` gives
it a few answers to learn by heart in seconds (no TRL job), for tests that need known text.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

__all__ = ["CHAT_TEMPLATE", "build", "ensure", "teach"]

SPECIALS = ["<|pad|>", "<|im_start|>", "<|im_end|>"]

# Assistant content and its end-of-turn token inside {% generation %}: TRL's assistant-only
# loss trains exactly these tokens, the stop token included.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "{{ message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

MARKER = "ftsdk-tiny.json"


def _corpus() -> list[str]:
    from ftsdk.testing.data import SYSTEM, date_to_words

    lines = [SYSTEM, "user", "assistant", "system", "convert to words"]
    day, end = dt.date(1950, 1, 1), dt.date(2049, 12, 31)
    while day <= end:  # every date once: the tokenizer sees every month and year
        lines.append(f"convert {day.isoformat()} to words\n{date_to_words(day)}")
        day += dt.timedelta(days=7)
    return lines


def _tokenizer() -> object:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=core,
        pad_token="<|pad|>",
        eos_token="<|im_end|>",
        bos_token=None,
        model_max_length=256,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build(directory: str | Path, *, seed: int = 0, heads: int = 4) -> Path:
    """Build the tiny model and tokenizer into ``directory`` (created) and return it.

    The same ``seed`` gives the same weights and the same tokenizer. ``heads`` attention
    heads share the hidden size of 64: the default 4 (head_dim 16) is the fastest to
    train; serving engines need head_dim 32 or more (vLLM's CPU attention), so ``heads=2``.
    """
    if heads not in (1, 2, 4):
        raise ValueError(f"heads must be 1, 2 or 4 (a divisor of the hidden size 64), not {heads}")
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer()
    vocab = len(tokenizer)  # type: ignore[arg-type]
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,  # type: ignore[attr-defined]
        eos_token_id=tokenizer.eos_token_id,  # type: ignore[attr-defined]
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = config.pad_token_id
    model.generation_config.eos_token_id = config.eos_token_id
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)  # type: ignore[attr-defined]
    (target / MARKER).write_text(
        json.dumps({"seed": seed, "heads": heads}) + "\n", encoding="utf-8"
    )
    return target


def ensure(directory: str | Path, *, seed: int = 0, heads: int = 4) -> Path:
    """The tiny model in ``directory``, built there first if it is not there yet."""
    target = Path(directory)
    marker = target / MARKER
    if marker.is_file():
        built = json.loads(marker.read_text(encoding="utf-8"))
        if built.get("seed") == seed and built.get("heads", 4) == heads:
            return target
    return build(target, seed=seed, heads=heads)


def teach(
    base: str | Path,
    directory: str | Path,
    conversations: list[list[dict[str, Any]]],
    *,
    max_steps: int = 400,
    seed: int = 0,
) -> Path:
    """Save to ``directory`` a copy of the model in ``base`` that has learnt
    ``conversations`` by heart (the loss on whole conversations, until it is below 0.05 or
    after ``max_steps``): asked a conversation's first turns, it answers with its last one
    under greedy decoding, and then ends its turn. One thread; the same ``seed`` gives the
    same weights.

    >>> # tiny.teach(tiny.build(tmp / "tiny"), tmp / "months",
    >>> #            [[{"role": "user", "content": "months"}, {"role": "assistant", ...}]])
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForCausalLM.from_pretrained(str(base))
    rows = [
        tokenizer.apply_chat_template(c, return_tensors="pt", return_dict=True)["input_ids"]
        for c in conversations
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        model.train()
        for _ in range(max_steps):
            losses = [model(input_ids=row, labels=row).loss for row in rows]
            loss = torch.stack(losses).sum()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            optimizer.zero_grad()
            if loss.item() < 0.05:
                break
    finally:
        torch.set_num_threads(threads)
    target = Path(directory)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
